"""Distributed crawls on a real Redis (started by the tests on a free port): many workers, one crawl."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from scrapy import Request
from scrapy.utils.test import get_crawler

from newsspider.archive.reader import archived_page, warc_files
from newsspider.dataset.reader import load
from newsspider.demo.pages import DemoSite
from newsspider.extract import site
from newsspider.frontier.queue import _POP, LeasedPriorityQueue
from newsspider.spiders.bannedbook import BannedbookSpider
from tests import forkrun
from tests.conftest import FAST, run_cli
from tests.mockserver import MockServer

PUBLIC_IDS = {str(a.article_id) for a in DemoSite().public_articles()}
# Short leases and idle waits so that the tests see a killed worker's requests come back quickly.
CLUSTER = ["-s", "NEWSSPIDER_REDIS_LEASE=2", "-s", "NEWSSPIDER_REDIS_IDLE_TIMEOUT=20"]
_prefixes = itertools.count()


class RedisServer:
    """A real redis-server on a free port of 127.0.0.1, which a test can kill and start again."""

    def __init__(self, workdir: Path, *args: str) -> None:
        self.binary = shutil.which("redis-server")
        assert self.binary, "redis-server is not installed (python -m tests.setup installs it)"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.workdir = workdir
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, password: str = "") -> str:
        return f"redis://{f':{password}@' if password else ''}127.0.0.1:{self.port}/0"

    def start(self, first: bool = True) -> RedisServer:
        """Start it and wait until its own log says it listens (not merely until the port answers: a
        port picked free can be taken by another process before redis-server binds it; a first start
        that lost the port that way picks another)."""
        for _attempt in range(5):
            log = self.workdir / f"redis-{self.port}.log"
            log.write_bytes(b"")
            command = [self.binary or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                       "--dir", str(self.workdir), *self.args]
            with log.open("ab") as out:
                self.proc = subprocess.Popen(command, stdout=out)
            deadline = time.monotonic() + 20
            while b"Ready to accept connections" not in log.read_bytes():
                if self.proc.poll() is not None:
                    break
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
            else:
                return self
            text = log.read_text(errors="replace")
            assert first and "in use" in text, f"redis-server did not start: {text}"
            with socket.socket() as sock:  # lost the port to another process: another one
                sock.bind(("127.0.0.1", 0))
                self.port = sock.getsockname()[1]
        raise AssertionError("redis-server found no free port in 5 tries")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), "--save", "", "--appendonly", "no").start()
    yield server.url()
    server.stop()


@pytest.fixture
def prefix() -> str:
    """Each test its own crawl in the shared Redis."""
    return f"t{next(_prefixes)}"


def worker(server: MockServer, redis_url: str, data_dir: Path, worker_id: str, prefix: str,
           *extra: str) -> forkrun.Started:
    """A worker's ``newsspider crawl``, forked (:func:`tests.forkrun.start`): waited for, or SIGKILLed."""
    return forkrun.start(["crawl", "--start-url", server.url("/bnews/"), "--data-dir", str(data_dir),
                          "--redis-url", redis_url, "--worker-id", worker_id,
                          "-s", f"NEWSSPIDER_REDIS_PREFIX={prefix}", *FAST, *CLUSTER, *extra])


def finish(procs: list[forkrun.Started]) -> list[tuple[str, str]]:
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    return outputs


def stored(data_dir: Path) -> Counter:
    return Counter(json.loads(line)["article_id"] for shard in data_dir.glob("articles-*.jsonl")
                   for line in shard.read_text("utf-8").splitlines())


def robots_log(server: MockServer) -> list[dict]:
    """What the server answered for robots.txt and the disallowed page (for assertion messages)."""
    return [r for r in server.requests() if r["path"] == "/robots.txt" or "/private/" in r["path"]]


def article_fetches(server: MockServer) -> Counter:
    return Counter(r["path"] for r in server.requests() if site.ARTICLE_PATH.match(r["path"]))


def test_three_workers_store_every_article_once(site_server: MockServer, redis_url: str, prefix: str,
                                                 tmp_path: Path) -> None:
    procs = [worker(site_server, redis_url, tmp_path, f"w{i}", prefix) for i in range(3)]
    outs = finish(procs)
    ids = stored(tmp_path)
    assert set(ids) == PUBLIC_IDS and max(ids.values()) == 1, (robots_log(site_server),
                                                                "\n".join(e for _, e in outs))
    # each worker writes its own shard, made with its first record (a worker that stored none has none)
    assert {p.name for p in tmp_path.glob("articles-*.jsonl")} <= {
        "articles-w0.jsonl", "articles-w1.jsonl", "articles-w2.jsonl"}
    assert max(article_fetches(site_server).values()) == 1, "an article was fetched by two workers"
    assert sum(1 for shard in tmp_path.glob("articles-*.jsonl") if shard.stat().st_size) >= 2, \
        "the work was not shared"
    assert len(load(tmp_path)) == len(PUBLIC_IDS)  # the reader reads every shard
    # the run's quality adds the workers' counts up
    history = run_cli("runs", "--redis-url", redis_url, "--redis-prefix", prefix, "--json")
    [run] = [json.loads(line) for line in history.stdout.splitlines()]
    records = load(tmp_path)
    assert run["status"] == "finished" and run["quality"]["stored"] == len(PUBLIC_IDS)
    expected = round(100 * sum(bool(r["summary"]) for r in records) / len(records), 1)
    assert run["quality"]["coverage"]["summary"] == expected and run["quality"]["coverage"]["title"] == 100
    assert run["quality"]["median_body"] > 0


def test_a_worker_killed_midway_loses_nothing(site_server: MockServer, redis_url: str, prefix: str,
                                              tmp_path: Path) -> None:
    slow = ["-s", "DOWNLOAD_DELAY=0.1", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False"]
    victim = worker(site_server, redis_url, tmp_path, "victim", prefix, *slow)
    others = [worker(site_server, redis_url, tmp_path, f"w{i}", prefix, *slow) for i in range(2)]
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


def test_a_late_worker_joins_the_running_crawl(site_server: MockServer, redis_url: str, prefix: str,
                                               tmp_path: Path) -> None:
    # The early worker slow enough (a page each 0.3 s) that a late one which takes long to start on a
    # loaded machine still finds most of the site left to fetch; the late one at full speed.
    slow = ["-s", "DOWNLOAD_DELAY=0.3", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False"]
    first = worker(site_server, redis_url, tmp_path, "early", prefix, *slow)
    shard = tmp_path / "articles-early.jsonl"
    deadline = time.monotonic() + 60
    while not (shard.exists() and shard.read_bytes().count(b"\n") >= 5):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.02)
    late = worker(site_server, redis_url, tmp_path, "late", prefix)
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


def test_a_distributed_refresh_asks_with_the_validators_redis_kept(mockserver: MockServer, redis_url: str,
                                                                   prefix: str, tmp_path: Path) -> None:
    finish([worker(mockserver, redis_url, tmp_path, f"w{i}", prefix) for i in range(2)])
    assert redis.Redis.from_url(redis_url).hlen(f"{prefix}:validators") == len(PUBLIC_IDS)
    before = len(mockserver.requests())
    outputs = finish([worker(mockserver, redis_url, tmp_path, f"w{i}", prefix, "--refresh", "--no-sitemaps")
                      for i in range(2)])  # every stored article asked (with sitemaps: those that changed)
    answers = [r for r in mockserver.requests()[before:] if site.ARTICLE_PATH.match(r["path"])]
    assert answers and {r["status"] for r in answers} == {304}
    counted = [int(m[1]) for out, _ in outputs if (m := re.search(r", (\d+) not modified, ", out))]
    assert sum(counted) == len(answers) and max(stored(tmp_path).values()) == 1


def test_a_distributed_refresh_fetches_what_the_sitemaps_say_changed_and_walks_no_listing(
        mockserver: MockServer, redis_url: str, prefix: str, tmp_path: Path) -> None:
    finish([worker(mockserver, redis_url, tmp_path, f"w{i}", prefix) for i in range(2)])
    edited = [2060000, 2060037]
    for article_id in edited:
        mockserver.edit_article(article_id)
    mockserver.sitemaps("partial")  # and the sitemaps no longer list some stored articles: asked too
    before = len(mockserver.requests())
    finish([worker(mockserver, redis_url, tmp_path, f"w{i}", prefix, "--refresh") for i in range(2)])
    asked = [r["path"] for r in mockserver.requests()[before:]]
    articles = [p for p in asked if site.ARTICLE_PATH.match(p)]
    listings = [p for p in asked if site.classify("http://x" + p) in (site.Kind.LISTING, site.Kind.TAG)]
    assert listings == [] and len(articles) == len(set(articles)), asked
    assert set(articles) >= {DemoSite().articles[i].path for i in edited}
    assert len(articles) < len(PUBLIC_IDS) // 2  # the changed ones and those no sitemap lists
    versions = Counter((r["article_id"], r["version"]) for shard in tmp_path.glob("articles-*.jsonl")
                       for r in map(json.loads, shard.read_text("utf-8").splitlines()))
    assert {(str(i), 2) for i in edited} <= set(versions) and max(versions.values()) == 1


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
    outs = finish([worker(mockserver, redis_url, tmp_path, f"w{i}", prefix) for i in range(3)])
    ids = stored(tmp_path)
    assert set(ids) == PUBLIC_IDS and max(ids.values()) == 1, (robots_log(mockserver),
                                                                "\n".join(e for _, e in outs))
    assert redis.Redis.from_url(redis_url).hget(f"{prefix}:run:1", "status") == b"finished"


def test_a_raising_callback_is_one_failed_page(site_server: MockServer, redis_url: str, prefix: str,
                                               tmp_path: Path) -> None:
    seed = DemoSite().articles[2054421].path
    middlewares = {"tests.faulty.RaiseOn": 990}  # the add-on adds newsspider's own
    raising = ["-s", f"SPIDER_MIDDLEWARES={json.dumps(middlewares)}", "-s", f"TESTS_RAISE_ON={seed}"]
    procs = [worker(site_server, redis_url, tmp_path, f"w{i}", prefix, *raising) for i in range(2)]
    outputs = finish(procs)
    assert article_fetches(site_server)[seed] == 1, "the page was leased again after its callback raised"
    logs = "".join(err for _, err in outputs)
    assert logs.count(f"failed (parse_error): {site_server.url(seed)}: RuntimeError: a bug") == 1
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
    procs = [forkrun.start(
        ["crawl", "--start-url", mockserver.url(path), "--data-dir", str(tmp_path), "--redis-url", redis_url,
         "--worker-id", f"w{i}", "-s", f"NEWSSPIDER_REDIS_PREFIX={prefix}", "-s", "CLOSESPIDER_ITEMCOUNT=1",
         *FAST, *CLUSTER]) for i in range(2)]
    finish(procs)
    # 2 s leases, a 4 s wait with nothing else queued: the worker waiting must renew its lease, or
    # the idle one takes the request back and fetches it again
    assert article_fetches(mockserver)[path] == 2
    assert "2054421" in stored(tmp_path)



# --- Redis outages ------------------------------------------------------------------------------

SLOW = ["-s", "DOWNLOAD_DELAY=0.05", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False"]


def wait_for_lines(data_dir: Path, procs: list[subprocess.Popen[str]], count: int,
                   shards: str = "articles-*.jsonl") -> None:
    deadline = time.monotonic() + 60
    while sum(shard.read_bytes().count(b"\n") for shard in data_dir.glob(shards)) < count:
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "stored nothing"
        time.sleep(0.02)


def test_redis_gone_for_good_is_a_bounded_wait_then_one_line(site_server: MockServer, tmp_path: Path) -> None:
    server = RedisServer(tmp_path, "--save", "", "--appendonly", "no", "--requirepass", "s3cret").start()
    url = server.url("s3cret")
    try:
        procs = [worker(site_server, url, tmp_path, f"w{i}", "gone", *SLOW,
                        "-s", "NEWSSPIDER_REDIS_RECONNECT=3") for i in range(2)]
        wait_for_lines(tmp_path, procs, 3)
        # both workers in the crawl (each has stored a line): on a loaded machine one may not have
        # started yet, and a worker that cannot reach Redis at its start is another case (one line,
        # no "stopped after")
        for name in ("w0", "w1"):
            wait_for_lines(tmp_path, procs, 1, f"articles-{name}.jsonl")
        server.kill()
        killed = time.monotonic()
        outputs = [proc.communicate(timeout=60) for proc in procs]
        waited = time.monotonic() - killed
    finally:
        server.stop()
    # bounded by the reconnect budget (3 s), with room for a loaded machine: not an endless retry
    assert waited < 30, f"the workers stopped only {waited:.1f} s after Redis was killed"
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 1, err
        assert "Traceback" not in err and "s3cret" not in err + out
        errors = [line for line in err.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1, err
        assert errors[0].startswith(f"Error: Redis at redis://***@127.0.0.1:{server.port}/0: ")
        assert re.search(r"; stopped after \d+ articles$", errors[0]), errors[0]
    assert all(shard.read_bytes()[-1:] in (b"", b"\n") for shard in tmp_path.glob("articles-*.jsonl"))


def test_redis_restarted_with_its_data(site_server: MockServer, tmp_path: Path) -> None:
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    data_dir = tmp_path / "data"
    server = RedisServer(redis_dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always").start()
    try:
        procs = [worker(site_server, server.url(), data_dir, f"w{i}", "back", *SLOW,
                        "-s", "NEWSSPIDER_REDIS_LEASE=10") for i in range(2)]
        wait_for_lines(data_dir, procs, 5)
        server.kill()
        time.sleep(3)
        server.start(first=False)  # the same port, its data back from the append-only file
        finish(procs)
        ids = stored(data_dir)
        assert set(ids) == PUBLIC_IDS and max(ids.values()) == 1
        client = redis.Redis.from_url(server.url())
        assert client.hget("back:run:1", "status") == b"finished"
        assert client.zcard("back:requests") == 0 and client.hlen("back:processing") == 0
    finally:
        server.stop()


def test_redis_restarted_empty_stops_the_workers_and_a_restart_completes(
        site_server: MockServer, tmp_path: Path) -> None:
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    data_dir = tmp_path / "data"
    server = RedisServer(redis_dir, "--save", "", "--appendonly", "no").start()
    try:
        procs = [worker(site_server, server.url(), data_dir, f"w{i}", "empty", *SLOW) for i in range(2)]
        wait_for_lines(data_dir, procs, 5)
        server.kill()
        time.sleep(1)
        server.start(first=False)  # the same port, nothing in it
        outputs = [proc.communicate(timeout=60) for proc in procs]
        for proc, (_, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 1, err
            assert "Traceback" not in err
            assert "the crawl's data is gone (was Redis restarted without it?)" in err, err
        finish([worker(site_server, server.url(), data_dir, f"w{i}", "empty") for i in range(2)])
        ids = stored(data_dir)
        assert set(ids) == PUBLIC_IDS and max(ids.values()) == 1
    finally:
        server.stop()


def test_each_worker_archives_into_its_own_warc(site_server: MockServer, redis_url: str, prefix: str,
                                                tmp_path: Path) -> None:
    finish([worker(site_server, redis_url, tmp_path, f"w{i}", prefix) for i in range(2)])
    files = warc_files(tmp_path)
    owners = {re.fullmatch(r"newsspider-\d{14}-(w\d)-\d{5}\.warc\.gz", p.name)[1] for p in files}
    assert owners == {"w0", "w1"} and len(files) == 2  # one file per worker, named after it
    for path in files:
        checked = subprocess.run(["warcio", "check", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout
    records = load(tmp_path)
    assert len(records) == len(PUBLIC_IDS)
    for record in records:  # every record points at its page, in whichever worker's file
        assert archived_page(tmp_path, record["warc"]).url == record["url"]
    assert {r["warc"]["file"] for r in records} == {str(p.relative_to(tmp_path)) for p in files}


def test_a_pop_retried_after_a_lost_reply_loses_nothing(redis_url: str, prefix: str) -> None:
    """Redis can run a pop and go away before its reply arrives; the client runs it again with the
    same lease token: it must get the same request, and the other one must stay queued."""
    crawler = get_crawler(BannedbookSpider, {"NEWSSPIDER_REDIS_LEASE": 30})
    spider = BannedbookSpider.from_crawler(crawler, start_urls=["http://127.0.0.1/bnews/"])
    client = redis.Redis.from_url(redis_url)
    queue = LeasedPriorityQueue(client, spider, f"{prefix}:requests", worker_id="w0")
    for n in (1, 2):
        queue.push(Request(f"http://127.0.0.1/bnews/itnews/20240101/{n}.html", priority=10 - n))
    pop = client.register_script(_POP)
    args = ["w0:retried", time.time() + 30]
    first = pop(keys=queue._keys(), args=args)
    again = pop(keys=queue._keys(), args=args)  # the retry of the same pop
    assert again == first
    assert len(queue) == 1 and queue.in_flight() == 1
    urls = {queue._decode_request(first).url, queue.pop().url}  # the other request was still there
    assert urls == {f"http://127.0.0.1/bnews/itnews/20240101/{n}.html" for n in (1, 2)}


def test_an_enqueue_retried_after_a_lost_reply_keeps_the_request(redis_url: str, prefix: str) -> None:
    """The dupefilter's SADD and the queue's ZADD run as one script: run again after a lost reply,
    it finds its own fingerprint but the request is queued (before, it was dropped as seen)."""
    crawler = get_crawler(BannedbookSpider)
    spider = BannedbookSpider.from_crawler(crawler, start_urls=["http://127.0.0.1/bnews/"])
    client = redis.Redis.from_url(redis_url)
    queue = LeasedPriorityQueue(client, spider, f"{prefix}:requests", worker_id="w0")
    request = Request("http://127.0.0.1/bnews/itnews/20240101/1.html")
    dupefilter = f"{prefix}:dupefilter"
    assert queue.push_unseen(request, "fp1", dupefilter)  # ran; say its reply was lost:
    assert not queue.push_unseen(request, "fp1", dupefilter)  # the retry finds the fingerprint...
    assert len(queue) == 1  # ...and the request is in the queue all the same
    assert client.sismember(dupefilter, "fp1")


def test_a_windowed_distributed_run_keeps_its_window_and_is_not_a_walk_of_the_site(
        site_server: MockServer, redis_url: str, prefix: str, tmp_path: Path) -> None:
    demo = DemoSite()
    days = {str(a.article_id): f"{a.day[:4]}-{a.day[4:6]}-{a.day[6:]}" for a in demo.public_articles()}
    procs = [worker(site_server, redis_url, tmp_path, f"w{i}", prefix, "--since", "2024-01-01")
             for i in range(2)]
    finish(procs)
    assert set(stored(tmp_path)) == {i for i, day in days.items() if day >= "2024-01-01"}
    # an older article is fetched only when a shortlink (/?p=<id>, no day in it) led to it; never stored
    paths = [r["path"] for r in site_server.requests()]
    old = {m["id"] for p in paths if (m := site.ARTICLE_PATH.match(p)) and m["date"] < "20240101"}
    assert old <= {p.split("=", 1)[1] for p in paths if p.startswith("/?p=")}
    runs = [json.loads(line) for line in run_cli("runs", "--redis-url", redis_url, "--redis-prefix",
                                                  prefix, "--json").stdout.splitlines()]
    assert runs[-1]["window"] == {"since": "2024-01-01", "until": ""}
    client = redis.Redis.from_url(redis_url)
    assert client.get(f"{prefix}:complete") is None  # not a walk of the whole site
    whole = [worker(site_server, redis_url, tmp_path, "w0", prefix)]
    finish(whole)
    assert set(stored(tmp_path)) == set(days)
    assert int(client.get(f"{prefix}:complete") or 0) == runs[-1]["run"] + 1


def test_a_worker_does_not_end_the_crawl_while_the_first_one_is_still_queueing_the_start_urls(
        site_server: MockServer, redis_url: str, prefix: str, tmp_path: Path) -> None:
    """Two workers started together: the first has taken the seeding of the run but not yet queued
    the start URLs when the second finds the frontier empty. That is not the end of the crawl (before,
    the second ended 'finished' having fetched nothing)."""
    from scrapy.settings import Settings

    from newsspider.memory.extension import open_memory

    first, _lock = open_memory(Settings({
        "NEWSSPIDER_REDIS_URL": redis_url, "NEWSSPIDER_REDIS_PREFIX": prefix, "NEWSSPIDER_WORKER_ID": "first",
        "NEWSSPIDER_DATA_DIR": str(tmp_path / "first"), "NEWSSPIDER_REDIS_LEASE": 30}))
    assert first.should_seed()  # the seeding is the first worker's; its start URLs are not queued yet
    second = worker(site_server, redis_url, tmp_path, "second", prefix,
                    "-s", "NEWSSPIDER_REDIS_IDLE_TIMEOUT=3")
    deadline = time.monotonic() + 60
    while second.poll() is None:  # the first worker stays alive all along
        first.heartbeat()
        assert time.monotonic() < deadline, "the second worker waited for ever"
        time.sleep(0.2)
    _, err = second.communicate()
    assert second.returncode == 1, err  # waited, then gave up: never "finished" with nothing done
    assert "idle_timeout" in err and "Traceback" not in err, err
    first.seeded()  # once they are queued, an empty frontier is the end again
    assert first.start_urls_queued()  # type: ignore[attr-defined]
    first.close()


def test_redis_gone_while_the_start_urls_are_queued_stops_the_crawl_in_one_line(tmp_path: Path) -> None:
    """The engine asks the spider for the next start request only once it has queued the last one,
    which may be long after: Redis gone by then is the crawl's one-line stop (its reason and message
    in the stats), as anywhere else, not an exception out of the spider's start (a traceback in
    Scrapy's start loop: seen under load in tests of Redis restarts)."""
    import asyncio

    from newsspider.core import stats as keys
    from newsspider.memory.redis import RedisMemory

    server = RedisServer(tmp_path, "--save", "", "--appendonly", "no").start()
    try:
        (tmp_path / "data").mkdir()
        memory = RedisMemory(tmp_path / "data", server.url(), reconnect=0.5)
        memory.start_run()
        crawler = get_crawler(BannedbookSpider)
        crawler.stats.open_spider()
        spider = BannedbookSpider.from_crawler(crawler, start_urls=["http://127.0.0.1:9/bnews/"])
        spider.__dict__["memory"] = memory  # the run's real memory, as the memory extension opens it

        async def queue_the_start_urls() -> list[Request]:
            starts = spider.start()
            first = [await anext(starts)]
            server.kill()  # Redis goes before the engine asks for more
            return first + [request async for request in starts]

        requests = asyncio.run(queue_the_start_urls())
    finally:
        server.kill()
    assert [r.url for r in requests] == ["http://127.0.0.1:9/bnews/"]
    assert re.fullmatch(r"Redis at redis://127\.0\.0\.1:\d+/0: .+", crawler.stats.get_value(keys.FATAL))
