"""A hostile mock site: what can be got is got and decoded right; what cannot is counted and explained."""

from __future__ import annotations

import codecs
import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from newsspider.archive.reader import latest_captures
from newsspider.core import stats as keys
from newsspider.demo.pages import DemoSite
from newsspider.extract import site
from newsspider.memory.sqlite import read_runs
from newsspider.spiders.bannedbook import LISTING_ROOT, BannedbookSpider
from tests.conftest import crawl, read_jsonl
from tests.mockserver import MockServer

# One worker runs this module (the hostile sites' crawls, made once for the module).
pytestmark = pytest.mark.xdist_group("faults")

PUBLIC_IDS = {str(a.article_id) for a in DemoSite().public_articles()}
FAULTS = "/bnews/faults/20240801/"
HOSTILE = ["-s", "DOWNLOAD_TIMEOUT=1", "-s", "RETRY_TIMES=2", "-s", "DOWNLOAD_MAXSIZE=200000"]


def article(title: str, paragraphs: list[str], charset: str | None = "utf-8",
            site_name: str = "禁闻网") -> str:
    meta = f'<meta http-equiv="Content-Type" content="text/html; charset={charset}" />' if charset else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<html><head>{meta}<title>{title} - {site_name}</title></head><body><h2>{title}</h2>"
            f'<div class="entry">{body}</div></body></html>')


# id -> (what it is, HTTP Content-Type, page bytes, the title and body it must be stored with)
RECOVERABLE: dict[int, tuple[str, str, bytes, str, str]] = {
    7000002: ("GBK, charset only in <meta>", "text/html",
              article("朱镕基谈经济", ["国务院总理朱镕基说，经济要稳。"], "gbk").encode("gbk"),
              "朱镕基谈经济", "国务院总理朱镕基说，经济要稳。"),
    7000003: ("Big5, charset only in <meta>", "text/html",
              article("中國新聞自由", ["香港記者協會發表聲明。"], "big5", "禁聞網").encode("big5"),
              "中國新聞自由", "香港記者協會發表聲明。"),
    7000004: ("GB2312 declared, with a GBK-only character", "text/html",
              article("镕基与新闻", ["中国新闻。"], "gb2312").encode("gbk"), "镕基与新闻", "中国新闻。"),
    7000005: ("UTF-8 page sent as ISO-8859-1", "text/html; charset=iso-8859-1",
              article("错误的字符集", ["正文是UTF-8。"], None).encode(), "错误的字符集", "正文是UTF-8。"),
    7000006: ("GBK page sent as UTF-8, <meta> says gbk", "text/html; charset=utf-8",
              article("声明与实际", ["头部说UTF-8，其实是GBK。"], "gbk").encode("gbk"),
              "声明与实际", "头部说UTF-8，其实是GBK。"),
    7000007: ("entities, &nbsp; and <br>", "text/html; charset=utf-8",
              article("实体&amp;空格", ["甲&nbsp;乙 &lt;丙&gt;<br>第二行", "&#20013;&#22269;"]).encode(),
              "实体&空格", "甲 乙 <丙>\n第二行\n\n中国"),
    7000008: ("unclosed <p> and <div>", "text/html; charset=utf-8",
              "<html><body><h2>未闭合</h2><div class='entry'><p>第一<p>第二<div class='x'>广告</div>"
              .encode(),
              "未闭合", "第一\n\n第二"),
    7000009: ("UTF-16 with a byte order mark, sent as UTF-8", "text/html; charset=utf-8",
              codecs.BOM_UTF16_LE + article("字节顺序标记", ["UTF-16的页面。"]).encode("utf-16-le"),
              "字节顺序标记", "UTF-16的页面。"),
    7000019: ("an og:image that is not a web URL", "text/html; charset=utf-8",
              article("坏的图片", ["只丢掉图片。"]).replace(
                  "<head>", '<head><meta property="og:image" content="javascript:alert(1)">').encode(),
              "坏的图片", "只丢掉图片。"),
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("data")
    with MockServer() as server:
        server.sitemaps("off")  # the listings' own bounds are tested here (a sitemap ends the endless one)
        demo = DemoSite()
        seed, tagged = demo.articles[2054421], demo.articles[1254645]
        # Recovered by retrying.
        server.fault("/bnews/itnews/20240625/2054368.html", "status", status=503, times=1, retry_after="1")
        server.fault("/bnews/cnnews/20240624/2053926.html", "status", status=500, times=1)
        server.fault(tagged.path, "status", status=429, times=1, retry_after="1")
        server.fault("/bnews/headline/20200107/1254593.html", "close", times=1)
        server.fault("/bnews/comments/20200107/1254520.html", "slow", delay=2.5, times=1)
        # A shortlink redirecting twice before the article.
        server.fault("/?p=7000001", "redirect", location="{root}/go/7000001")
        server.fault("/go/7000001", "redirect", location="{root}" + FAULTS + "7000001.html")
        server.fault(FAULTS + "7000001.html", "page", content_type="text/html; charset=utf-8",
                     body=article("经两次跳转到达", ["短链接跳转两次。"]).encode())
        for article_id, (_, content_type, body, _, _) in RECOVERABLE.items():
            server.fault(f"{FAULTS}{article_id}.html", "page", body=body, content_type=content_type)
        # Cannot be got.
        server.fault(FAULTS + "7000010.html", "status", status=500)
        server.fault(FAULTS + "7000012.html", "stall")
        server.fault("/?p=7000013", "redirect", location="{root}/loop/a")
        server.fault("/loop/a", "redirect", location="{root}/loop/b")
        server.fault("/loop/b", "redirect", location="{root}/loop/a")
        server.fault("/?p=7000014", "redirect", location="{other}" + seed.path)
        server.fault(FAULTS + "7000015.html", "page", content_type="image/png",
                     body=b"\x89PNG\r\n\x1a\n" * 50)
        server.fault(FAULTS + "7000016.html", "page", content_type="text/html; charset=utf-8",
                     body=article("很大的页面", ["大" * 200_000]).encode())
        # Stored never: a page with no div.entry, an empty page.
        server.fault(FAULTS + "7000017.html", "page", content_type="text/html; charset=utf-8",
                     body="<html><head><title>没有正文 - 禁闻网</title></head><body><h2>没有正文</h2>"
                          "<p>正文不在div.entry里。</p></body></html>".encode())
        server.fault(FAULTS + "7000018.html", "page", content_type="text/html; charset=utf-8", body=b"")
        # Traps.
        server.fault("/bnews/endless/", "endless")
        links = [f"{FAULTS}{i}.html" for i in [*RECOVERABLE, 7000010, 7000011, 7000012, 7000015, 7000016,
                                                7000017, 7000018]]
        links += ["/?p=7000001", "/?p=7000013", "/?p=7000014", "/bnews/endless/", "/bnews/2024/01/01/",
                  "/bnews/calendar/?month=2024-02", "mailto:x@example.org", "javascript:alert(1)",
                  "http://localhost:1/bnews/", "ftp://127.0.0.1/x"]
        hub = "".join(f'<div class="postlist"><h4><a href="{link}">{link}</a></h4></div>' for link in links)
        server.fault("/bnews/faults/", "page", content_type="text/html; charset=utf-8",
                     body=f"<html><body>{hub}</body></html>".encode())

        result = crawl(server, data_dir, "--start-url", server.url("/bnews/faults/"), *HOSTILE)
        yield result, read_jsonl(data_dir / "articles.jsonl"), server.requests(), data_dir


def test_the_crawl_goes_on_and_exits_zero(hostile) -> None:
    result, _, _, _ = hostile
    assert result.returncode == 0, result.stderr


def test_everything_recoverable_is_stored_once_and_decoded(hostile) -> None:
    _, records, _, _ = hostile
    ids = Counter(r["article_id"] for r in records)
    assert max(ids.values()) == 1
    expected = PUBLIC_IDS | {str(i) for i in RECOVERABLE} | {"7000001"}
    assert set(ids) == expected
    by_id = {r["article_id"]: r for r in records}
    for article_id, (what, _, _, title, body) in RECOVERABLE.items():
        assert (by_id[str(article_id)]["title"], by_id[str(article_id)]["body"]) == (title, body), what
    assert by_id["7000001"]["title"] == "经两次跳转到达"
    assert by_id["1254645"]["tags"][0] == "贸易战"  # the 429 page, after waiting as asked


def test_what_cannot_be_got_is_counted_by_reason(hostile) -> None:
    result, _, _, data_dir = hostile
    summary = next(line for line in result.stdout.splitlines() if line.startswith("Crawl finished:"))
    expected = {"http_500": 1, "http_404": 1, "timeout": 1, "redirect_loop": 1, "offsite_redirect": 1,
                "not_html": 1, "too_large": 1}
    for reason, count in expected.items():
        assert f"{reason} {count}" in summary, summary
    assert f"{sum(expected.values())} failed" in summary
    assert "2 dropped" in summary
    run = read_runs(data_dir)[-1]
    assert json.loads(run.failures) == expected and run.failed == sum(expected.values())
    assert run.dropped == 2


def test_failed_urls_and_drop_reasons_are_in_the_log(hostile) -> None:
    result, _, requests, _ = hostile
    log = result.stderr
    root = "http://" + requests[0]["host"]
    for reason, article_id in (("http_500", 7000010), ("http_404", 7000011), ("timeout", 7000012),
                               ("not_html", 7000015), ("too_large", 7000016)):
        assert f"failed ({reason}): {root}{FAULTS}{article_id}.html" in log
    assert "failed (redirect_loop): " in log and "failed (offsite_redirect): " in log
    assert "missing body: http://127.0.0.1:" in log and f"{FAULTS}7000017.html" in log
    assert f"{FAULTS}7000018.html" in log


def test_never_leaves_the_site_never_loops_and_stays_bounded(hostile) -> None:
    _, _, requests, _ = hostile
    paths = [r["path"] for r in requests]
    assert {r["host"] for r in requests} == {requests[0]["host"]}
    assert not [p for p in paths if p.startswith(("/bnews/private/", "/bnews/zh-tw/", "/bnews/2024/"))]
    assert not [p for p in paths if "calendar" in p]
    endless = [p for p in paths if p.startswith("/bnews/endless/")]
    assert 2 <= len(endless) <= 8, endless  # stopped by NEWSSPIDER_MAX_STALE_PAGES
    assert Counter(paths)["/loop/a"] == 1 and Counter(paths)["/loop/b"] == 1
    article_fetches = Counter(p for p in paths if site.ARTICLE_PATH.match(p))
    retried = {"/bnews/itnews/20240625/2054368.html", "/bnews/cnnews/20240624/2053926.html",
               "/bnews/cbnews/20200107/1254645.html", "/bnews/headline/20200107/1254593.html",
               "/bnews/comments/20200107/1254520.html"}
    assert {p: n for p, n in article_fetches.items() if n > 1 and p not in retried} == {
        f"{FAULTS}7000010.html": 3, f"{FAULTS}7000012.html": 3}  # RETRY_TIMES=2: three tries


def test_max_listing_pages_bounds_an_endless_listing(mockserver: MockServer, tmp_path: Path) -> None:
    mockserver.sitemaps("off")  # with them, the sitemaps' rule ends the endless listing at its first page
    mockserver.fault("/bnews/endless/", "endless")
    result = crawl(mockserver, tmp_path, "--start-url", mockserver.url("/bnews/endless/"),
                   "-s", "NEWSSPIDER_MAX_STALE_PAGES=1000", "-s", "NEWSSPIDER_MAX_LISTING_PAGES=12")
    assert result.returncode == 0, result.stderr
    endless = [r["path"] for r in mockserver.requests() if r["path"].startswith("/bnews/endless/")]
    assert len(endless) == 12


def test_a_listing_trap_of_ever_new_sub_listings_ends_by_itself(mockserver: MockServer,
                                                                tmp_path: Path) -> None:
    """Listings that list nothing new but link to ever-new listings, deeper (``/bnews/trap/s1/s4/…``)
    and beside them (``/bnews/trap5/``): no pagination bound stops them; the crawl ends by itself all
    the same, having stored the site's articles, and says why it left the trap."""
    mockserver.fault("/bnews/trap", "sprawl", location="/bnews/trap{n}/")
    result = crawl(mockserver, tmp_path, "--start-url", mockserver.url("/bnews/trap/"),
                   "-s", "NEWSSPIDER_MAX_LISTING_PAGES=5", "-s", "CLOSESPIDER_PAGECOUNT=1000", "--no-warc")
    assert result.returncode == 0, result.stderr
    assert "Crawl finished:" in result.stdout, result.stdout  # not stopped by the page count
    trap = [r["path"] for r in mockserver.requests() if r["path"].startswith("/bnews/trap")]
    # the first page (new articles) leads to 3 listings; the first 20 (NEWSSPIDER_MAX_BARREN_LISTINGS)
    # barren pages below it to 3 each; past them, none; and no listing is deeper than the site's
    assert len(trap) <= 1 + 3 + 20 * 3, sorted(trap)
    assert max(p.count("/") - 2 for p in trap) == site.MAX_CATEGORY_DEPTH, sorted(trap)  # /bnews/a/b/c/
    assert {r["article_id"] for r in read_jsonl(tmp_path / "articles.jsonl")} == PUBLIC_IDS
    # said once, at the end: what the bound left unfollowed (a site whose listings are all reached
    # another way, the demo's, gets no such line: tests/test_docs.py)
    warned = re.findall(r"WARNING (\d+) listings were linked only from listing pages that listed nothing "
                        r"new, and were not followed \(a listing trap\?", result.stderr)
    assert len(warned) == 1 and int(warned[0]) > 0, result.stderr


def trap_page(url: str, links: list[str], request: Request) -> HtmlResponse:
    """A listing page of the trap: the same three articles, and *links* to other listings."""
    items = "".join(f'<div class="postlist"><h4><a href="/bnews/itnews/20240101/{i}.html">{i}</a></h4></div>'
                    for i in (1, 2, 3))
    more = "".join(f'<a href="{link}">{link}</a>' for link in links)
    return HtmlResponse(url, body=f"<html><body>{items}{more}</body></html>".encode(), encoding="utf-8",
                        request=request)


def test_barren_listings_are_counted_and_past_the_budget_lead_to_no_other_listing() -> None:
    crawler = get_crawler(BannedbookSpider, {"NEWSSPIDER_MAX_BARREN_LISTINGS": 2, "NEWSSPIDER_REFRESH": True,
                                             "NEWSSPIDER_MAX_STALE_PAGES": 5})
    crawler.stats.open_spider()
    root = "http://127.0.0.1/bnews/trap/"
    spider = BannedbookSpider.from_crawler(crawler, start_urls=[root])
    spider.configure()

    def parse(request: Request, links: list[str]) -> list[Request]:
        return [r for r in spider.parse(trap_page(request.url, links, request)) if isinstance(r, Request)]

    first = parse(Request(root), ["/bnews/trap/a/", "/bnews/trap/b/", "/bnews/trap/c/"])
    listings = [r for r in first if r.url.startswith(root)]
    assert [r.meta[LISTING_ROOT] for r in listings] == [root] * 3  # the first page lists new articles
    assert crawler.stats.get_value(keys.BARREN_LISTING_PAGES) is None
    for n, request in enumerate(listings):  # barren: the same articles again
        found = parse(request, [f"{request.url}x{n}/", f"/bnews/trap{n}/", f"{request.url}page/2/"])
        assert crawler.stats.get_value(keys.BARREN_LISTING_PAGES) == n + 1
        urls = [r.url for r in found]
        if n < 2:  # within the budget (2): followed, under the same root
            assert urls == [f"{request.url}x{n}/", f"{root[:-1]}{n}/", f"{request.url}page/2/"]
            assert {r.meta[LISTING_ROOT] for r in found} == {root}
        else:  # past it: only the listing's own pagination
            assert urls == [f"{request.url}page/2/"]
            assert crawler.stats.get_value(keys.skipped("barren_listings")) == 2


def test_a_time_bound(mockserver: MockServer, tmp_path: Path) -> None:
    mockserver.fault("/bnews/endless/", "endless")
    result = crawl(mockserver, tmp_path, "--start-url", mockserver.url("/bnews/endless/"),
                   "-s", "NEWSSPIDER_MAX_STALE_PAGES=100000", "-s", "DOWNLOAD_DELAY=0.05",
                   "-s", "CLOSESPIDER_TIMEOUT=2")
    assert result.returncode == 0, result.stderr
    assert "Crawl stopped at CLOSESPIDER_TIMEOUT:" in result.stdout


BAD_LINK = "http://[::1/bnews/cnnews/20240101/1.html"
# Planted on every page of the site: a related link, a listing item and a "next page" link that
# are not URLs, a <base> that is not one, and links to a port out of range.
PLANTED = {
    "<ul class='op-related-articles' title='相关阅读'>":
        f"<ul class='op-related-articles' title='相关阅读'><li><a href='{BAD_LINK}'>坏链接</a></li>"
        "<li><a href='http://127.0.0.1:99999/bnews/a/20240101/2.html'>端口</a></li>",
    '<h2 class="pagetitle">':
        f'<div class="postlist"><h4><a href="{BAD_LINK}">坏条目</a></h4></div><h2 class="pagetitle">',
    '<link rel="next" href="': '<link rel="next" href="http://[::1/page/2/" /><link rel="next" href="',
    "<head>": '<head><base href="http://[::1/" />',
}


@pytest.fixture(scope="module")
def bad_links(tmp_path_factory: pytest.TempPathFactory):
    """A crawl of the demo site with unparseable links planted on every page."""
    clean_dir, data_dir = tmp_path_factory.mktemp("clean"), tmp_path_factory.mktemp("data")
    with MockServer() as server:
        assert crawl(server, clean_dir).returncode == 0
        for old, new in PLANTED.items():
            server.rewrite(old, new)
        result = crawl(server, data_dir)
        yield result, read_jsonl(clean_dir / "articles.jsonl"), read_jsonl(data_dir / "articles.jsonl")


def test_a_bad_link_loses_that_link_only(bad_links) -> None:
    result, clean, records = bad_links
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    by_id = {r["article_id"]: r for r in records}
    assert set(by_id) == PUBLIC_IDS and len(records) == len(PUBLIC_IDS), "an article was lost"
    for expected in clean:  # every field as without the bad links, the related lists included
        got = {k: v for k, v in by_id[expected["article_id"]].items() if k not in ("crawled_at", "warc")}
        assert got == {k: v for k, v in expected.items() if k not in ("crawled_at", "warc")}


def test_bad_links_are_counted_per_page(bad_links) -> None:
    result, _, _ = bad_links
    left_out = [line for line in result.stderr.splitlines() if " left out of " in line]
    assert len(left_out) >= len(PUBLIC_IDS)  # every article page, and the listings
    assert all(re.search(r"left out of http://\S+: \d+ bad_url$", line) for line in left_out), left_out[:3]


def test_retry_after_pauses_the_whole_site(mockserver: MockServer, tmp_path: Path) -> None:
    path = "/bnews/itnews/20240625/2054368.html"
    mockserver.fault(path, "status", status=503, times=1, retry_after="3")
    result = crawl(mockserver, tmp_path)
    assert result.returncode == 0, result.stderr
    log = mockserver.requests()
    asked = next(r["time"] for r in log if r["path"] == path and r.get("fault"))
    # Requests already on their way may arrive just after the 503, and a busy crawler takes a moment
    # to read it (CI measured 0.5 s); none may be sent during the rest of the 3 s wait.
    during = [r["path"] for r in log if asked + 1.0 < r["time"] < asked + 2.5]
    assert during == [], "requests went on flowing while the site asked to wait"
    assert [r["path"] for r in log].count(path) == 2
    assert "2054368" in {r["article_id"] for r in read_jsonl(tmp_path / "articles.jsonl")}


def test_no_wait_after_the_last_retry(mockserver: MockServer, tmp_path: Path) -> None:
    path = "/bnews/itnews/20240625/2054368.html"
    mockserver.fault(path, "status", status=503, retry_after="2")
    result = crawl(mockserver, tmp_path, "-s", "RETRY_TIMES=1")
    assert result.returncode == 0, result.stderr
    assert [r["path"] for r in mockserver.requests()].count(path) == 2
    assert result.stderr.count("answered 503 with Retry-After: pausing") == 1
    assert f"failed (http_503): {mockserver.url(path)}" in result.stderr


@pytest.fixture(scope="module")
def hostile_pages(tmp_path_factory: pytest.TempPathFactory):
    """A crawl of pages built to hurt: 100,000 links, deep nesting, a decompression bomb."""
    data_dir = tmp_path_factory.mktemp("data")
    with MockServer() as server:
        many = "".join(f'<a href="/wp-content/{n}.css">{n}</a>' for n in range(100_000))
        server.fault(FAULTS + "7000020.html", "page", content_type="text/html; charset=utf-8",
                     body=article("很多链接", ["链接很多。"]).replace("</div>", many + "</div>").encode())
        nested = article("嵌套很深", ["开头。", "<div>" * 1000 + "深处。" + "</div>" * 1000, "结尾。"])
        server.fault(FAULTS + "7000021.html", "page", content_type="text/html; charset=utf-8",
                     body=nested.encode())
        too_deep = article("嵌套太深", ["开头。", "<div>" * 3000 + "深处。" + "</div>" * 3000, "结尾。"])
        server.fault(FAULTS + "7000022.html", "page", content_type="text/html; charset=utf-8",
                     body=too_deep.encode())
        bomb = gzip.compress(b"<html>" + b" " * 20_000_000 + b"</html>")  # 8 MB is DOWNLOAD_MAXSIZE
        server.fault(FAULTS + "7000023.html", "page", content_type="text/html", encoding="gzip", body=bomb)
        hub = "".join(f'<div class="postlist"><h4><a href="{FAULTS}{i}.html">{i}</a></h4></div>'
                      for i in range(7000020, 7000024))
        server.fault("/bnews/faults/", "page", content_type="text/html; charset=utf-8",
                     body=f"<html><body>{hub}</body></html>".encode())
        result = crawl(server, data_dir, "--start-url", server.url("/bnews/faults/"))
        records = {r["article_id"]: r for r in read_jsonl(data_dir / "articles.jsonl")}
        yield server.root, result, records, data_dir


def test_a_page_of_100000_links_reads_a_bounded_number(hostile_pages) -> None:
    root, result, records, _ = hostile_pages
    assert result.returncode == 0, result.stderr
    assert records["7000020"]["body"] == "链接很多。"
    assert f"left out of {root}{FAULTS}7000020.html: 98000 links_over_limit" in result.stderr


def test_deep_nesting_keeps_the_body_or_says_what_was_lost(hostile_pages) -> None:
    root, result, records, _ = hostile_pages
    assert records["7000021"]["body"] == "开头。\n\n结尾。"  # 1000 levels: nothing lost
    assert records["7000022"]["body"].startswith("开头。")
    assert f"left out of {root}{FAULTS}7000022.html: 1 too_deep" in result.stderr


def test_a_decompression_bomb_is_too_large(hostile_pages) -> None:
    root, result, _, data_dir = hostile_pages
    assert f"failed (too_large): {root}{FAULTS}7000023.html" in result.stderr
    assert "1 failed (too_large 1)" in result.stdout
    captures = latest_captures(data_dir)  # a page the crawl refused is not kept as if it were the article
    assert f"{root}{FAULTS}7000023.html" not in captures and f"{root}{FAULTS}7000022.html" in captures
