"""Whole crawls of the mock site (a real HTTP server on 127.0.0.1) through the real command."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from scrapy.utils.misc import is_generator_with_return_value

from newsspider.demo.pages import DemoSite
from newsspider.extract import site
from newsspider.spiders.bannedbook import BannedbookSpider
from tests.conftest import FAST, FIXTURES, REPO, crawl, read_jsonl, run_cli
from tests.mockserver import MockServer

# One worker runs this module (one crawl of the mock site for the module).
pytestmark = pytest.mark.xdist_group("crawl")

UA = "newsspider-tests/1 (+local)"


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory):
    """One crawl of the mock site shared by the assertions below."""
    data_dir = tmp_path_factory.mktemp("data")
    with MockServer() as server:
        result = crawl(server, data_dir, "-s", f"USER_AGENT={UA}",
                       "-s", "NEWSSPIDER_PROGRESS_INTERVAL=0.2")
        yield server.root, result, read_jsonl(data_dir / "articles.jsonl"), server.requests()


def test_crawl_exits_zero_with_summary(crawled) -> None:
    _, result, records, _ = crawled
    assert result.returncode == 0, result.stderr
    assert "Crawl finished: " in result.stdout
    assert f"{len(records)} stored" in result.stdout
    assert "progress:" in result.stderr  # progress lines while it runs


def test_every_article_stored_exactly_once(crawled) -> None:
    _, _, records, _ = crawled
    ids = [r["article_id"] for r in records]
    expected = {str(a.article_id) for a in DemoSite().public_articles()}
    assert len(ids) == len(set(ids))
    assert set(ids) == expected
    assert len(expected) >= 40


def test_records_are_canonical_and_on_the_start_host(crawled) -> None:
    root, _, records, _ = crawled
    for record in records:
        assert record["url"].startswith(root + "/bnews/")
        assert "utm_" not in record["url"] and "#" not in record["url"]
        assert "/zh-tw/" not in record["url"]
        assert site.article_parts(record["url"])[0] == record["article_id"]
        assert all("utm_" not in u and "#" not in u for u in record["related_urls"])


def test_seed_article_crawled_like_the_saved_page(crawled) -> None:
    root, _, records, _ = crawled
    expected = json.loads((FIXTURES / "article-openai-china-api.expected.json").read_text("utf-8"))
    expected = json.loads(json.dumps(expected).replace("https://www.bannedbook.org", root))
    record = next(r for r in records if r["article_id"] == "2054421")
    record.pop("crawled_at")
    assert record.pop("warc")["file"].startswith("warc/")  # where its page is archived (not extraction)
    expected.pop("warc")
    assert record == expected


def test_article_pages_fetched_once_and_nothing_forbidden(crawled) -> None:
    _, _, _, requests = crawled
    paths = [r["path"] for r in requests]
    article_paths = Counter(p for p in paths if site.ARTICLE_PATH.match(p))
    assert article_paths and max(article_paths.values()) == 1
    assert not [p for p in paths if p.startswith("/bnews/zh-tw/")], "followed the mirror"
    assert not [p for p in paths if p.startswith("/bnews/private/")], "ignored robots.txt"
    assert not [p for p in paths if "utm_" in p or "feed" in p or "?s=" in p or "forum" in p]
    assert "/robots.txt" in paths
    assert {r["host"] for r in requests} == {requests[0]["host"]}, "left the start host"
    assert requests[0]["host"].startswith("127.0.0.1:")


def test_settings_overrides_reach_the_crawl(crawled) -> None:
    _, _, _, requests = crawled
    assert {r["user_agent"] for r in requests} == {UA}


def test_polite_defaults_name_the_project(site_server: MockServer, tmp_path: Path) -> None:
    result = crawl(site_server, tmp_path, "-s", "NEWSSPIDER_MAX_LISTING_PAGES=1",
                   "-s", "CLOSESPIDER_PAGECOUNT=5")
    assert result.returncode == 0, result.stderr
    agents = {r["user_agent"] for r in site_server.requests()}
    assert len(agents) == 1 and agents.pop().startswith("newsspider/")


def test_max_listing_pages_setting(site_server: MockServer, tmp_path: Path) -> None:
    result = crawl(site_server, tmp_path, "-s", "NEWSSPIDER_MAX_LISTING_PAGES=1")
    assert result.returncode == 0, result.stderr
    assert not [r for r in site_server.requests() if re.search(r"/page/\d+/", r["path"])]


def test_second_crawl_adds_nothing(site_server: MockServer, tmp_path: Path) -> None:
    assert crawl(site_server, tmp_path).returncode == 0
    before = (tmp_path / "articles.jsonl").read_bytes()
    result = crawl(site_server, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "articles.jsonl").read_bytes() == before
    assert " 0 stored" in result.stdout


def test_start_urls_of_articles_shortlinks_and_mirror(site_server: MockServer, tmp_path: Path) -> None:
    result = crawl(site_server, tmp_path, "-s", "NEWSSPIDER_MAX_LISTING_PAGES=1",
                   "--start-url", site_server.url("/?p=2054421"),
                   "--start-url", site_server.url("/bnews/zh-tw/itnews/20240626/2054421.html"))
    assert result.returncode == 0, result.stderr
    ids = [r["article_id"] for r in read_jsonl(tmp_path / "articles.jsonl")]
    assert ids.count("2054421") == 1
    assert not [r for r in site_server.requests() if r["path"].startswith("/bnews/zh-tw/")]


def test_scrapy_crawl_inside_the_repo(site_server: MockServer, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "bannedbook", "-a",
         f"start_urls={site_server.url('/bnews/')}", "-s", f"NEWSSPIDER_DATA_DIR={tmp_path}", *FAST],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "'finish_reason': 'finished'" in result.stderr
    ids = {r["article_id"] for r in read_jsonl(tmp_path / "articles.jsonl")}
    assert ids == {str(a.article_id) for a in DemoSite().public_articles()}


def test_scrapy_crawl_in_another_project_with_the_addon(crawled, tmp_path: Path) -> None:
    """A Scrapy project whose settings only enable the add-on and name the start URL crawls as
    ``newsspider crawl`` does: the add-on brings the spider, every component and every default."""
    root, _, records, _ = crawled
    (tmp_path / "scrapy.cfg").write_text("[settings]\ndefault = scratch_settings\n")
    (tmp_path / "scratch_settings.py").write_text(
        'ADDONS = {"newsspider.crawl.addon.NewsspiderAddon": 0}\n'
        f'NEWSSPIDER_START_URLS = ["{root}/bnews/"]\n')
    result = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "bannedbook"], cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(tmp_path)},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "'finish_reason': 'finished'" in result.stderr

    def content(rows: list[dict]) -> list[dict]:
        return sorted(({k: v for k, v in r.items() if k not in ("crawled_at", "warc")} for r in rows),
                      key=lambda r: r["article_id"])

    assert content(read_jsonl(tmp_path / "data" / "articles.jsonl")) == content(records)


def test_robots_txt_holds_for_requests_that_wait_for_it(site_server: MockServer, tmp_path: Path) -> None:
    """Requests queued while robots.txt is being fetched are checked against it too."""
    demo = DemoSite()
    public = [a.path for a in demo.public_articles()][:8]
    private = demo.articles[1000001].path
    starts = [arg for path in [*public[:4], private, *public[4:]]
              for arg in ("--start-url", site_server.url(path))]
    result = crawl(site_server, tmp_path, *starts, "-s", "CLOSESPIDER_PAGECOUNT=12")
    assert result.returncode == 0, result.stderr
    assert private not in [r["path"] for r in site_server.requests()]
    assert "1000001" not in {r["article_id"] for r in read_jsonl(tmp_path / "articles.jsonl")}


def test_callbacks_return_nothing_from_generators() -> None:
    """Scrapy's per-response check for this is off (WARN_ON_GENERATOR_RETURN_VALUE); it runs here
    (the re-extraction spider's only callback is its async start)."""
    spidercls = BannedbookSpider
    callbacks = [getattr(spidercls, name) for name in dir(spidercls)
                 if inspect.isgeneratorfunction(getattr(spidercls, name))]
    assert spidercls.parse in callbacks
    assert [c.__name__ for c in callbacks if is_generator_with_return_value(c)] == []


LIBRARY_CALL = """
import json, logging, sys, warnings
from newsspider.run.runner import run_crawl

def state():
    return {"root": [type(h).__name__ for h in logging.getLogger().handlers],
            "levels": [logging.getLogger(n).level for n in ("", "scrapy", "newsspider")],
            "filters": len(warnings.filters)}

logging.basicConfig(level=logging.INFO)  # the calling program's own logging
before = state()
result = run_crawl([sys.argv[1]], sys.argv[2], {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False,
                                                "CLOSESPIDER_ITEMCOUNT": 3})
print(json.dumps({"before": before, "after": state(), "stored": result.summary.stored}))
"""


def test_run_crawl_leaves_the_callers_logging_and_warnings_as_they_were(site_server: MockServer,
                                                                       tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", LIBRARY_CALL, site_server.url("/bnews/"), str(tmp_path)],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.splitlines()[-1])
    assert seen["stored"] >= 3
    assert seen["after"] == seen["before"], "run_crawl changed the process's logging or warnings filters"


def test_a_window_follows_no_shortlink_to_an_article_outside_it(site_server: MockServer,
                                                                tmp_path: Path) -> None:
    """A shortlink (``/?p=ID``) says nothing of its article's day: its redirect is where the window is
    known, and an article outside it is not fetched (counted with the articles outside the window)."""
    since, until = "2020-01-03", "2020-01-06"
    start = site_server.url("/bnews/bannedvideo/20200105/1253972.html")  # its related list: /?p=2054421
    result = run_cli("crawl", "--start-url", start, "--data-dir", str(tmp_path), *FAST, "--no-sitemaps",
                     "--since", since, "--until", until, "-s", "LOG_LEVEL=INFO")
    assert result.returncode in (0, 3), result.stderr[-3000:]
    paths = [r["path"] for r in site_server.requests()]
    assert "/?p=2054421" in paths  # an article of 2024-06-26
    days = [parts[2] for p in paths if (parts := site.article_parts(p))]
    assert days and all(since <= day <= until for day in days), sorted(days)
    records = read_jsonl(tmp_path / "articles.jsonl")
    assert records and all(since <= r["published_date"] <= until for r in records)
    assert "outside_window" in result.stderr


def test_a_link_followed_before_is_known_by_what_it_says() -> None:
    """A page's links already requested (the menus on every page) are skipped by their href as
    written (an absolute one on any page, a relative one only against the same base), not made
    canonical again; what they lead to is unchanged."""
    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    from newsspider.extract.loaders import page_selector
    from newsspider.spiders.bannedbook import link_key

    crawler = get_crawler(BannedbookSpider)
    spider = BannedbookSpider.from_crawler(crawler, start_urls=["http://127.0.0.1/bnews/"])
    hrefs = ["http://127.0.0.1/bnews/tag/x/", "page/2/", " http://127.0.0.1/bnews/tag/x/?utm_source=menu ",
             "/bnews/itnews/"]

    def follow(url: str) -> list[str]:
        body = "".join(f'<a href="{href}">a</a>' for href in hrefs).encode()
        page = HtmlResponse(url, body=b"<html><body>" + body + b"</body></html>", encoding="utf-8")
        return [request.url for request in spider.follow_links(page, page_selector(page))]

    assert follow("http://127.0.0.1/bnews/") == ["http://127.0.0.1/bnews/tag/x/", "http://127.0.0.1/bnews/page/2/",
                                                 "http://127.0.0.1/bnews/itnews/"]
    seen = spider._seen_urls
    assert seen.known_link(hrefs[0]) and seen.known_link(link_key("http://127.0.0.1/bnews/", "page/2/"))
    assert seen.known_link(link_key("http://127.0.0.1/bnews/", hrefs[2]))  # its URL was requested
    assert not seen.known_link(link_key("http://127.0.0.1/bnews/itnews/", "page/2/"))
    assert seen.known_link(link_key("http://127.0.0.1/bnews/tag/y/", "/bnews/itnews/"))  # on any page
    assert follow("http://127.0.0.1/bnews/itnews/") == ["http://127.0.0.1/bnews/itnews/page/2/"]
    assert follow("http://127.0.0.1/bnews/") == []
