"""Bot challenges: named and never stored without a browser; passed with a real headless Chromium.

The mock site's challenge (:mod:`tests.challenge`) behaves as Cloudflare's
managed challenge does: 403 + ``cf-mitigated: challenge``, a script that only a
browser runs, a ``cf_clearance`` cookie bound to the browser's User-Agent and
good for a limited number of requests.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsspider.archive.reader import iter_responses, warc_files
from newsspider.demo.pages import DemoSite
from newsspider.memory.sqlite import read_runs
from tests.conftest import DEGRADED, FAST, crawl, read_jsonl, run_cli
from tests.mockserver import MockServer
from tests.proxies import EXIT, NAME, Socks
from tests.receivers import HttpReceiver
from tests.test_archive import content
from tests.test_distributed import redis_url, stored, worker  # noqa: F401 (redis_url: a fixture)
from tests.test_report import chromium_path

# One worker runs this module (one challenged site's crawl for the module).
pytestmark = pytest.mark.xdist_group("challenges")

PUBLIC = {str(a.article_id) for a in DemoSite().public_articles()}
#: the tests' Chromium, named as a user would
BROWSER = ["--browser", "-s", f"NEWSSPIDER_BROWSER_PATH={chromium_path()}"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MockServer, list[dict]]]:
    """The mock site, and what a crawl stores from it when nothing is challenged."""
    data_dir = tmp_path_factory.mktemp("plain")
    with MockServer() as server:
        result = crawl(server, data_dir)
        assert result.returncode == 0, result.stderr
        yield server, read_jsonl(data_dir / "articles.jsonl")
        server.challenge(None)


@pytest.fixture
def challenged(site: tuple[MockServer, list[dict]]) -> Iterator[MockServer]:
    server, _ = site
    yield server
    server.challenge(None)


def archived_statuses(data_dir: Path) -> list[tuple[str, int, str]]:
    """Every response the archive kept: URL, status, title."""
    pages = []
    for path in warc_files(data_dir):
        for page in iter_responses(path):
            title = re.search(rb"<title>(.*?)</title>", page.body or b"")
            text = title[1].decode("utf-8", "replace") if title else ""
            pages.append((page.url, int(page.status_line.split()[1]), text))
    return pages


def summary(result: subprocess.CompletedProcess[str]) -> str:
    return next(line for line in result.stdout.splitlines() if line.startswith("Crawl "))


def test_without_a_browser_challenges_are_counted_named_and_never_stored(challenged: MockServer,
                                                                         tmp_path: Path) -> None:
    challenged.challenge("listings")
    mark = len(challenged.requests())
    result = crawl(challenged, tmp_path)
    met = challenged.challenge_counts()["served"]
    # the sitemap index is challenged too: a warning and a sitemap problem, not a failed page
    sitemaps = len([r for r in challenged.requests()[mark:] if r["path"].endswith(".xml")])
    pages = met - sitemaps
    assert met > 0 and sitemaps == 1
    assert result.returncode == DEGRADED, result.stderr
    assert f"failed (challenge {pages})" in summary(result) and "http_403" not in summary(result)
    degraded = [line for line in result.stderr.splitlines()
                if line.startswith("Degraded: fetching/challenges")]
    assert degraded == [f"Degraded: fetching/challenges: {pages} pages stayed behind a bot challenge ({met} "
                        "challenges met): try --browser (pip install 'newsspider[browser]'), a proxy, or a "
                        "slower crawl (-s DOWNLOAD_DELAY=10)"]
    # reachable another way: stored; the challenge itself: never stored, parsed or archived
    stored = read_jsonl(tmp_path / "articles.jsonl")
    assert stored and {r["article_id"] for r in stored} <= PUBLIC
    assert not [p for p in archived_statuses(tmp_path) if p[1] == 403 or "Just a moment" in p[2]]
    assert all(r["title"] != "Just a moment..." for r in stored)
    run = read_runs(tmp_path)[-1]
    assert run.status == "degraded" and json.loads(run.failures) == {"challenge": pages}
    assert json.loads(run.quality or "{}")["challenges"] == met
    runs = run_cli("runs", str(tmp_path), "--run", str(run.run_id))
    assert f"failed pages: challenge {pages}" in runs.stdout


def test_a_site_that_challenges_every_page_fails_the_run_with_what_to_try(challenged: MockServer,
                                                                          tmp_path: Path) -> None:
    challenged.challenge("all")
    result = crawl(challenged, tmp_path)
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("Error: ")] == [
        f"Error: none of the start URLs could be fetched: {challenged.url('/bnews/')} (challenge); the site "
        "answers with a bot challenge: try --browser; stopped after 0 articles"]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "articles.jsonl").exists() or not read_jsonl(tmp_path / "articles.jsonl")


def test_the_browser_passes_every_challenge_and_renews_the_clearance(
        site: tuple[MockServer, list[dict]], challenged: MockServer, tmp_path: Path) -> None:
    """Every page challenged, each clearance good for 25 requests: every article stored exactly as
    without the challenge, through a few browser sessions, not one per page."""
    _, plain = site
    challenged.challenge("all", uses=25)
    result = crawl(challenged, tmp_path, *BROWSER)
    assert result.returncode == 0, result.stderr
    assert content(read_jsonl(tmp_path / "articles.jsonl")) == content(plain)
    counts = challenged.challenge_counts()
    pages = int(re.search(r"Crawl finished: (\d+) pages", result.stdout)[1])  # type: ignore[index]
    assert counts["refused"] == 0
    assert 2 <= counts["passed"] <= pages // 20 + 2  # renewed, and reused: not a browser per page
    assert counts["cleared"] >= pages - 1  # every page but robots.txt came with a clearance
    assert result.stderr.count("browser: started Chromium") == 1
    clearances = re.findall(r"browser: (obtained|renewed) clearance \d+ for ", result.stderr)
    assert len(clearances) == counts["passed"]
    assert ", 0 duplicates, 0 failed, " in summary(result)  # nothing fetched twice for a retry
    assert not [p for p in archived_statuses(tmp_path) if "Just a moment" in p[2]]
    quality = json.loads(read_runs(tmp_path)[-1].quality or "{}")
    assert quality["clearances"] == counts["passed"] and quality["challenges"] >= counts["passed"]
    # the crawl's requests after a clearance carry the browser's User-Agent, which the clearance is bound to
    agents = {r["user_agent"] for r in challenged.requests() if r.get("challenge") == "answer"}
    assert len(agents) == 1 and "HeadlessChrome" not in agents.pop()


def test_a_challenge_the_browser_cannot_pass_fails_the_page_instead_of_looping(
        challenged: MockServer, tmp_path: Path) -> None:
    challenged.challenge("all", delay=30)  # the page's script answers long after the timeout
    result = crawl(challenged, tmp_path, *BROWSER, "-s", "NEWSSPIDER_BROWSER_TIMEOUT=2")
    assert result.returncode == 1
    assert result.stderr.count("browser: no clearance for ") == 1
    assert "was not passed in 2 s" in result.stderr
    assert "(challenge); the site answers with a bot challenge: try --browser" in result.stderr
    assert challenged.challenge_counts()["passed"] == 0


def test_the_browser_goes_through_the_crawls_proxy(tmp_path: Path) -> None:
    """A site whose name only the SOCKS proxy resolves: the browser reaches it through the proxy too."""
    with MockServer(name=NAME) as server, Socks() as proxy:
        server.challenge("listings", uses=50)
        result = crawl(server, tmp_path, "--proxy", proxy.url, *BROWSER)
        assert result.returncode == 0, result.stderr
        requests = server.requests()
    assert {r["client"] for r in requests} == {EXIT}  # the browser's requests as well as the crawl's
    assert [r for r in requests if r.get("challenge") == "answer"]
    assert f"(through {proxy.url})" in result.stderr
    assert {r["article_id"] for r in read_jsonl(tmp_path / "articles.jsonl")} == PUBLIC


def test_browser_without_playwright_is_one_line(tmp_path: Path) -> None:
    script = ("import sys; sys.modules['playwright'] = None; from newsspider.cli import main; "
              "sys.argv[0] = 'newsspider'; main()")
    result = subprocess.run([sys.executable, "-c", script, "crawl", "--browser", "--start-url",
                             "http://127.0.0.1:9/bnews/", "--data-dir", str(tmp_path), *FAST],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: --browser needs Playwright, which is not installed: pip install 'newsspider[browser]'"]


def test_a_browser_path_that_is_not_a_program_is_one_line(tmp_path: Path) -> None:
    result = run_cli("crawl", "--browser", "-s", "NEWSSPIDER_BROWSER_PATH=/nonexistent/chromium",
                     "--start-url", "http://127.0.0.1:9/bnews/", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: NEWSSPIDER_BROWSER_PATH: /nonexistent/chromium is not a program that can be run")


def test_each_worker_of_a_distributed_crawl_obtains_its_own_clearance(
        challenged: MockServer, redis_url: str, tmp_path: Path) -> None:  # noqa: F811
    """A clearance is bound to the client's address: each worker gets its own, the run adds them up."""
    challenged.challenge("all", uses=40)
    procs = [worker(challenged, redis_url, tmp_path, f"w{i}", "challenged", *BROWSER) for i in range(2)]
    outputs = [proc.communicate(timeout=180) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    for _, err in outputs:
        assert "browser: obtained clearance 1 for " in err
    ids = stored(tmp_path)
    assert set(ids) == PUBLIC and max(ids.values()) == 1
    history = run_cli("runs", "--redis-url", redis_url, "--redis-prefix", "challenged", "--json")
    [run] = [json.loads(line) for line in history.stdout.splitlines()]
    assert run["quality"]["clearances"] == challenged.challenge_counts()["passed"]


def test_schedule_notifies_a_run_degraded_by_challenges(challenged: MockServer, tmp_path: Path) -> None:
    challenged.challenge("listings")
    with HttpReceiver() as receiver:
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsspider", "schedule", "--every", "1h", "--start-url",
             challenged.url("/bnews/"), "--data-dir", str(tmp_path), *FAST,
             "-s", f"NEWSSPIDER_WEBHOOK_URL={receiver.url('/hook')}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 90
        while not receiver.received:
            assert proc.poll() is None and time.monotonic() < deadline, "no notification"
            time.sleep(0.05)
        proc.terminate()
        proc.communicate(timeout=60)
    [message] = [m["json"] for m in receiver.received]
    assert message["status"] == "degraded"
    assert "fetching/challenges: " in message["text"] and "try --browser" in message["text"]
