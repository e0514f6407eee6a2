"""Distributed crawls on a real Redis (started by the tests on a free port): many workers, one crawl."""

from __future__ import annotations

import itertools
import json
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from newsspider import settings as project_settings
from newsspider import site
from newsspider.dataset import load
from newsspider.demo.pages import DemoSite
from tests.conftest import FAST, run_cli
from tests.mockserver import MockServer

PUBLIC_IDS = {str(a.article_id) for a in DemoSite().public_articles()}
# Short leases and idle waits so that the tests see a killed worker's requests come back quickly.
CLUSTER = ["-s", "NEWSSPIDER_REDIS_LEASE=2", "-s", "NEWSSPIDER_REDIS_IDLE_TIMEOUT=20"]
_prefixes = itertools.count()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = shutil.which("redis-server")
    assert server, "redis-server is not installed (.ci/run installs it)"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def prefix() -> str:
    """Each test its own crawl in the shared Redis."""
    return f"t{next(_prefixes)}"


def worker(server: MockServer, redis_url: str, data_dir: Path, worker_id: str, prefix: str,
           *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "newsspider", "crawl", "--start-url", server.url("/bnews/"),
         "--data-dir", str(data_dir), "--redis-url", redis_url, "--worker-id", worker_id,
         "-s", f"NEWSSPIDER_REDIS_PREFIX={prefix}", *FAST, *CLUSTER, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(procs: list[subprocess.Popen[str]]) -> list[tuple[str, str]]:
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    return outputs


def stored(data_dir: Path) -> Counter:
    return Counter(json.loads(line)["article_id"] for shard in data_dir.glob("articles-*.jsonl")
                   for line in shard.read_text("utf-8").splitlines())


def article_fetches(server: MockServer) -> Counter:
    return Counter(r["path"] for r in server.requests() if site.ARTICLE_PATH.match(r["path"]))


def test_three_workers_store_every_article_once(mockserver: MockServer, redis_url: str, prefix: str,
                                                 tmp_path: Path) -> None:
    procs = [worker(mockserver, redis_url, tmp_path, f"w{i}", prefix) for i in range(3)]
    finish(procs)
    ids = stored(tmp_path)
    assert set(ids) == PUBLIC_IDS and max(ids.values()) == 1
    assert sorted(p.name for p in tmp_path.glob("articles-*.jsonl")) == [
        "articles-w0.jsonl", "articles-w1.jsonl", "articles-w2.jsonl"]
    assert max(article_fetches(mockserver).values()) == 1, "an article was fetched by two workers"
    assert sum(1 for shard in tmp_path.glob("articles-*.jsonl") if shard.stat().st_size) >= 2, \
        "the work was not shared"
    assert len(load(tmp_path)) == len(PUBLIC_IDS)  # the reader reads every shard


def test_a_worker_killed_midway_loses_nothing(mockserver: MockServer, redis_url: str, prefix: str,
                                              tmp_path: Path) -> None:
    slow = ["-s", "DOWNLOAD_DELAY=0.1", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False"]
    victim = worker(mockserver, redis_url, tmp_path, "victim", prefix, *slow)
    others = [worker(mockserver, redis_url, tmp_path, f"w{i}", prefix, *slow) for i in range(2)]
    shard = tmp_path / "articles-victim.jsonl"
    deadline = time.monotonic() + 60
    while not (shard.exists() and shard.read_bytes().count(b"\n") >= 3):
        assert time.monotonic() < deadline and victim.poll() is None, "the victim stored nothing"
        time.sleep(0.02)
    victim.kill()
    victim.wait()
    finish(others)
    ids = stored(tmp_path)
    assert set(ids) == PUBLIC_IDS, f"lost: {PUBLIC_IDS - set(ids)}"
    assert max(ids.values()) == 1, "an article the killed worker stored was stored again"
    assert shard.read_bytes().endswith(b"\n")


def test_a_late_worker_joins_the_running_crawl(mockserver: MockServer, redis_url: str, prefix: str,
                                               tmp_path: Path) -> None:
    slow = ["-s", "DOWNLOAD_DELAY=0.05", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False"]
    first = worker(mockserver, redis_url, tmp_path, "early", prefix, *slow)
    shard = tmp_path / "articles-early.jsonl"
    deadline = time.monotonic() + 60
    while not (shard.exists() and shard.read_bytes().count(b"\n") >= 5):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.02)
    late = worker(mockserver, redis_url, tmp_path, "late", prefix, *slow)
    finish([first, late])
    ids = stored(tmp_path)
    assert set(ids) == PUBLIC_IDS and max(ids.values()) == 1
    assert (tmp_path / "articles-late.jsonl").read_bytes().count(b"\n") > 0, "the late worker did nothing"
    client = redis.Redis.from_url(redis_url)
    assert client.get(f"{prefix}:run") == b"1", "the late worker started a run of its own"
    assert client.hget(f"{prefix}:run:1", "workers") == b"2"


def test_incremental_rules_hold_across_workers(mockserver: MockServer, redis_url: str, prefix: str,
                                               tmp_path: Path) -> None:
    finish([worker(mockserver, redis_url, tmp_path, f"w{i}", prefix) for i in range(2)])
    before = len(mockserver.requests())
    added = mockserver.add_articles(3)
    finish([worker(mockserver, redis_url, tmp_path, f"w{i}", prefix) for i in range(2)])
    second = [r["path"] for r in mockserver.requests()[before:]]
    fetched = [p for p in second if site.ARTICLE_PATH.match(p)]
    assert sorted(int(p.rsplit("/", 1)[1][:-5]) for p in fetched) == sorted(added)
    ids = stored(tmp_path)
    assert set(ids) == PUBLIC_IDS | {str(i) for i in added} and max(ids.values()) == 1
    assert len(second) < 40
    client = redis.Redis.from_url(redis_url)
    assert client.get(f"{prefix}:run") == b"2"
    assert client.hget(f"{prefix}:run:2", "new_articles") == b"3"
    table = run_cli("runs", "--redis-url", redis_url, "--redis-prefix", prefix)
    assert table.returncode == 0, table.stderr
    rows = [line.split() for line in table.stdout.splitlines()[1:]]
    assert [(row[0], row[3], row[5]) for row in rows] == [
        ("1", "finished", str(len(PUBLIC_IDS))), ("2", "finished", "3")]


def test_unreachable_redis_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_cli("crawl", "--start-url", "http://127.0.0.1:9/bnews/", "--data-dir", str(tmp_path),
                     "--redis-url", "redis://127.0.0.1:1/0")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: Redis at redis://127.0.0.1:1/0: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_workers_finish_on_a_site_with_bad_links(mockserver: MockServer, redis_url: str, prefix: str,
                                                tmp_path: Path) -> None:
    from tests.test_faults import PLANTED

    for old, new in PLANTED.items():
        mockserver.rewrite(old, new)
    finish([worker(mockserver, redis_url, tmp_path, f"w{i}", prefix) for i in range(3)])
    ids = stored(tmp_path)
    assert set(ids) == PUBLIC_IDS and max(ids.values()) == 1
    assert redis.Redis.from_url(redis_url).hget(f"{prefix}:run:1", "status") == b"finished"


def test_a_raising_callback_is_one_failed_page(mockserver: MockServer, redis_url: str, prefix: str,
                                               tmp_path: Path) -> None:
    seed = DemoSite().articles[2054421].path
    middlewares = {**project_settings.SPIDER_MIDDLEWARES, "tests.faulty.RaiseOn": 990}
    raising = ["-s", f"SPIDER_MIDDLEWARES={json.dumps(middlewares)}", "-s", f"TESTS_RAISE_ON={seed}"]
    procs = [worker(mockserver, redis_url, tmp_path, f"w{i}", prefix, *raising) for i in range(2)]
    outputs = finish(procs)
    assert article_fetches(mockserver)[seed] == 1, "the page was leased again after its callback raised"
    logs = "".join(err for _, err in outputs)
    assert logs.count(f"failed (parse_error): {mockserver.url(seed)}: RuntimeError: a bug") == 1
    assert "Traceback" not in logs
    assert set(stored(tmp_path)) == PUBLIC_IDS  # its item was yielded before the error
    client = redis.Redis.from_url(redis_url)
    assert client.hget(f"{prefix}:run:1", "status") == b"finished"
    assert client.hget(f"{prefix}:run:1", "failed/parse_error") == b"1"
    assert client.hlen(f"{prefix}:processing") == 0 and client.zcard(f"{prefix}:requests") == 0


def test_a_long_retry_after_wait_keeps_its_lease(mockserver: MockServer, redis_url: str, prefix: str,
                                                 tmp_path: Path) -> None:
    path = DemoSite().articles[2054421].path
    mockserver.fault(path, "status", status=503, times=1, retry_after="4")
    procs = [subprocess.Popen(
        [sys.executable, "-m", "newsspider", "crawl", "--start-url", mockserver.url(path),
         "--data-dir", str(tmp_path), "--redis-url", redis_url, "--worker-id", f"w{i}",
         "-s", f"NEWSSPIDER_REDIS_PREFIX={prefix}", "-s", "CLOSESPIDER_ITEMCOUNT=1", *FAST, *CLUSTER],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) for i in range(2)]
    finish(procs)
    # 2 s leases, a 4 s wait with nothing else queued: the worker waiting must renew its lease, or
    # the idle one takes the request back and fetches it again
    assert article_fetches(mockserver)[path] == 2
    assert "2054421" in stored(tmp_path)
