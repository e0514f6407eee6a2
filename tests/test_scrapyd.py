"""Deploy to a real Scrapyd on 127.0.0.1 with scrapyd-deploy, schedule a crawl through its HTTP API."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import urlopen

import pytest

from newsspider.demo.pages import DemoSite
from newsspider.memory.sqlite import read_runs
from tests.conftest import REPO, read_jsonl
from tests.mockserver import MockServer
from tests.ports import listening_port


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, data: list[tuple[str, str]] | None = None) -> dict:
    body = urlencode(data).encode() if data is not None else None
    with urlopen(url, data=body, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def scrapyd(tmp_path: Path) -> Iterator[str]:
    """A real Scrapyd on 127.0.0.1.  Scrapyd cannot take port 0 (``http_port = 0`` starts no web
    service), so a free port is picked and, should another process take it first, another one."""
    home = tmp_path / "scrapyd"
    home.mkdir()
    for _attempt in range(5):
        port = free_port()
        (home / "scrapyd.conf").write_text(
            f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\npoll_interval = 0.2\n"
            "eggs_dir = eggs\nlogs_dir = logs\ndbs_dir = dbs\nitems_dir =\n"
        )
        proc = subprocess.Popen([sys.executable, "-m", "scrapyd"], cwd=home, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while proc.poll() is None and listening_port(proc.pid) != port:
            assert time.monotonic() < deadline, "scrapyd did not start"
            time.sleep(0.05)
        if proc.poll() is None:
            break
    else:
        raise AssertionError("scrapyd found no free port in 5 tries")
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                if get(url + "daemonstatus.json")["status"] == "ok":
                    break
            except OSError:
                assert time.monotonic() < deadline, "scrapyd did not answer"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_deploy_and_schedule_on_scrapyd(scrapyd: str, site_server: MockServer, tmp_path: Path) -> None:
    # scrapyd-deploy builds the egg in the project directory: use a copy of the project.
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, project)
    shutil.copytree(REPO / "newsspider", project / "newsspider",
                    ignore=shutil.ignore_patterns("__pycache__"))
    cfg = (REPO / "scrapy.cfg").read_text().replace("http://localhost:6800/", scrapyd)
    (project / "scrapy.cfg").write_text(cfg)

    # the console script installed beside this Python (PATH may not name its directory)
    scrapyd_deploy = shutil.which("scrapyd-deploy") or str(Path(sys.executable).with_name("scrapyd-deploy"))
    deploy = subprocess.run([scrapyd_deploy, "--version", "r1"], cwd=project, capture_output=True,
                            text=True, timeout=120)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert '"status": "ok"' in deploy.stdout and '"spiders": 1' in deploy.stdout
    assert get(scrapyd + "listspiders.json?project=newsspider")["spiders"] == ["bannedbook"]

    data_dir = tmp_path / "data"
    job = get(scrapyd + "schedule.json", [
        ("project", "newsspider"), ("spider", "bannedbook"), ("start_urls", site_server.url("/bnews/")),
        ("setting", f"NEWSSPIDER_DATA_DIR={data_dir}"), ("setting", "DOWNLOAD_DELAY=0"),
        ("setting", "AUTOTHROTTLE_ENABLED=False"),
    ])
    assert job["status"] == "ok", job
    deadline = time.monotonic() + 120
    jobs_url = scrapyd + "listjobs.json?project=newsspider"
    while not any(j["id"] == job["jobid"] for j in get(jobs_url)["finished"]):
        assert time.monotonic() < deadline, "the scheduled crawl did not finish"
        time.sleep(0.5)

    ids = [r["article_id"] for r in read_jsonl(data_dir / "articles.jsonl")]
    assert sorted(ids) == sorted(str(a.article_id) for a in DemoSite().public_articles())
    assert [r.status for r in read_runs(data_dir)] == ["finished"]
