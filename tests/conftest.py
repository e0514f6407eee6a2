from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from tests import forkrun
from tests.mockserver import MockServer, SharedServer

FIXTURES = Path(__file__).parent / "fixtures"


def seed_page(name: str) -> bytes:
    """A real page of the site, as the package bundles it (``newsspider/demo/``)."""
    return resources.files("newsspider.demo").joinpath(name).read_bytes()


REPO = Path(__file__).parent.parent


def pytest_sessionstart(session: pytest.Session) -> None:
    """Name in one line what the tests need and this machine lacks (``python -m tests.setup``
    installs it), instead of letting every test that starts it fail on its own."""
    from tests.setup import missing

    if needed := missing():
        pytest.exit(f"the tests need {', '.join(needed)}: run `python -m tests.setup` (the README's test "
                    "command does) to install them", returncode=4)

# Settings every test crawl uses: no politeness delays against the local server.
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16"]


@pytest.fixture
def mockserver() -> Iterator[MockServer]:
    """A mock site of the test's own: it may change the site (add, edit, rewrite, faults, challenges)."""
    with MockServer() as server:
        yield server


@pytest.fixture(scope="module")
def _module_server() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.fixture
def site_server(_module_server: MockServer) -> MockServer:
    """The module's mock site, shared by its tests that do not change it; its request log is this
    test's alone (tests run one at a time)."""
    return SharedServer(_module_server)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``newsspider`` command in a process of its own (forked from a server that imported
    it once: :mod:`tests.forkrun`), in *env* (default: the test's environment)."""
    return forkrun.run(args, cwd=cwd, timeout=timeout, env=env)


def crawl(server: MockServer, data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``newsspider crawl`` of the mock site's front page into *data_dir*."""
    return run_cli("crawl", "--start-url", server.url("/bnews/"), "--data-dir", str(data_dir),
                   *FAST, *extra)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


#: exit status of a crawl whose monitors failed (a "degraded" run)
DEGRADED = 3


def reports_killed_run(result: subprocess.CompletedProcess[str], run_id: int = 1) -> bool:
    """The crawl after a killed one finished and named the killed run (exit status 3: degraded)."""
    return (result.returncode == DEGRADED
            and f"Degraded: runs/finished: run {run_id} never finished" in result.stderr
            and result.stderr.count("Degraded: ") == 1)


@pytest.fixture(scope="session")
def refreshed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir of the mock site crawled, then one article edited and crawled again with --refresh:
    two versions of article 2060000, a second run that stored that one article, and the others' 304s
    archived as revisits.  Read it, do not
    change it (browse builds its archive.db; the report is written elsewhere)."""
    data = tmp_path_factory.mktemp("refreshed")
    with MockServer() as server:
        assert crawl(server, data).returncode == 0
        server.edit_article(2060000)
        # without the sitemaps a refresh asks for every stored article: the others answer 304 (revisits)
        assert crawl(server, data, "--refresh", "--no-sitemaps").returncode == 0
    return data
