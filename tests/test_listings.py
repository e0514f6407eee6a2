"""Deep listings and windows of time, on a generated site of 2,000 articles over 14 years.

The site (``benchmarks.site``, static files served by Twisted, every request logged) pages its
front page, 12 categories and 40 tags 20 articles at a time, newest first; 4% of the older articles
are linked to by no related list, so only deep listing pages lead to them.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from benchmarks.site import PER_PAGE, BenchSite
from newsspider.demo.markup import tag_path
from newsspider.extract import site as site_rules
from newsspider.run.estimate import SAMPLE_ARTICLES, SAMPLE_TAGS
from tests.conftest import DEGRADED, FAST, REPO, read_jsonl, run_cli
from tests.conftest import crawl as crawl_mock
from tests.mockserver import MockServer

ARTICLES = 2000
ORPHANS = 0.04
QUICK = [*FAST, "-s", "CONCURRENT_REQUESTS=32", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=32",
         "-s", "NEWSSPIDER_PROGRESS_INTERVAL=0", "--no-warc"]


@dataclass
class Site:
    base: str
    log: Path
    site: BenchSite

    def requests(self) -> list[str]:
        """The paths requested so far (percent-decoded), in order."""
        lines = self.log.read_text("utf-8", "replace").splitlines() if self.log.exists() else []
        return [unquote(m[1]) for line in lines if (m := re.search(r'"GET (\S+) HTTP', line))]

    def days(self) -> dict[str, str]:
        """Every article's id -> day (YYYY-MM-DD)."""
        return {str(a.article_id): f"{a.day[:4]}-{a.day[4:6]}-{a.day[6:]}" for a in self.site.articles}

    def listings(self) -> dict[str, list[str]]:
        """Every listing's path -> the days of its articles, newest first."""
        newest = sorted(self.site.articles, key=lambda a: (a.day, a.article_id), reverse=True)
        out = {"/bnews/": [a.day for a in newest]}
        for category in {a.category for a in newest}:
            out[f"/bnews/{category}/"] = [a.day for a in newest if a.category == category]
        for tag in {t for a in newest for t in a.tags}:
            out[unquote(tag_path(tag))] = [a.day for a in newest if tag in a.tags]
        return out


def serve_site(tmp_path_factory: pytest.TempPathFactory, name: str, articles: int) -> Iterator[Site]:
    root = tmp_path_factory.mktemp(name)
    log = root.parent / f"{root.name}.log"
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.server", str(root), str(log)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    base = proc.stdout.readline().strip()
    generated = BenchSite(root, base, shape="links")  # the site docs/crawling.md's estimate was run on
    generated.generate(articles, seed=5, orphans=ORPHANS, paragraphs=(2, 4))
    try:
        yield Site(base, log, generated)
    finally:
        proc.terminate()
        proc.wait()


@pytest.fixture(scope="module")
def deep_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from serve_site(tmp_path_factory, "deep-site", ARTICLES)


@pytest.fixture(scope="module")
def smaller_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The same site with 600 articles over the same 14 years (a front page of 30 pages), for tests of
    what runs one after another fetch, where the depth is not the point."""
    yield from serve_site(tmp_path_factory, "smaller-site", 600)


def orphans(site: BenchSite) -> set[str]:
    linked = {site.articles[i].article_id for a in site.articles for i in a.related}
    return {str(a.article_id) for a in site.articles} - {str(i) for i in linked}


def crawl(deep: Site, data_dir: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """A crawl of the site's front page; the paths it requested."""
    before = len(deep.requests())
    result = run_cli("crawl", "--start-url", deep.base + "/bnews/", "--data-dir", str(data_dir), *QUICK,
                     *extra, timeout=600)
    return result, deep.requests()[before:]


def stored(data_dir: Path) -> set[str]:
    return {r["article_id"] for r in read_jsonl(data_dir / "articles.jsonl")}


def estimated_pages(deep: Site, *extra: str) -> int:
    """The pages ``newsspider estimate`` says a crawl of the site's front page fetches."""
    result = run_cli("estimate", "--start-url", deep.base + "/bnews/", *FAST, *extra)
    assert result.returncode == 0, result.stderr
    return pages_estimated(result)


def pages_estimated(result: subprocess.CompletedProcess[str]) -> int:
    match = re.search(r"^Pages: about ([\d,]+) \(", result.stdout, re.M)
    assert match, result.stdout
    return int(match[1].replace(",", ""))


def within_a_quarter(estimated: int, crawled: subprocess.CompletedProcess[str]) -> bool:
    """Whether *estimated* is within 25% of the pages the crawl says it fetched (its summary line)."""
    match = re.search(r"^Crawl finished: (\d+) pages", crawled.stdout, re.M)
    assert match, crawled.stdout
    assert 0.75 * int(match[1]) <= estimated <= 1.25 * int(match[1]), (estimated, match[0])
    return True


def listing_pages(paths: list[str]) -> list[str]:
    return [p for p in paths if site_rules.classify("http://x" + p) in (site_rules.Kind.LISTING,
                                                                         site_rules.Kind.TAG)]


def test_a_first_crawl_stores_every_article_even_those_only_deep_listings_lead_to(
        deep_site: Site, tmp_path: Path) -> None:
    unlinked = orphans(deep_site.site)
    assert len(unlinked) >= ARTICLES * ORPHANS * 0.9  # what only the listings lead to
    estimated = estimated_pages(deep_site)
    result, paths = crawl(deep_site, tmp_path)
    assert result.returncode in (0, DEGRADED), result.stderr[-3000:]
    assert "Crawl finished:" in result.stdout
    assert within_a_quarter(estimated, result)
    got = stored(tmp_path)
    assert unlinked - got == set()
    assert got == set(deep_site.days())
    # every page of every listing, once (no listing cut short, none walked twice)
    expected = sum(math.ceil(len(days) / PER_PAGE) for days in deep_site.listings().values())
    pages = listing_pages(paths)
    assert len(set(pages)) == len(pages)
    assert {p for p in pages if p in deep_site.listings() or "/page/" in p} >= {
        path + (f"page/{n}/" if n > 1 else "") for path, days in deep_site.listings().items()
        for n in range(1, math.ceil(len(days) / PER_PAGE) + 1)}
    assert len([p for p in pages if urlsplit(p).path.startswith("/bnews/")]) >= expected


def window_minimum(deep: Site, since: str, until: str) -> tuple[int, int]:
    """(the listing pages any crawl of the window must fetch: each listing's first page, the pages that
    hold an article of the window and the page after them, which shows the listing has gone past it;
    the allowance for finding where the window starts: the fewer of the pages before it and two per
    halving of the listing)."""
    need = allowance = 0
    low, high = since.replace("-", ""), until.replace("-", "")
    for days in deep.listings().values():
        pages = [days[i:i + PER_PAGE] for i in range(0, len(days), PER_PAGE)]
        holding = [n for n, chunk in enumerate(pages) if any(low <= d <= high for d in chunk)]
        if not holding:
            need += 1
            continue
        first, last = holding[0], holding[-1]
        need += len({0, *holding, min(last + 1, len(pages) - 1)})
        allowance += min(max(first - 1, 0), 2 * math.ceil(math.log2(len(pages))) + 2)
    return need, allowance


def walk_to_window_end(deep: Site, since: str) -> int:
    """The listing pages a walk from each listing's page 1 to the first page past *since* fetches."""
    low = since.replace("-", "")
    total = 0
    for days in deep.listings().values():
        pages = [days[i:i + PER_PAGE] for i in range(0, len(days), PER_PAGE)]
        total += next((n + 1 for n, chunk in enumerate(pages) if all(d < low for d in chunk)), len(pages))
    return total


def test_a_window_fetches_exactly_its_articles_through_few_listing_pages(deep_site: Site,
                                                                          tmp_path: Path) -> None:
    since, until = "2015-01-01", "2016-06-30"
    in_window = {i for i, day in deep_site.days().items() if since <= day <= until}
    estimated = estimated_pages(deep_site, "--since", since, "--until", until)
    result, paths = crawl(deep_site, tmp_path, "--since", since, "--until", until)
    assert result.returncode in (0, DEGRADED), result.stderr[-3000:]
    assert within_a_quarter(estimated, result)
    assert stored(tmp_path) == in_window
    articles = [p for p in paths if site_rules.ARTICLE_PATH.match(p)]
    assert len(articles) == len(in_window)  # nothing outside the window was requested
    need, allowance = window_minimum(deep_site, since, until)
    known = deep_site.listings()  # (the menus also link to categories this site does not have: 404)
    fetched = len([p for p in listing_pages(paths) if re.sub(r"page/\d+/$", "", p) in known])
    all_pages = sum(math.ceil(len(d) / PER_PAGE) for d in deep_site.listings().values())
    assert need <= fetched <= need + allowance, (need, allowance, fetched)
    assert fetched < walk_to_window_end(deep_site, since) - 30  # the long front page is entered ahead
    assert fetched < all_pages
    run = json.loads(run_cli("runs", str(tmp_path), "--json").stdout.splitlines()[-1])
    assert run["window"] == {"since": since, "until": until}
    assert "outside the window" in result.stdout or "outside_window" in result.stderr


def test_a_wider_window_then_the_whole_site_fetch_only_what_the_runs_before_did_not(
        smaller_site: Site, tmp_path: Path) -> None:
    days = smaller_site.days()
    first, _ = crawl(smaller_site, tmp_path, "--since", "2016-01-01", "--until", "2016-12-31")
    assert first.returncode in (0, DEGRADED), first.stderr[-3000:]
    once = stored(tmp_path)
    assert once == {i for i, d in days.items() if "2016-01-01" <= d <= "2016-12-31"}
    wider, paths = crawl(smaller_site, tmp_path, "--since", "2015-01-01")
    assert wider.returncode in (0, DEGRADED), wider.stderr[-3000:]
    fetched = {m["id"] for p in paths if (m := site_rules.ARTICLE_PATH.match(p))}
    assert fetched & once == set()
    assert stored(tmp_path) == {i for i, d in days.items() if d >= "2015-01-01"}
    # Neither windowed run walked the whole site: the next unbounded one pages every listing to its
    # end (its older pages list nothing stored yet), and the dataset is then the whole site.
    whole, paths = crawl(smaller_site, tmp_path)
    assert whole.returncode in (0, DEGRADED), whole.stderr[-3000:]
    assert stored(tmp_path) == set(days)
    fetched = {m["id"] for p in paths if (m := site_rules.ARTICLE_PATH.match(p))}
    assert fetched == {i for i, d in days.items() if d < "2015-01-01"}


def test_a_bad_window_is_one_line(tmp_path: Path) -> None:
    for args, message in ((["--since", "2024-13-01"], "--since: not a day"),
                          (["--until", "yesterday"], "--until: not a day"),
                          (["--since", "2024-02-01", "--until", "2024-01-01"], "is after --until")):
        for command in (["crawl"], ["schedule", "--every", "1h"], ["estimate"]):
            result = run_cli(*command, "--data-dir", str(tmp_path), *args)
            assert result.returncode == 2, result.stderr
            assert message in result.stderr and "Traceback" not in result.stderr


def test_estimate_tells_the_size_from_a_few_listing_pages(deep_site: Site) -> None:
    before = len(deep_site.requests())
    result = run_cli("estimate", "--start-url", deep_site.base + "/bnews/", *FAST)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # the estimate, and no crawl's log lines
    fetched = deep_site.requests()[before:]
    front_pages = math.ceil(ARTICLES / PER_PAGE)
    assert f"/bnews/: {front_pages} pages of {PER_PAGE}, about {ARTICLES:,} articles" in result.stdout
    # the doubling and halving, and the first page of each article's category and a few of its tags
    sampled = [p for p in fetched if site_rules.ARTICLE_PATH.match(p)]
    assert len(sampled) == SAMPLE_ARTICLES
    assert len(listing_pages(fetched)) <= 2 * math.ceil(math.log2(front_pages)) + 2 + \
        SAMPLE_ARTICLES * (1 + SAMPLE_TAGS)
    # no delay: the server's pace, not the measured one
    assert re.search(r"^Time: as fast as the site answers: no delay between requests \(DOWNLOAD_DELAY 0 s, "
                     r"AutoThrottle off, latency \d+ ms\)$", result.stdout, re.M), result.stdout
    assert "Disk: " in result.stdout and "measured on the benchmark site" in result.stdout

    since, until = "2015-01-01", "2016-06-30"
    windowed = run_cli("estimate", "--start-url", deep_site.base + "/bnews/", "--since", since,
                       "--until", until, *FAST)
    assert windowed.returncode == 0, windowed.stderr
    match = re.search(r"^Articles: about ([\d,]+) from 2015-01-01 to 2016-06-30$", windowed.stdout, re.M)
    assert match, windowed.stdout
    real = sum(1 for day in deep_site.days().values() if since <= day <= until)
    # the window's pages, to a page at each end
    assert abs(int(match[1].replace(",", "")) - real) <= 2 * PER_PAGE
    # what docs/crawling.md shows this estimate printing, but for the time (shown at the default
    # politeness: a minute of waiting) and this server's port
    text = (REPO / "docs" / "crawling.md").read_text("utf-8")
    shown = text[text.index("It prints only what a crawl would fetch"):].split("```\n", 2)[1].splitlines()
    printed = windowed.stdout.replace(deep_site.base, "http://127.0.0.1:PORT").splitlines()
    shown = [re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line) for line in shown]
    assert [line for line in printed if not line.startswith("Time: ")] == \
        [line for line in shown if not line.startswith("Time: ")]


def test_the_estimate_of_the_demo_site_is_within_a_quarter_of_a_crawl(site_server: MockServer,
                                                                       tmp_path: Path) -> None:
    """From the front page and from a category (whose menus lead a crawl to every listing)."""
    estimates = []
    for start in ("/bnews/", "/bnews/itnews/"):
        estimate = run_cli("estimate", "--start-url", site_server.url(start), *FAST)
        assert estimate.returncode == 0 and estimate.stderr == "", estimate.stderr
        estimates.append(pages_estimated(estimate))
    crawled = crawl_mock(site_server, tmp_path)
    assert crawled.returncode == 0, crawled.stderr
    assert all(within_a_quarter(pages, crawled) for pages in estimates)


def test_estimate_of_a_site_that_does_not_answer_is_one_line() -> None:
    result = run_cli("estimate", "--start-url", "http://127.0.0.1:9/bnews/", *FAST, "-s", "RETRY_TIMES=0")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert "Traceback" not in result.stderr


def _progress_crawl(deep: Site, data_dir: Path, since: str) -> list[str]:
    return ["crawl", "--start-url", deep.base + "/bnews/", "--data-dir", str(data_dir), "--since", since,
            *FAST, "-s", "CONCURRENT_REQUESTS=4", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4", "--no-warc"]


def test_progress_of_a_window_gives_done_of_the_expected_total(deep_site: Site, tmp_path: Path) -> None:
    since = "2021-01-01"
    real = sum(1 for day in deep_site.days().values() if day >= since)
    result = run_cli(*_progress_crawl(deep_site, tmp_path, since), "-s", "NEWSSPIDER_PROGRESS_INTERVAL=0.2")
    assert result.returncode in (0, DEGRADED), result.stderr[-2000:]
    totals = [int(m[2].replace(",", "")) for m in re.finditer(
        r"progress: .*; ([\d,]+) of about ([\d,]+) articles \(\d+%\)", result.stderr)]
    assert totals, result.stderr[-2000:]
    assert all(0.75 * real <= total <= 1.25 * real for total in totals), (real, totals)
    assert re.search(r"of about [\d,]+ articles \(\d+%\), ETA \d+(?:s|m\d\ds)", result.stderr)


def test_progress_on_a_terminal_is_one_updating_line(deep_site: Site, tmp_path: Path) -> None:
    command = " ".join(f"'{arg}'" for arg in [sys.executable, "-m", "newsspider",
                                                *_progress_crawl(deep_site, tmp_path, "2021-01-01")])
    typescript = tmp_path / "typescript"
    done = subprocess.run(["script", "-qec", f"stty cols 120 rows 40; {command}", str(typescript)],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    assert done.returncode in (0, DEGRADED), done.stdout[-2000:]
    screen = typescript.read_bytes().decode("utf-8", "replace")
    bars = re.findall(r"(\d+)%\|[^|\n]*\| ([\d,]+)/([\d,]+) \[", screen)
    assert bars, screen[-2000:]
    assert "progress:" not in screen  # no log lines of progress: the bar is redrawn in place (\r)
    assert "\r" in screen and "Crawl finished:" in screen
