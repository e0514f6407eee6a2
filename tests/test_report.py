"""``dataset report`` rendered in a real headless Chromium (with CJK fonts): its text read back, the
time axis measured, nothing from crawled pages run as markup."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import crawl, read_jsonl, run_cli
from tests.mockserver import MockServer

HOSTILE = "<script>alert(1)</script>"


def chromium_path() -> str:
    path = os.environ.get("NEWSSPIDER_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    assert path, "no Chromium: python -m tests.setup installs it"
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield browser
        browser.close()


def record(article_id: int, day: str, tags: list[str], title: str = "标题") -> dict:
    url = f"https://www.bannedbook.org/bnews/itnews/{day.replace('-', '')}/{article_id}.html"
    return {"article_id": str(article_id), "url": url, "category": "itnews", "published_date": day,
            "published_at": None, "title": title, "summary": None, "body": "正文。", "author": None,
            "source": None, "editor": None,
            "image_credit": None, "image_url": None, "images": [], "tags": tags, "related_urls": [],
            "crawled_at": "2026-01-01T00:00:00Z", "content_hash": f"sha256:{article_id:064x}", "warc": None,
            "version": 1, "schema_version": 2}


def render(browser: Browser, report: Path) -> Page:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(report.as_uri())
    return page


def test_cjk_text_renders_with_real_glyphs(browser: Browser) -> None:
    """Two different characters look different: a missing CJK font would draw the same empty box."""
    page = browser.new_page()
    page.set_content('<span id="a" style="font-size:48px">中</span> '
                     '<span id="b" style="font-size:48px">国</span>')
    assert page.locator("#a").screenshot() != page.locator("#b").screenshot()


def test_articles_over_time_have_a_real_time_axis(browser: Browser, tmp_path: Path) -> None:
    lines = [record(1, "2020-01-07", ["人权", HOSTILE]), record(2, "2022-02-20", ["人权"], title=HOSTILE),
             record(3, "2021-06-01", ["贸易战"])]
    (tmp_path / "articles.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines))
    out = tmp_path / "report.html"
    assert run_cli("dataset", "report", str(tmp_path), "--out", str(out)).returncode == 0
    page = render(browser, out)
    text = page.inner_text("body")
    assert "articles per week" in text and {"2020", "2021", "2022"} <= set(text.split())
    chart = page.locator("#articles-over-time").bounding_box()
    first = page.locator('#articles-over-time rect[data-label="2020-01-06"]').bounding_box()
    last = page.locator('#articles-over-time rect[data-label="2022-02-14"]').bounding_box()
    middle = page.locator('#articles-over-time rect[data-label="2021-05-31"]').bounding_box()
    assert chart and first and last and middle
    # two years apart on the page as in time, not side by side: 110 of 111 weeks across the chart
    assert (last["x"] - first["x"]) / chart["width"] == pytest.approx(110 / 111, abs=0.01)
    assert (middle["x"] - first["x"]) / (last["x"] - first["x"]) == pytest.approx(73 / 110, abs=0.01)
    # the crawled text is shown as text, never run
    assert page.evaluate("document.scripts.length") == 0
    assert HOSTILE in text
    tags = page.locator("#tags-over-time").inner_text()
    assert "人权" in tags and HOSTILE in tags and "2020" in tags and "2022" in tags


def test_coverage_per_run_shows_the_cliff(browser: Browser, mockserver: MockServer, tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    mockserver.add_articles(30)
    mockserver.rewrite('<p id="summary">', '<p class="lead">')
    assert crawl(mockserver, tmp_path).returncode == 3
    out = tmp_path / "report.html"
    assert run_cli("dataset", "report", str(tmp_path), "--out", str(out)).returncode == 0
    page = render(browser, out)
    rows = [row.split("\t") for row in page.locator("#coverage-per-run tbody").inner_text().splitlines()]
    header = page.locator("#coverage-per-run thead").inner_text().split("\t")
    summary = header.index("summary")
    assert [row[0] for row in rows] == ["1", "2"] and [row[2] for row in rows] == ["finished", "degraded"]
    assert float(rows[0][summary]) > 30 and float(rows[1][summary]) == 0
    assert "coverage/fields: summary" in rows[1][-1]
    # the line of summary drops to the chart's floor at run 2
    points = page.locator('#coverage-chart polyline[data-series="summary"]').get_attribute("points")
    assert points is not None
    (_, y1), (_, y2) = [tuple(map(float, p.split(","))) for p in points.split()]
    assert y2 - y1 > 0.3 * 220  # more than 30 of 100 points on a 220-pixel plot
    # neither run failed a page: a sentence says so, rather than a chart of two empty bars
    assert page.locator("#failures-per-run").inner_text() == "No page failed in any run."


def test_the_report_tells_the_truth_about_runs_that_stored_nothing(browser: Browser, tmp_path: Path) -> None:
    """Run 2 finds nothing new: "nothing new", not 0% coverage; a single measured run is a point; no chart
    of zeros (a sentence); the latest articles link to their URL and show their id."""
    data = tmp_path / "data"
    with MockServer() as server:
        assert crawl(server, data).returncode == 0
        one = tmp_path / "one.html"
        assert run_cli("dataset", "report", str(data), "--out", str(one)).returncode == 0
        assert crawl(server, data).returncode == 0  # nothing new on the site
    page = render(browser, one)
    dots = page.locator("#coverage-chart circle[data-series=title]")
    assert dots.count() == 1 and (dots.first.bounding_box() or {}).get("width", 0) > 0
    out = tmp_path / "report.html"
    assert run_cli("dataset", "report", str(data), "--out", str(out)).returncode == 0
    page = render(browser, out)
    rows = page.locator("#coverage-per-run tbody tr").all_inner_texts()
    assert len(rows) == 2 and "nothing new" in rows[1] and "nothing new" not in rows[0]
    assert page.locator("#coverage-chart circle[data-series=title]").count() == 1
    assert "1 of 2 runs stored nothing new" in page.inner_text("body")
    assert page.locator("#failures-per-run").inner_text() == "No page failed in any run."
    link = page.locator("#latest-articles tbody tr").first
    cells = link.locator("td").all_inner_texts()
    href = link.locator("a").get_attribute("href")
    latest = max(read_jsonl(data / "articles.jsonl"), key=lambda r: (r["published_date"], r["title"]))
    assert cells[1] == latest["article_id"] and href == latest["url"] and cells[2] == latest["title"]


def test_a_run_of_a_few_articles_is_drawn_as_no_cliff(browser: Browser, refreshed: Path,
                                                       tmp_path: Path) -> None:
    """A --refresh run that stored the one article that changed (no summary, no time) says nothing of the
    selectors: the chart leaves it out (as the checks do not compare it), the table shows it marked."""
    out = tmp_path / "report.html"
    assert run_cli("dataset", "report", str(refreshed), "--out", str(out)).returncode == 0
    page = render(browser, out)
    rows = [row.split("\t") for row in page.locator("#coverage-per-run tbody").inner_text().splitlines()]
    header = page.locator("#coverage-per-run thead").inner_text().split("\t")
    stored, summary = header.index("stored"), header.index("summary")
    assert [row[0] for row in rows] == ["1", "2"] and rows[1][stored] == "1 (few)"
    assert float(rows[0][summary]) > 30 and float(rows[1][summary]) == 0  # the numbers are all there
    assert page.locator("#coverage-per-run tbody tr.few").count() == 1
    chart = page.locator("#coverage-chart")
    for line in chart.locator("polyline").all():  # one point per series: run 1's; no line down to run 2
        assert len((line.get_attribute("points") or "").split()) == 1
    assert "#2" not in (chart.text_content() or "")
    assert "run #2 stored fewer than 20 articles" in page.inner_text("body")
    # the number under which the checks do not compare a run either
    from newsspider.crawl.addon import DEFAULTS
    from newsspider.views.report import MIN_ARTICLES

    assert DEFAULTS["NEWSSPIDER_MONITOR_MIN_ARTICLES"] == MIN_ARTICLES == 20


def _wide_report(tmp_path: Path) -> Path:
    """A report with all that makes a page wide: 40 runs, tags over 24 months, long titles, URLs, tags."""
    from newsspider.memory import Run
    from newsspider.views.report import html_report, summarize

    lines = []
    for i in range(60):
        day = f"{2022 + i // 30}-{1 + i % 12:02d}-{1 + i % 28:02d}"
        tags = [f"标签{i % 12}", "AVeryLongTagNameWithoutAnySpaceThatWouldNotWrap" * 2]
        rec = record(i + 1, day, tags, title="很长的标题" * 30 + "x" * 120)
        rec["url"] += "?" + "q" * 200
        rec["source"] = "来源" * 40
        lines.append(json.dumps(rec, ensure_ascii=False) + "\n")
    (tmp_path / "articles.jsonl").write_text("".join(lines), "utf-8")
    quality = json.dumps({"stored": 40, "fields": {"title": 40, "summary": 20, "author": 10}})
    runs = [Run(n, f"2026-01-{1 + n % 28:02d}T00:00:00Z", None, "degraded", 100, 40, 0, 0, n % 5, 0,
                "finished", "{}", quality, json.dumps(["coverage/fields: summary: on 0% of the records, "
                                                      "41% in the median of the last 3 runs" * 2]))
            for n in range(1, 41)]
    out = tmp_path / "report.html"
    out.write_text(html_report(summarize(tmp_path), runs), "utf-8")
    return out


@pytest.mark.parametrize("width", [1366, 390])
def test_the_report_fits_the_screen(browser: Browser, tmp_path: Path, width: int) -> None:
    """No horizontal scroll on a laptop's screen nor on a phone's; a wide table scrolls in its own box,
    so that its last column is still there to see."""
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.goto(_wide_report(tmp_path).as_uri())
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
    last = page.locator("#coverage-per-run thead th").last
    last.scroll_into_view_if_needed()
    box = last.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 1
    for chart in ("#coverage-chart", "svg#failures-per-run", "#articles-over-time"):  # scaled to the page
        box = page.locator(chart).bounding_box()
        assert box and box["x"] + box["width"] <= width, chart
    assert page.locator("svg#failures-per-run rect").count() == 40


def test_what_is_empty_is_a_sentence_not_an_empty_chart_or_table(browser: Browser, tmp_path: Path) -> None:
    """One untagged article without source, no bad line, runs that failed nothing: no empty table nor
    chart of nothing, a sentence each."""
    from newsspider.memory import Run
    from newsspider.views.report import html_report, summarize

    (tmp_path / "articles.jsonl").write_text(json.dumps(record(1, "2024-01-02", [])) + "\n", "utf-8")
    quality = json.dumps({"stored": 30, "fields": {"title": 30}})
    runs = [Run(n, "2026-01-01T00:00:00Z", None, "finished", 10, 30, 0, 0, 0, 0, "finished", "{}", quality,
                None) for n in (1, 2)]
    out = tmp_path / "report.html"
    out.write_text(html_report(summarize(tmp_path), runs), "utf-8")
    page = render(browser, out)
    for table in page.locator("table").all():
        assert table.locator("tbody tr").count() > 0, table.get_attribute("id")
    for chart in page.locator("svg.chart").all():
        drawn = chart.locator("rect:not([height='0.00']), polyline, circle")
        assert drawn.count() > 0, chart.get_attribute("id")
    text = page.inner_text("body")
    for sentence in ("No tagged articles.", "No page failed in any run.", "No bad lines.",
                     "No article names its source."):
        assert sentence in text, sentence
    assert "none" not in text.split()
