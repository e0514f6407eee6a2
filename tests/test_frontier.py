"""A crawl's pending requests on disk (newsspider.frontier.disk): Scrapy's order, scratch space that
goes away, a full disk that loses nothing, a queue file lost underneath the crawl."""

from __future__ import annotations

import logging
import os
import random
import re
import subprocess
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.core.scheduler import Scheduler
from scrapy.dupefilters import RFPDupeFilter
from scrapy.utils.test import get_crawler

from newsspider.core import stats as keys
from newsspider.dataset.layout import FRONTIER_DIR
from newsspider.demo.pages import DemoSite
from newsspider.frontier.disk import DiskFrontier
from newsspider.frontier.seen import CompactDupeFilter, SeenKeys
from newsspider.spiders.bannedbook import BannedbookSpider
from tests.conftest import crawl, read_jsonl
from tests.mockserver import MockServer

PUBLIC_IDS = {str(a.article_id) for a in DemoSite().public_articles()}

QUEUES = {"SCHEDULER_DISK_QUEUE": "newsspider.frontier.disk.DiskLifoQueue",
          "SCHEDULER_START_DISK_QUEUE": "newsspider.frontier.disk.DiskFifoQueue",
          # the downloader-aware queue asks the engine's downloader for its slots: none here
          "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.ScrapyPriorityQueue"}


def opened(scheduler_cls: type[Scheduler], data_dir: Path) -> Scheduler:
    crawler = get_crawler(BannedbookSpider, {"NEWSSPIDER_DATA_DIR": str(data_dir), **QUEUES})
    crawler.spider = BannedbookSpider.from_crawler(crawler, start_urls=["http://127.0.0.1/bnews/"])
    scheduler = scheduler_cls.from_crawler(crawler)
    scheduler.open(crawler.spider)
    return scheduler


def requests(count: int, seed: int = 0, padding: int = 0) -> list[Request]:
    """Requests of mixed priorities, some start requests, as a crawl queues them."""
    rng = random.Random(seed)
    made = []
    for n in range(count):
        meta = {"is_start_request": True} if n % 7 == 0 else {}
        meta["padding"] = "页" * padding
        made.append(Request(f"http://127.0.0.1/bnews/itnews/20240101/{n}.html",
                            priority=rng.choice((-1, 0, 5)), meta=meta, dont_filter=True))
    return made


def drain(scheduler: Scheduler) -> list[str]:
    urls = []
    while (request := scheduler.next_request()) is not None:
        urls.append(request.url)
    return urls


def interleaved(scheduler: Scheduler, batch: list[Request]) -> list[str]:
    """Push and pop as a crawl does: a few in, one out."""
    urls = []
    for n, request in enumerate(batch):
        scheduler.enqueue_request(request)
        if n % 3 == 2 and (popped := scheduler.next_request()) is not None:
            urls.append(popped.url)
    return urls + drain(scheduler)


def test_the_pending_requests_are_on_disk_in_scrapys_order_and_the_scratch_space_goes(tmp_path: Path) -> None:
    on_disk = opened(DiskFrontier, tmp_path)
    in_memory = opened(Scheduler, tmp_path / "other")  # Scrapy's, without JOBDIR
    batch = requests(300)
    for request in batch[:100]:
        on_disk.enqueue_request(request)
    files = [p for p in (tmp_path / FRONTIER_DIR).rglob("*") if p.is_file()]
    assert files and sum(p.stat().st_size for p in files) > 100 * 50  # the requests are there, not in memory
    assert len(on_disk) == 100
    stats = on_disk.crawler.stats  # type: ignore[union-attr]
    assert stats.get_value("scheduler/enqueued/disk") == 100
    assert stats.get_value("scheduler/enqueued/memory") is None
    for request in batch[100:]:
        on_disk.enqueue_request(request)
    got = drain(on_disk)
    for request in batch:
        in_memory.enqueue_request(request)
    assert got == drain(in_memory)  # the same order as Scrapy's memory queues
    assert interleaved(on_disk, requests(200, seed=1)) == interleaved(in_memory, requests(200, seed=1))
    on_disk.close("finished")
    assert not (tmp_path / FRONTIER_DIR).exists()


def test_a_killed_crawls_scratch_space_is_emptied_and_jobdir_is_left_to_scrapy(tmp_path: Path) -> None:
    stale = tmp_path / FRONTIER_DIR / "requests.queue" / "p0"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by a crawl that was killed")
    scheduler = opened(DiskFrontier, tmp_path)
    assert not stale.exists() and len(scheduler) == 0
    crawler = get_crawler(BannedbookSpider, {"NEWSSPIDER_DATA_DIR": str(tmp_path / "d"),
                                             "JOBDIR": str(tmp_path / "job")})
    resumed = DiskFrontier.from_crawler(crawler)
    assert resumed.scratch is None and resumed.dqdir == str(tmp_path / "job" / "requests.queue")


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KB filesystem (tmpfs, mounted by the test: CI runs as root)."""
    mount = tmp_path / "fs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_loses_no_request_and_keeps_the_order(small_fs: Path, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """Requests of 3 KB: the 256 KB disk takes some 80 of 300; the queue's files hold whole records
    only, and every request comes back, in the order Scrapy's memory queues give."""
    on_disk = opened(DiskFrontier, small_fs)
    in_memory = opened(Scheduler, tmp_path)
    with caplog.at_level(logging.WARNING, logger="newsspider.frontier.disk"):
        got = interleaved(on_disk, requests(300, seed=2, padding=1000))
    assert got == interleaved(in_memory, requests(300, seed=2, padding=1000))
    held = on_disk.crawler.stats.get_value(keys.FRONTIER_IN_MEMORY)  # type: ignore[union-attr]
    assert held and held > 100
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert re.fullmatch(r"the disk refused the queue of pending requests \(.*: No space left on device\): "
                        r"requests are held in memory until it takes them again", warnings[0]), warnings
    # the disk has room again once the queue drained: later requests go to disk
    before = on_disk.crawler.stats.get_value("scheduler/enqueued/disk")  # type: ignore[union-attr]
    on_disk.enqueue_request(Request("http://127.0.0.1/bnews/itnews/20240101/again.html"))
    assert on_disk.crawler.stats.get_value("scheduler/enqueued/disk") == before + 1  # type: ignore[union-attr]
    on_disk.close("finished")
    assert not (small_fs / FRONTIER_DIR).exists()


def test_a_queue_file_cut_short_underneath_the_crawl_stops_it_with_one_line(tmp_path: Path) -> None:
    scheduler = opened(DiskFrontier, tmp_path)
    for request in requests(20):
        scheduler.enqueue_request(request)
    for path in (tmp_path / FRONTIER_DIR).rglob("*"):
        if path.is_file() and path.name != "active.json":
            os.truncate(path, 10)
    assert drain(scheduler) == []
    fatal = scheduler.crawler.stats.get_value(keys.FATAL)  # type: ignore[union-attr]
    assert re.fullmatch(r"cannot read back the pending requests from .*/requests\.queue/-?\d+s? "
                        r"\(the file was cut short\)", fatal), fatal


def test_a_crawl_keeps_its_pending_requests_on_disk_and_cleans_up(site_server: MockServer,
                                                                   tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log = tmp_path / "crawl.log"
    result = crawl(site_server, data_dir, "-s", f"LOG_FILE={log}", "-s", "LOG_LEVEL=INFO")
    assert result.returncode == 0, result.stderr
    assert {r["article_id"] for r in read_jsonl(data_dir / "articles.jsonl")} == set(PUBLIC_IDS)
    text = log.read_text("utf-8")
    enqueued = int(re.search(r"'scheduler/enqueued/disk': (\d+)", text)[1])  # type: ignore[index]
    assert enqueued > len(PUBLIC_IDS)
    assert "'scheduler/enqueued/memory'" not in text
    assert "'DUPEFILTER_CLASS': 'newsspider.frontier.seen.CompactDupeFilter'" in text
    assert not (data_dir / FRONTIER_DIR).exists()


# --- what the crawl has seen (newsspider.frontier.seen) ----------------------------------------

def test_seen_keys_answer_as_a_set_and_take_a_tenth_of_its_memory() -> None:
    rng = random.Random(3)
    keys_in = [rng.getrandbits(64) for _ in range(100_000)]
    tracemalloc.start()
    seen = SeenKeys()
    for key in keys_in:
        seen.add(key)
    compact = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    as_set = set(keys_in)
    assert len(seen) == len(as_set)
    assert all(key in seen for key in keys_in[::97])
    others = [rng.getrandbits(64) for _ in range(2_000)]
    assert [k in seen for k in others] == [k in as_set for k in others]
    # a set of these ints takes ~90 bytes an entry (the int and its slot): this keeps ~10
    assert compact / len(keys_in) < 20, f"{compact / len(keys_in):.1f} bytes an entry"


def dupefilter(cls: type[RFPDupeFilter], jobdir: Path) -> RFPDupeFilter:
    crawler = get_crawler(BannedbookSpider, {"JOBDIR": str(jobdir)})
    return cls.from_crawler(crawler)


@pytest.mark.parametrize(("first", "then"), [(CompactDupeFilter, RFPDupeFilter),
                                             (RFPDupeFilter, CompactDupeFilter),
                                             (CompactDupeFilter, CompactDupeFilter)])
def test_the_compact_dupefilter_resumes_a_job_saved_by_scrapys_and_back(
        tmp_path: Path, first: type[RFPDupeFilter], then: type[RFPDupeFilter]) -> None:
    made = requests(300)
    before = dupefilter(first, tmp_path)
    assert [before.request_seen(r) for r in made[:200]] == [False] * 200
    assert before.request_seen(made[5])
    before.close("shutdown")
    with (tmp_path / "requests.seen").open("ab") as cut:  # killed while writing a fingerprint
        cut.write(b"\x00\x14abc")
    after = dupefilter(then, tmp_path)
    assert [after.request_seen(r) for r in made] == [True] * 200 + [False] * 100
    after.close("finished")

