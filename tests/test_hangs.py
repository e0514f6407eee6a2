"""Downloads that hang end on every download handler, and Ctrl-C stops a crawl whose downloads hang.

The mock site's ``trickle`` fault answers one article with its headers, then a
few bytes a second of a 1 MiB body (``rate=0``: nothing more): a slow proxy's
or a hostile server's answer.  It is fetched by Scrapy's own handler (direct),
by the curl_cffi handler through a real SOCKS proxy, and by curl_cffi directly
(``--impersonate``).  Each crawl runs under a subprocess timeout, so that a
hang fails the test instead of blocking it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from newsspider.demo.pages import DemoSite
from tests.conftest import FAST, run_cli
from tests.mockserver import MockServer
from tests.proxies import NAME, Socks
from tests.test_proxies import PUBLIC, _clean_env

#: the article that hangs, and what the rest of the site is
HUNG = next(a for a in DemoSite().public_articles())
REST = PUBLIC - {str(HUNG.article_id)}
#: the ways a page is downloaded: Scrapy's handler, curl_cffi through a proxy, curl_cffi direct
ROUTES = ["direct", "socks", "impersonate"]


@contextmanager
def hanging_site(route: str, *, rate: int = 10, times: int = -1) -> Iterator[tuple[MockServer, list[str]]]:
    """The mock site with :data:`HUNG` trickling at *rate* bytes a second, and the crawl options of
    *route* (through a SOCKS proxy the site's name is one that only the proxy resolves)."""
    if route == "socks":
        with MockServer(name=NAME) as server, Socks() as proxy:
            server.fault(HUNG.path, "trickle", rate=rate, times=times)
            yield server, ["--proxy", proxy.url]
        return
    with MockServer() as server:
        server.fault(HUNG.path, "trickle", rate=rate, times=times)
        yield server, ["--impersonate", "chrome"] if route == "impersonate" else []


def command(server: MockServer, data_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "newsspider", "crawl", "--start-url", server.url("/bnews/"),
            "--data-dir", str(data_dir), *FAST, *extra]


def crawl(server: MockServer, data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*command(server, data_dir, *extra)[3:], timeout=90, env=_clean_env())


def stored(data_dir: Path) -> set[str]:
    """The articles stored so far, read while the crawl may be writing a line (left out until whole)."""
    path = data_dir / "articles.jsonl"
    lines = path.read_bytes().splitlines(keepends=True) if path.exists() else []
    return {json.loads(line)["article_id"] for line in lines if line.endswith(b"\n")}


@pytest.mark.parametrize("route", ROUTES)
def test_a_trickling_page_fails_as_a_timeout_and_the_rest_is_crawled(route: str, tmp_path: Path) -> None:
    """10 bytes a second of a 1 MiB page: DOWNLOAD_TIMEOUT is the whole response's, on every handler."""
    with hanging_site(route) as (server, options):
        result = crawl(server, tmp_path, *options, "-s", "DOWNLOAD_TIMEOUT=3", "-s", "RETRY_TIMES=0")
    assert result.returncode == 0, result.stderr
    assert stored(tmp_path) == REST
    assert f"WARNING failed (timeout): {server.url(HUNG.path)}" in result.stderr
    assert " 1 failed (timeout 1)," in result.stdout


@pytest.mark.parametrize("route", ["direct", "impersonate"])
def test_a_body_that_stalls_fails_after_the_stall_timeout(route: str, tmp_path: Path) -> None:
    """Headers and a first kilobyte, then nothing: the page fails as a timeout once nothing has come for
    NEWSSPIDER_STALL_TIMEOUT seconds, long before DOWNLOAD_TIMEOUT (longer than the test's bound)."""
    with hanging_site(route, rate=0) as (server, options):
        result = crawl(server, tmp_path, *options, "-s", "DOWNLOAD_TIMEOUT=600", "-s", "RETRY_TIMES=0",
                       "-s", "NEWSSPIDER_STALL_TIMEOUT=2")
    assert result.returncode == 0, result.stderr
    assert stored(tmp_path) == REST
    assert f"WARNING failed (timeout): {server.url(HUNG.path)}" in result.stderr


@pytest.mark.parametrize("route", ["direct", "socks"])
def test_ctrl_c_stops_a_crawl_whose_download_hangs_and_resume_fetches_it(route: str, tmp_path: Path) -> None:
    """SIGINT while a page trickles (DOWNLOAD_TIMEOUT of ten minutes): the crawl stops within the
    bound, with one line and exit 1; the hung request is kept in the frontier, so --resume gets it.
    Direct, the bound is the default NEWSSPIDER_STOP_TIMEOUT (10 s); through the proxy, a short one."""
    with hanging_site(route, times=1) as (server, options):
        bound = ["-s", "NEWSSPIDER_STOP_TIMEOUT=2"] if route == "socks" else []
        args = command(server, tmp_path, *options, "--resume", "-s", "DOWNLOAD_TIMEOUT=600", *bound)
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                errors="replace", env=_clean_env())
        try:
            deadline = time.monotonic() + 60
            while not (stored(tmp_path) == REST and any(r.get("fault") for r in server.requests())):
                assert proc.poll() is None and time.monotonic() < deadline, "the crawl did not reach the page"
                time.sleep(0.1)
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 1, stderr
        assert [line for line in stderr.splitlines() if line.startswith("Error: ")] == [
            "Error: the crawl did not finish (shutdown)"]
        assert "Traceback" not in stderr
        again = crawl(server, tmp_path, *options, "--resume")
    assert again.returncode == 0, again.stderr
    assert stored(tmp_path) == PUBLIC
