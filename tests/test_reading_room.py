"""The reading room of ``newsspider browse``: its search page and article page in a real headless Chromium,
over one browse server of a dataset the test writes (hostile articles included)."""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import opencc
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from newsspider.views.search.versions import COMPARED
from tests.test_browse import _get, start_browse
from tests.test_report import (
    browser,  # noqa: F401  (the shared headless Chromium)
    record,
)
from tests.test_search import brute_force

# One worker runs this module (one browse server and one Chromium for the module).
pytestmark = pytest.mark.xdist_group("reading_room")

HOSTILE = ['<script>alert("t")</script>', '"><img src=x onerror=alert("i")>', "javascript:alert('j')"]
TITLE_HIT = "7"  # the one article with 中国 in its title
VERSIONED = "50"  # the one article with three versions
LONG_URL = "https://www.example.org/" + "x" * 300  # no place to break but anywhere


def _records() -> list[dict[str, Any]]:
    records = []
    for i in range(1, 31):
        rec = record(i, f"20{19 + i % 3}-{1 + i % 12:02d}-{1 + i % 28:02d}", [f"标签{i % 4}", "人权"],
                     title=f"第{i}篇报道")
        rec["body"] = (f"第{i}篇的第一段，讲的是中国的经济与贸易。" * (1 + i % 5)) + "\n\n第二段，另说一事。"
        rec["category"] = "renquan" if i % 2 else "itnews"
        rec["author"], rec["source"], rec["editor"] = f"作者{i % 3}", ["美国之音", "自由亚洲"][i % 2], "小明"
        records.append(rec)
    records[6]["title"] = "中国的一篇评论"  # article 7: a title hit, ranked first
    records[6]["body"] = "这篇的正文只提到一次中国。\n\n第二段。\n\n第三段：台湾。"
    records[6]["image_credit"] = "图/路透社"
    records[6]["related_urls"] = ["https://www.bannedbook.org/bnews/itnews/20200101/3.html",
                                  "https://www.bannedbook.org/bnews/itnews/20200101/999999.html"]
    for i, text in enumerate(HOSTILE):  # articles 40-42: hostile in every field shown
        rec = record(40 + i, "2018-01-01", [text, "人权"], title=f"恶意{text}")
        rec["body"] = f"恶意的正文{text}\n\n{text}"
        rec["source"] = rec["author"] = text
        records.append(rec)
    for i in range(31, 36):  # ones without 中国: 中国 is not every article
        records.append(record(i, "2018-06-01", ["其他"], title=f"无关{i}"))
    records[6]["published_at"] = records[6]["published_date"] + "T12:30:00+08:00"
    return records


def _versions() -> list[dict[str, Any]]:
    """Three versions of one article (not in :func:`_records`' list: their text finds none of its searches):
    2 changes the title, a paragraph of a long body (hostile text and a long URL in it) and the tags; 3 only
    the author (hostile too)."""
    first = record(int(VERSIONED), "2017-05-01", ["版本", "旧标签"], title="版本的标题：旧的说法")
    first["body"] = "\n\n".join(f"第{n}段，讲的是一件事情的经过，内容不变。" for n in range(1, 9))
    second = {**first, "version": 2, "title": "版本的标题：新的看法", "tags": ["版本", "新标签"],
              "crawled_at": "2026-02-03T04:05:06Z", "content_hash": "sha256:" + "b" * 64}
    second["body"] = first["body"].replace("第5段，讲的是", f"第5段，改写为{HOSTILE[0]}{LONG_URL}，讲的是")
    third = {**second, "version": 3, "author": HOSTILE[1], "crawled_at": "2026-03-04T05:06:07Z",
             "content_hash": "sha256:" + "c" * 64}
    return [first, second, third]


REMOVED = "3"  # the one article the site removed (confirmed); article 5 only seen gone once


def _removals() -> list[dict[str, Any]]:
    """The removals log: article 3 confirmed removed (410), article 5 provisionally (not shown as removed)."""
    url = "https://www.bannedbook.org/bnews/itnews/20200101/{}.html"
    return [{"article_id": REMOVED, "url": url.format(3), "state": "confirmed", "at": "2026-02-03T04:05:06Z",
             "since": "2026-02-01T00:00:00Z", "how": "410", "run": 3},
            {"article_id": "5", "url": url.format(5), "state": "provisional", "at": "2026-02-03T04:05:06Z",
             "since": "2026-02-03T04:05:06Z", "how": "404", "run": 3}]


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    data = tmp_path_factory.mktemp("room")
    records = _records()
    (data / "articles.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                 for r in [*records, *_versions()]), encoding="utf-8")
    (data / "removals.jsonl").write_text("".join(json.dumps(event) + "\n" for event in _removals()), "utf-8")
    process, port = start_browse(data)
    try:
        yield f"http://127.0.0.1:{port}", records
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811
    dialogs: list[str] = []
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    page.close()
    assert not dialogs, dialogs  # no script of the site's ever ran


def _search(page: Page, root: str, query: str) -> None:
    page.goto(root + "/")
    page.fill("#q", query)
    page.press("#q", "Enter")
    page.wait_for_load_state()


def test_a_search_shows_the_count_and_marked_snippets_best_first_and_opens_the_article(
        page: Page, room: tuple[str, list[dict[str, Any]]]) -> None:
    root, records = room
    by_id = {r["article_id"]: r for r in records}
    expected = brute_force(records, "中国", forms=True)
    _search(page, root, "中国")
    assert page.locator("#count").inner_text() == f"{len(expected)} articles hold 中国"
    assert "q=%E4%B8%AD%E5%9B%BD" in page.url  # the search can be shared
    titles = page.locator("ol.hits h2 a").all_inner_texts()
    assert len(titles) == 20 and titles[0] == by_id[TITLE_HIT]["title"]  # a title hit ranks first
    year, month, day = (int(n) for n in by_id[TITLE_HIT]["published_date"].split("-"))
    time = page.locator("ol.hits .meta time").first
    assert (time.inner_text(), time.get_attribute("datetime")) == (f"{year}年{month}月{day}日",
                                                                     by_id[TITLE_HIT]["published_date"])
    marks = page.locator("ol.hits .snippet mark").all_inner_texts()
    assert marks and set(marks) == {"中国"}
    assert page.locator("ol.hits .snippet").count() == 20
    # the rest on page 2; the filters narrow with their counts
    page.click("nav.pages a[rel=next]")
    assert "page=2" in page.url and page.locator("ol.hits > li").count() == len(expected) - 20
    shown = {page.locator("ol.hits h2 a").nth(i).get_attribute("href").rsplit("/", 1)[1]
             for i in range(len(expected) - 20)}
    assert shown <= expected
    page.goto(root + "/?q=" + quote("中国"))
    facet = page.locator(".filters a", has_text="renquan")
    n = int(facet.locator("xpath=..").inner_text().rsplit("(", 1)[1].rstrip(")"))
    facet.click()
    assert n == len({i for i in expected if by_id[i]["category"] == "renquan"})
    assert page.locator("#count").inner_text() == f"{n} articles hold 中国"
    # open the best hit: the article page holds the record's fields
    page.goto(root + "/?q=" + quote("中国"))
    page.locator("ol.hits h2 a").first.click()
    rec = by_id[TITLE_HIT]
    assert page.locator("h1").inner_text() == rec["title"]
    assert page.locator(".field-author").inner_text() == rec["author"]
    assert page.locator(".field-source").inner_text() == rec["source"]
    assert page.locator(".field-editor").inner_text() == rec["editor"]
    assert page.locator(".field-image_credit").inner_text() == rec["image_credit"]
    assert page.locator(".body p").all_inner_texts() == rec["body"].split("\n\n")
    year, month, day = (int(n) for n in rec["published_date"].split("-"))
    time = page.locator("article .meta time")
    assert time.inner_text() == f"{year}年{month}月{day}日 12:30"  # as a reader reads it, the site's clock
    assert time.get_attribute("datetime") == rec["published_at"]
    cite = page.locator(".cite").inner_text()
    assert rec["url"] in cite and rec["content_hash"] in cite and rec["crawled_at"] in cite
    related = page.locator("ul.related li")
    assert related.nth(0).inner_text() == by_id["3"]["title"]  # in the archive: its article page
    assert "not in the archive" in related.nth(1).inner_text()
    # the traditional form, display only
    page.click("text=繁體")
    assert page.locator("h1").inner_text() == opencc.OpenCC("s2t").convert(rec["title"])
    assert page.locator("article").get_attribute("lang") == "zh-Hant"
    # a tag leads to its results
    page.locator("article ul.tags a").first.click()
    tagged = [r for r in records if rec["tags"][0] in r["tags"]]
    assert page.locator("#count").inner_text().startswith(f"{len(tagged)} articles")


def test_a_removed_article_is_badged_in_results_and_on_its_page_and_has_a_filter(
        page: Page, room: tuple[str, list[dict[str, Any]]]) -> None:
    root, _ = room
    page.goto(root + "/?q=" + quote("第3篇"))
    hit = page.locator("ol.hits > li", has=page.locator(f"h2 a[href$='/{REMOVED}']"))
    assert hit.locator(".removed").inner_text() == "removed from the site on 2026-02-03"
    assert page.locator("ol.hits .removed").count() == 1  # not the one only seen gone once
    # the filter: every article, then only the removed one
    page.goto(root + "/")
    page.locator(".filters a", has_text="removed from the site").click()
    assert "removed=yes" in page.url
    assert page.locator("#count").inner_text().startswith("1 article")
    assert page.locator(".filters li.on").inner_text().startswith("removed from the site (1)")
    page.locator("ol.hits h2 a").first.click()
    assert page.url.endswith(f"/{REMOVED}")
    note = page.locator("article p.removed").inner_text()
    assert note.startswith("Removed from the site on 2026-02-03 (the page answered 410)")
    page.goto(root + "/-/newsspider/article/5")
    assert page.locator("article p.removed").count() == 0


def test_the_downloads_hold_the_result_set_in_its_order(room: tuple[str, list[dict[str, Any]]]) -> None:
    root, records = room
    expected = brute_force(records, "中国", forms=True)
    with urllib.request.urlopen(f"{root}/-/newsspider/results.csv?q={quote('中国')}", timeout=30) as answer:
        rows = list(csv.DictReader(io.StringIO(answer.read().decode("utf-8-sig"))))
    assert {r["article_id"] for r in rows} == expected and rows[0]["article_id"] == TITLE_HIT
    with urllib.request.urlopen(f"{root}/-/newsspider/results.json?q={quote('中国')}&category=itnews",
                                timeout=30) as answer:
        items = json.load(answer)
    assert {i["article_id"] for i in items} == {r["article_id"] for r in records
                                                if r["article_id"] in expected and r["category"] == "itnews"}


def test_no_page_scrolls_sideways_at_1366_or_390(browser: Browser,  # noqa: F811
                                                 room: tuple[str, list[dict[str, Any]]]) -> None:
    root, _records = room
    for width in (1366, 390):
        page = browser.new_page(viewport={"width": width, "height": 800})
        for path in ("/", "/?q=" + quote("中国"), f"/-/newsspider/article/{TITLE_HIT}",
                     f"/-/newsspider/versions/{VERSIONED}", f"/-/newsspider/article/{VERSIONED}",
                     "/-/newsspider/article/40", "/?q=" + quote("没有这个词 也没有"), "/?q=" + "x" * 300,
                     "/-/newsspider/certificate/41"):
            page.goto(root + path)
            assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), (width, path)
        page.close()


def test_hostile_content_is_shown_as_text_and_never_runs(
        page: Page, room: tuple[str, list[dict[str, Any]]]) -> None:
    root, _records = room
    _search(page, root, "恶意")
    assert page.locator("#count").inner_text() == "3 articles hold 恶意"
    for path in ["/?q=" + quote("恶意"), "/?tag=" + quote(HOSTILE[0]), *(f"/-/newsspider/article/{40 + i}"
                                                                          for i in range(3)),
                 *(f"/-/newsspider/certificate/{40 + i}" for i in range(3))]:
        page.goto(root + path)
        assert page.locator("img").count() == 0 and page.locator("main script").count() == 0, path
        assert not page.locator("a[href^='javascript']").count(), path
        text = page.inner_text("main")
        assert any(h in text for h in HOSTILE), path
    page.goto(root + "/-/newsspider/article/41")
    assert page.locator("h1").inner_text() == f"恶意{HOSTILE[1]}"
    assert page.locator(".field-source").inner_text() == HOSTILE[1]
    assert page.locator("article ul.tags a").first.inner_text() == HOSTILE[1]
    page.locator("article ul.tags a").first.click()  # the tag's results: its value, escaped, in the URL
    assert page.locator("#count").inner_text().startswith("1 article")


@pytest.mark.parametrize(("path", "status", "says"), [
    ("/?q=", 200, "articles in the archive"),
    ("/?q=" + quote("  "), 200, "articles in the archive"),
    ("/?q=" + quote('" "'), 200, "nothing to search for"),
    ("/?q=" + quote("，。！"), 200, "No article holds"),
    ("/?q=" + quote("中国") + "&page=99", 200, "Page 99 is past the end"),
    ("/?q=" + quote("中国") + "&page=abc&sort=worst&year=x", 200, "Without the filters, 30 articles"),
    ("/?q=" + quote("新疆 中国"), 200, "中国 alone: 30"),
    ("/?q=" + quote("中" * 2000), 200, "at most 200 are searched"),
    ("/?page=" + "9" * 40, 200, "articles in the archive"),
    ("/-/newsspider/article/123456789", 404, "holds no article 123456789"),
    ("/-/newsspider/article/" + quote("<b>x"), 404, "holds no article <b>x"),
    ("/-/newsspider/versions/123456789", 404, "holds no article 123456789"),
    ("/-/newsspider/certificate/123456789", 404, "holds no article 123456789"),
    # stored without its page (no web archive): a certificate that says so, not an error
    (f"/-/newsspider/certificate/{TITLE_HIT}", 200, "stored without its archived page"),
])
def test_bad_input_gets_a_clear_message_never_a_500(page: Page, room: tuple[str, list[dict[str, Any]]],
                                                    path: str, status: int, says: str) -> None:
    root, _records = room
    response = page.goto(root + path)
    assert response is not None and response.status == status, path
    assert says in page.inner_text("main"), page.inner_text("main")[:500]


def test_no_serious_or_critical_accessibility_violations(
        page: Page, room: tuple[str, list[dict[str, Any]]]) -> None:
    """axe-core (bundled with axe-playwright-python: nothing fetched) on the search and article pages."""
    root, _records = room
    axe = Axe()
    for path in ("/?q=" + quote("中国"), f"/-/newsspider/article/{TITLE_HIT}", "/?q=" + quote("没有这个词"),
                 "/-/newsspider/article/404", f"/-/newsspider/versions/{VERSIONED}",
                 f"/-/newsspider/article/{VERSIONED}", f"/-/newsspider/certificate/{TITLE_HIT}"):
        page.goto(root + path)
        results = axe.run(page)
        bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, (path, bad)


def test_the_search_page_is_the_front_door_and_needs_nothing_from_the_internet(
        page: Page, room: tuple[str, list[dict[str, Any]]]) -> None:
    root, _records = room
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(root + "/")
    assert page.locator("input#q[type=search]").count() == 1
    page.goto(f"{root}/-/newsspider/article/{TITLE_HIT}")
    assert requested and all(url.startswith(root) for url in requested), requested
    assert page.locator("a", has_text="Query the data").get_attribute("href") == "/archive/articles"
    status, _body = _get(root + "/archive/articles")
    assert status == 200
    # keyboard: the search box takes focus by Tab and a search runs from Enter
    page.goto(root + "/")
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "q":
            break
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("中国")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert page.locator("#count").inner_text().endswith("hold 中国")


def test_the_versions_page_shows_what_changed_character_by_character_the_rest_folded(
        page: Page, room: tuple[str, list[dict[str, Any]]]) -> None:
    root, _records = room
    first, second, third = _versions()
    page.goto(f"{root}/-/newsspider/article/{VERSIONED}")
    # the article page: its versions newest first, one line each, and the way to what changed
    lines = page.locator("ul.versions li").all_inner_texts()
    assert len(lines) == 3 and lines[0].startswith("Version 3") and lines[2].startswith("Version 1")
    assert "2026年2月3日 04:05 UTC" in lines[1] and "changed title, body, tags" in lines[1], lines
    assert "changed author" in lines[0] and "the first capture" in lines[2]
    page.click("text=What changed in each")
    assert page.locator("h1").inner_text() == f"Versions of {third['title']}"
    assert [s.get_attribute("id") for s in page.locator("section.version").all()] == ["v3", "v2", "v1"]
    assert page.locator("#v2 .what").inner_text() == "Changed since version 1: title, body, tags."
    assert page.locator("#v3 .what").inner_text() == "Changed since version 2: author."
    assert page.locator("#v2 time").first.get_attribute("datetime") == second["crawled_at"]
    # the title's changed characters, struck and inserted
    title = page.locator("#v2 .field-title .diff")
    assert title.locator("del").all_inner_texts() == ["旧的说"]  # 的 between two changes: one change
    assert title.locator("ins").all_inner_texts() == ["新的看"]
    # the body: only the changed paragraph, one either side, the others folded (closed)
    body = page.locator("#v2 .field-body")
    assert body.locator("p.changed").count() == 1
    inserted = body.locator("p.changed ins").inner_text()  # where the comma goes is the matcher's choice
    assert inserted.strip("，") == f"改写为{HOSTILE[0]}{LONG_URL}" and len(inserted) == len(LONG_URL) + 31
    assert body.locator("p.changed").inner_text() == second["body"].split("\n\n")[4]
    assert body.locator("p.changed del").count() == 0
    assert body.locator("p.same").all_inner_texts() == [first["body"].split("\n\n")[i] for i in (3, 5)]
    folds = body.locator("details")
    assert folds.count() == 2 and folds.nth(0).locator("summary").inner_text() == "3 unchanged paragraphs"
    assert not folds.nth(0).locator("p").first.is_visible()
    # tags item by item
    tags = page.locator("#v2 .field-tags")
    assert tags.locator("del").all_inner_texts() == ["旧标签"]
    assert tags.locator("ins").all_inner_texts() == ["新标签"]
    # the unchanged fields: folded, opened from the keyboard
    unchanged = page.locator("#v2 details.unchanged")
    assert unchanged.locator("summary").inner_text() == f"{len(COMPARED) - 3} fields unchanged"
    assert not unchanged.locator("dl").is_visible()
    unchanged.locator("summary").focus()
    page.keyboard.press("Enter")
    assert unchanged.locator("dl").is_visible() and "author" in unchanged.locator("dl").inner_text()
    # hostile text in a changed field is text
    assert page.locator("#v3 .field-author ins").inner_text() == HOSTILE[1]
    assert page.locator("main img, main script").count() == 0
    # the first version: nothing before it, its fields folded; no archived page (no WARC) linked
    assert "The first version captured" in page.locator("#v1 .what").inner_text()
    assert page.locator("#v1 details.unchanged summary").inner_text() == "Its fields as captured"
    assert page.locator("a.archived").count() == 0
    page.click("text=← The article page")
    assert page.url.endswith(f"/-/newsspider/article/{VERSIONED}")


def test_an_article_of_one_version_says_so(page: Page, room: tuple[str, list[dict[str, Any]]]) -> None:
    root, _records = room
    page.goto(f"{root}/-/newsspider/article/{TITLE_HIT}")
    assert page.locator("#versions + p").inner_text() == "One version, captured 2026年1月1日 00:00 UTC."
    assert page.locator("a.versions").count() == 0


# -- at the archive's size: what the search page and the article page read -------------------------

def _varied(n: int) -> list[dict[str, Any]]:
    """*n* articles, 中国 in nine of ten, 华为 in one of ten; some without a source; years,
    categories, sources and tags varied."""
    records = []
    for i in range(1, n + 1):
        rec = record(i, f"{2015 + i % 7}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                     [["人权", "香港", "经济", "台湾"][i % 4], ["美国", "中国"][i % 2]], title=f"第{i}篇")
        rec["body"] = ("中国的经济。" if i % 10 else "另一件事。") + ("华为的芯片。" if i % 10 == 3 else "")
        rec["category"] = ["itnews", "renquan", "headline", "ssgc"][i % 4 if i % 11 == 0 else i % 3]
        rec["source"] = None if i % 13 == 0 else ["美国之音", "自由亚洲", "法广", "德国之声"][i % 4]
        rec["related_urls"] = [f"https://www.bannedbook.org/bnews/itnews/20200101/{i % n + 1}.html"]
        records.append(rec)
    return records


def _expected(records: list[dict[str, Any]], query: str,
              filters: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """The count and the filters' top values of a search, counted here by hand."""
    from newsspider.views.search.room import FACET_VALUES

    found = brute_force(records, query, forms=True) if query else {r["article_id"] for r in records}
    kept = [r for r in records if r["article_id"] in found
            and all((r["published_date"][:4] if name == "year" else r[name]) == value if name != "tag"
                    else value in r["tags"] for name, value in filters.items())]
    facets: dict[str, Any] = {}
    for name in ("year", "category", "source", "tag"):
        counted: dict[str, int] = {}
        for r in kept:
            values = r["tags"] if name == "tag" else [r["published_date"][:4] if name == "year" else r[name]]
            for value in values:
                if value is not None:
                    counted[value] = counted.get(value, 0) + 1
        if name == "year":
            order = sorted(counted.items(), reverse=True)
        else:
            order = sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))
        facets[name] = order[:FACET_VALUES]
    return len(kept), facets if kept else {}


def test_the_counts_and_filters_are_exact_whichever_way_they_are_counted(tmp_path: Path) -> None:
    """A common word (most articles), a rare one, none, with and without filters: the count, the filters'
    counts and the page's hits are what a count by hand gives, each way room.find counts them."""
    from newsspider.views.search.database import build, open_readonly
    from newsspider.views.search.room import Ask, find

    records = _varied(300)
    (tmp_path / "articles.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    conn = open_readonly(build(tmp_path).path)
    by_id = {str(r["article_id"]): r for r in records}
    for query in ("中国", "华为", "经济", "另一件事", ""):
        for filters in ({}, {"year": "2019"}, {"category": "renquan"}, {"tag": "人权", "source": "法广"}):
            for sort in ("best", "newest"):
                args = {"q": query, "sort": sort, **filters}
                results = find(conn, Ask.parse(args))
                total, facets = _expected(records, query, filters)
                assert (results.total, results.facets) == (total, facets), args
                dates = [hit.published_date for hit in results.hits]
                assert len(dates) == min(20, total), args
                if sort == "newest" or not results.ranked:
                    assert dates == sorted(dates, reverse=True), args
                for hit in results.hits:  # every hit, ranked or not, is one the filters keep
                    rec = by_id[hit.article_id]
                    assert filters.get("year", rec["published_date"][:4]) == rec["published_date"][:4], args
                    assert filters.get("category", rec["category"]) == rec["category"], args
                    assert filters.get("source", rec["source"]) == rec["source"], args
                    assert filters.get("tag", "人权") in rec["tags"] or "tag" not in filters, args
    page5 = find(conn, Ask.parse({"q": "中国", "page": "5"}))
    everything = find(conn, Ask.parse({"q": "中国", "page": "1", "sort": "newest"}))
    assert page5.total == everything.total and len(page5.hits) == 20
    assert not {h.article_id for h in page5.hits} & {h.article_id for h in everything.hits}


def test_a_common_word_and_an_article_never_read_every_article(tmp_path: Path) -> None:
    """What makes the reading room fast at 100,000 articles (benchmarks/room.py): the search for a word most
    articles hold counts and filters it from the full-text index and the narrow articles_facets index,
    never looking up each hit's row nor reading the table whole; an article's related articles are found
    by the URL index.  Checked on SQLite's own plan of every statement but the one that reads the page."""
    from newsspider.views.search.database import build, open_readonly
    from newsspider.views.search.room import Ask, article, find

    records = _varied(300)
    (tmp_path / "articles.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    conn = open_readonly(build(tmp_path).path)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    find(conn, Ask.parse({"q": "中国"}))
    find(conn, Ask.parse({"q": "中国", "year": "2019", "category": "renquan"}))
    find(conn, Ask.parse({}))
    article(conn, "7")
    conn.set_trace_callback(None)
    slow = []
    # a whole table read, or a row looked up for each hit (a page's 20 rows and one article's are fine)
    reads_rows = r"SCAN a(rticles)?\b(?!.*COVERING INDEX)|SEARCH a(rticles)? USING INTEGER PRIMARY KEY"
    for sql in statements:
        if sql.startswith(("--", "PRAGMA")) or " LIMIT " in sql:  # FTS5's own; the page itself
            continue
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
        if any(re.match(reads_rows, step) for step in plan):
            slow.append((sql, plan))
    assert not slow, slow


def test_the_docs_screenshots_are_of_pages_browse_serves() -> None:
    """``python -m docs.screenshots`` (run by hand: it crawls and starts Chromium) asks for pages that
    browse has routes for, and docs/search.md shows every image it saves."""
    from docs.screenshots import PAGES, SIZES
    from newsspider.views.search.browse import register_routes

    routes = [pattern for pattern, _view in register_routes()]
    for _name, path in PAGES:
        assert any(re.match(pattern, path.split("?")[0]) for pattern in routes), path
    page = (Path(__file__).parent.parent / "docs" / "search.md").read_text("utf-8")
    for name, _path in PAGES:
        for size, _width, _height in SIZES:
            assert f"](images/{name}-{size}.png)" in page
            assert (Path(__file__).parent.parent / "docs" / "images" / f"{name}-{size}.png").is_file()
