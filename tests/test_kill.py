"""A crawl killed at any moment loses nothing, stores nothing twice, and can be resumed."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from newsspider.dataset.reader import load
from newsspider.demo.pages import DemoSite
from newsspider.extract import site
from newsspider.memory.sqlite import read_runs
from tests import forkrun
from tests.conftest import FAST, crawl, reports_killed_run
from tests.mockserver import MockServer

PUBLIC_IDS = {str(a.article_id) for a in DemoSite().public_articles()}
# Slow enough (about 6 s for the mock site) to be stopped part-way.
SLOW = ["-s", "DOWNLOAD_DELAY=0.04", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False", "-s", "CONCURRENT_REQUESTS=1"]


def start(server: MockServer, data_dir: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "newsspider", "crawl", "--start-url", server.url("/bnews/"),
         "--data-dir", str(data_dir), *FAST, *SLOW, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def wait_until(condition, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the crawl ended before it could be stopped: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def assert_complete_and_whole(data_dir: Path) -> None:
    raw = (data_dir / "articles.jsonl").read_bytes()
    assert raw.endswith(b"\n"), "a partial line was left"
    ids = Counter(json.loads(line)["article_id"] for line in raw.splitlines())
    assert set(ids) == PUBLIC_IDS
    assert max(ids.values()) == 1, "an article was stored twice"


@pytest.mark.parametrize("after_lines", [0, 5, 25])
def test_sigkill_then_run_again(site_server: MockServer, tmp_path: Path, after_lines: int) -> None:
    proc = start(site_server, tmp_path)
    if after_lines:
        wait_until(lambda: lines(tmp_path / "articles.jsonl") >= after_lines, proc)
    else:  # killed while it has fetched pages but stored nothing yet
        wait_until(lambda: len(site_server.requests()) >= 2, proc)
    proc.kill()
    proc.wait(timeout=10)
    stored_before = lines(tmp_path / "articles.jsonl")

    result = crawl(site_server, tmp_path)
    assert reports_killed_run(result), result.stderr
    assert_complete_and_whole(tmp_path)
    first, second = read_runs(tmp_path)
    assert first.status == "interrupted" and first.new_articles == stored_before
    assert second.status == "degraded" and second.finish_reason == "finished"
    assert first.new_articles + second.new_articles == len(PUBLIC_IDS)


def test_sigkill_then_resume_starts_over_safely(site_server: MockServer, tmp_path: Path) -> None:
    proc = start(site_server, tmp_path, "--resume")
    wait_until(lambda: lines(tmp_path / "articles.jsonl") >= 10, proc)
    proc.kill()
    proc.wait(timeout=10)
    result = crawl(site_server, tmp_path, "--resume")
    assert reports_killed_run(result), result.stderr
    assert "killed before it saved its frontier; starting over" in result.stderr
    assert_complete_and_whole(tmp_path)


def test_sigterm_then_resume_continues_the_frontier(site_server: MockServer, tmp_path: Path) -> None:
    proc = start(site_server, tmp_path, "--resume")
    wait_until(lambda: lines(tmp_path / "articles.jsonl") >= 10, proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "the crawl did not finish (shutdown)" in stderr
    assert (tmp_path / "job" / "requests.queue").is_dir()
    first = len(site_server.requests())

    result = crawl(site_server, tmp_path, "--resume")
    assert result.returncode == 0, result.stderr
    assert "resuming the frontier saved in" in result.stderr
    assert_complete_and_whole(tmp_path)
    paths = [r["path"] for r in site_server.requests() if site.ARTICLE_PATH.match(r["path"])]
    assert max(Counter(paths).values()) == 1, "an article page was fetched twice"
    assert [r.status for r in read_runs(tmp_path)] == ["stopped", "finished"]
    before = {r["path"] for r in site_server.requests()[:first]}
    again = before & {r["path"] for r in site_server.requests()[first:]}
    assert len(before) > 5
    sitemaps = {p for p in before if p.endswith((".xml", ".xml.gz"))}  # read again: the listings go by them
    assert again <= {"/robots.txt", "/bnews/", *sitemaps}, "the resumed crawl fetched pages again"


def test_random_kills_then_one_crawl_lose_nothing(site_server: MockServer, tmp_path: Path) -> None:
    """SIGKILL at 12 moments of a concurrent crawl, each followed by one normal crawl: before anything is
    stored, after a random count of stored articles in each tenth of the site, and once all are stored
    (while the crawl closes).  The killed crawl runs forked from the test's fork server
    (:func:`tests.forkrun.start`): a SIGKILL ends a process the same however it was started.  (A write
    cut short by the kill is left to chance here; tests/test_incremental.py cuts one on purpose.)"""
    rng = random.Random(20261129)
    concurrent = ["-s", "DOWNLOAD_DELAY=0.01", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False",
                  "-s", "CONCURRENT_REQUESTS=4"]
    tenth = len(PUBLIC_IDS) / 10
    kill_points = [0, *(rng.randrange(round(k * tenth), round((k + 1) * tenth)) for k in range(10)),
                   len(PUBLIC_IDS)]
    killed_runs = 0
    for trial, after_lines in enumerate(kill_points):
        data_dir = tmp_path / f"trial-{trial}"
        seen = len(site_server.requests())
        proc = forkrun.start(["crawl", "--start-url", site_server.url("/bnews/"), "--data-dir", str(data_dir),
                              *FAST, *concurrent])
        try:
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                if lines(data_dir / "articles.jsonl") >= after_lines and len(site_server.requests()) > seen:
                    break
                time.sleep(0.005)
            proc.kill()
            killed = proc.wait(timeout=10) == -signal.SIGKILL  # else it had finished already
        finally:
            proc.close()
        killed_runs += killed
        result = crawl(site_server, data_dir)
        assert reports_killed_run(result) if killed else result.returncode == 0, result.stderr
        # A SIGKILL can stop a write between two pages and cut the last line short (the kernel checks
        # for it there): that line is left alone, the next crawl stores into a continuation shard,
        # and the reader skips the cut line. What is promised: nothing lost, nothing twice.
        ids = Counter(r["article_id"] for r in load(data_dir, latest=False))
        assert set(ids) == PUBLIC_IDS, f"trial {trial} (killed after {after_lines} lines) lost " \
                                       f"{sorted(PUBLIC_IDS - set(ids))}"
        assert max(ids.values()) == 1, f"trial {trial}: an article was stored twice"
    assert killed_runs >= len(kill_points) - 2, "most crawls ended before they could be killed"
