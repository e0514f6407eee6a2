"""The archived page in the reading room: the page as it was served (its own stylesheet and images from the
WARC) under the banner, in a real headless Chromium, over one ``--images`` crawl of the mock site whose pages
all carry a hostile script; and a small archive written here whose page's stylesheet and image were not
archived."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from newsspider.archive.warcfile import Fetch, WarcFiles
from tests.conftest import crawl, read_jsonl
from tests.mockserver import MockServer
from tests.test_browse import start_browse
from tests.test_report import (
    browser,  # noqa: F401  (the shared headless Chromium)
    record,
)

#: what every page of the crawled site carries: a script that tries to act as the reading room
HOSTILE = ("<script>document.title = 'the script ran'; "
           "try { parent.document.body.innerHTML = 'owned'; } catch (e) {} "
           "try { top.location = 'about:blank#owned'; } catch (e) {} alert('archived');</script>")
PICTURED = "2060000"  # a generated article with a picture and its credit line (and a second picture)
THEME_RED = "rgb(153, 0, 0)"  # what the mock site's stylesheet sets (newsspider.demo.pages.STYLESHEET)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    """``newsspider browse`` over the mock site crawled with ``--images``: root, data dir, site."""
    data = tmp_path_factory.mktemp("replay")
    with MockServer() as server:
        server.rewrite("</head>", HOSTILE + "</head>")
        result = crawl(server, data, "--images")
        assert result.returncode == 0, result.stderr
        site = server.root
    process, port = start_browse(data)
    try:
        yield f"http://127.0.0.1:{port}", data, site
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``newsspider browse`` over an archive of one article page whose stylesheet and image were not
    archived (a crawl without ``--images``)."""
    data = tmp_path_factory.mktemp("bare")
    rec = record(5, "2024-07-01", ["人权"], title="没有图片的存档")
    page = (f'<html><head><link rel="stylesheet" href="/style.css"><title>{rec["title"]}</title></head>'
            f'<body><h2>{rec["title"]}</h2><div class="entry"><img src="/a.png" alt="图一"></div>'
            "</body></html>")
    files = WarcFiles(data)
    pointer, _ = files.write(Fetch(rec["url"], "GET", [], b"", 200,
                                   [("Content-Type", "text/html; charset=utf-8")], page.encode()))
    files.close()
    rec["warc"] = {k: v for k, v in pointer.asdict().items() if k != "date"}
    rec["images"] = [{"url": "https://www.bannedbook.org/a.png", "alt": "图一", "caption": "图/某某社"}]
    rec["image_url"] = "https://www.bannedbook.org/a.png"
    (data / "articles.jsonl").write_text(json.dumps(rec, ensure_ascii=False) + "\n", encoding="utf-8")
    process, port = start_browse(data)
    try:
        yield f"http://127.0.0.1:{port}"
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
    assert not dialogs, dialogs  # no script of the archived pages ever ran


def _get(url: str) -> tuple[int, Message, bytes]:
    """Status, headers (any case) and body of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _record(data: Path, article_id: str) -> dict[str, Any]:
    return next(r for r in read_jsonl(data / "articles.jsonl") if r["article_id"] == article_id)


def test_the_archived_page_is_shown_as_served_under_the_banner_and_its_scripts_never_run(
        page: Page, crawled: tuple[str, Path, str]) -> None:
    root, data, _site = crawled
    rec = _record(data, PICTURED)
    page.goto(f"{root}/-/newsspider/article/{PICTURED}")
    page.locator("a", has_text="the archived copy").click()
    page.wait_for_load_state("load")  # the frame's page and its images included
    banner_url = page.url
    assert banner_url.startswith(f"{root}/-/newsspider/page/{PICTURED}")
    banner = page.locator(".replay-banner")
    text = banner.inner_text()
    assert rec["crawled_at"][:19] in text and rec["url"] in text
    assert banner.locator(".original a.live").get_attribute("href") == rec["url"]
    assert banner.locator("a.article").get_attribute("href") == f"/-/newsspider/article/{PICTURED}"
    assert "version 1" in banner.locator("ul.captures").inner_text()
    assert page.locator(".notice-assets").count() == 0  # everything the page uses was archived
    frame = page.frame_locator("iframe.replay")
    assert frame.locator("h2").first.inner_text().strip() == rec["title"]
    # the page's own stylesheet applied, its images from the archive
    assert frame.locator("div.entry").evaluate("e => getComputedStyle(e).borderLeftColor") == THEME_RED
    sizes = frame.locator("img").evaluate_all("images => images.map(i => i.naturalWidth)")
    assert len(sizes) == 2 and all(size > 0 for size in sizes), sizes
    # its script is there and did nothing: no dialog (the page fixture), the banner page untouched
    assert frame.locator("script").count() >= 1
    assert page.url == banner_url and page.title() != "the script ran"
    assert page.locator("#replay-title").count() == 1 and "owned" not in page.inner_text("body")
    assert frame.locator("html").evaluate("() => document.title") != "the script ran"
    # links: to the live site in a new window, marked; to an archived article, its article page
    live = frame.locator("a[data-newsspider=live]").first
    assert live.get_attribute("target") == "_blank" and "noopener" in (live.get_attribute("rel") or "")
    archived = frame.locator("div.entry a[target=_top]").first
    href = archived.get_attribute("href")
    assert href and href.startswith("/-/newsspider/article/")
    archived.click()
    page.wait_for_url(root + href)
    assert page.locator("h1").count() == 1


def test_the_raw_page_is_sandboxed_on_its_own_and_the_asset_route_serves_only_archived_images_and_css(
        page: Page, crawled: tuple[str, Path, str]) -> None:
    root, data, site = crawled
    status, headers, body = _get(f"{root}/-/newsspider/page/{PICTURED}/raw")
    policy = headers["Content-Security-Policy"]
    assert status == 200 and policy.startswith("sandbox ") and "default-src 'none'" in policy
    assert "allow-scripts" not in policy and "allow-same-origin" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff" and b"the script ran" in body
    page.goto(f"{root}/-/newsspider/page/{PICTURED}/raw")  # opened directly: still no script
    assert page.title() != "the script ran" and page.url.endswith("/raw")
    # the stylesheet, as archived
    css = f"{root}/-/newsspider/asset?url=" + quote(f"{site}/wp-content/themes/demo/style.css?ver=1.0")
    status, headers, body = _get(css)
    assert status == 200 and headers["Content-Type"].startswith("text/css") and THEME_RED.encode() in body
    assert headers["X-Content-Type-Options"] == "nosniff"
    # an archived page (HTML), a URL never archived, none: 404, not 500
    rec = _record(data, PICTURED)
    for query in ("?url=" + quote(rec["url"]), "?url=" + quote(f"{site}/nothing.png"), "?url=javascript:x",
                  ""):
        status, headers, _body = _get(f"{root}/-/newsspider/asset{query}")
        assert status == 404 and headers["X-Content-Type-Options"] == "nosniff", query


def test_the_article_page_shows_its_images_from_the_archive(
        page: Page, crawled: tuple[str, Path, str]) -> None:
    root, data, _site = crawled
    rec = _record(data, PICTURED)
    page.goto(f"{root}/-/newsspider/article/{PICTURED}")
    page.wait_for_load_state("load")
    lead = page.locator("figure.lead img")
    assert lead.get_attribute("alt") == rec["images"][0]["alt"]
    caption = page.locator("figure.lead figcaption").inner_text()
    assert caption == rec["images"][0]["caption"] == "图/演示图片社"
    sizes = page.locator("article img").evaluate_all("images => images.map(i => i.naturalWidth)")
    assert len(sizes) == len(rec["images"]) and all(size > 0 for size in sizes), sizes


def test_a_page_whose_stylesheets_and_images_were_not_archived_says_so_and_shows_no_broken_image(
        page: Page, bare: str) -> None:
    page.goto(f"{bare}/-/newsspider/page/5")
    notice = page.inner_text(".notice-assets")
    assert "stylesheets and images were not archived; crawl with --images" in notice
    frame = page.frame_locator("iframe.replay")
    assert frame.locator("h2").inner_text() == "没有图片的存档"
    assert frame.locator("img").get_attribute("src") is None  # nothing asked of the live site
    assert frame.locator("link[rel=stylesheet]").count() == 0
    page.goto(f"{bare}/-/newsspider/article/5")
    assert page.locator("main img").count() == 0
    assert page.locator(".image-missing").inner_text() == "图/某某社 (image not archived)"


def test_the_archived_page_fits_1366_and_390_and_has_no_serious_accessibility_violation(
        browser: Browser, crawled: tuple[str, Path, str]) -> None:  # noqa: F811
    root, _data, _site = crawled
    for width in (1366, 390):
        page = browser.new_page(viewport={"width": width, "height": 800})
        page.goto(f"{root}/-/newsspider/page/{PICTURED}")
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), width
        if width == 1366:
            results = Axe().run(page)
            bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                   for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
            assert not bad, bad
        page.close()
    status, _headers, body = _get(f"{root}/-/newsspider/page/999999")
    assert status == 404 and b"holds no article 999999" in body
