"""The crawl's memory as a Scrapy component: :class:`CrawlMemory` opens it, records the run, closes it.

One extension owns the memory of a crawl (:class:`~newsspider.memory.Memory`):
it is opened when the extension is built, with the data dir locked (SQLite) or
the Redis crawl joined, and this crawl's run started, so a memory that cannot
be written stops the crawl before anything is fetched.  When the spider
closes, the run's outcome, counts and quality are recorded, with the checks
the monitors failed (a ``degraded`` run), and the memory is closed.

Other components reach it through the crawler with :func:`memory_of`.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from newsspider.core import stats as keys
from newsspider.core.errors import NewsspiderError
from newsspider.core.summary import CrawlSummary, run_status
from newsspider.core.window import Window
from newsspider.dataset.storage import DataDirLock, StorageError, prepare_data_dir
from newsspider.memory import Memory
from newsspider.memory.redis import RedisMemory
from newsspider.memory.sqlite import SqliteMemory

__all__ = ["CrawlMemory", "MemoryNotEnabled", "memory_of", "open_memory", "run_status"]

logger = logging.getLogger(__name__)


class MemoryNotEnabled(NewsspiderError, RuntimeError):
    """A component that needs the crawl's memory in a crawl without :class:`CrawlMemory`."""


def open_memory(settings: BaseSettings) -> tuple[Memory, DataDirLock | None]:
    """The memory the settings ask for, with this crawl's run started, and the lock it holds.

    With ``NEWSSPIDER_REDIS_URL``, the Redis memory (the workers of a
    distributed crawl share the data dir, each with its own shard: no lock);
    else the data dir's SQLite state, with the data dir locked.
    """
    data_dir = prepare_data_dir(settings.get("NEWSSPIDER_DATA_DIR"))
    lock = None
    memory: Memory
    if url := settings.get("NEWSSPIDER_REDIS_URL"):
        memory = RedisMemory(data_dir, url, settings.get("NEWSSPIDER_REDIS_PREFIX"),
                            settings.get("NEWSSPIDER_WORKER_ID") or None,
                            settings.getfloat("NEWSSPIDER_REDIS_LEASE"),
                            settings.getfloat("NEWSSPIDER_REDIS_RECONNECT"),
                            settings.getlist("NEWSSPIDER_REDIS_FRONTIER_KEYS"))
    else:
        lock = DataDirLock(data_dir).acquire()
        try:
            memory = SqliteMemory(data_dir)
        except BaseException:
            lock.release()
            raise
    try:
        memory.start_run(Window.from_settings(settings.get("NEWSSPIDER_SINCE"),
                                              settings.get("NEWSSPIDER_UNTIL")).record())
    except BaseException:
        memory.close()
        if lock is not None:
            lock.release()
        raise
    return memory, lock


class CrawlMemory:
    """Extension: own the crawl's memory; record each crawl as a run of it.

    The run is recorded in one step at the end, on ``engine_stopped``: Scrapy sends it after every
    ``spider_closed`` handler has run, so the run's quality (put in the stats when the item
    pipelines close), the monitors' checks (Spidermon, on ``spider_closed``) and the counts are all
    there, whatever order the extensions were built in.
    """

    def __init__(self, crawler: Crawler, memory: Memory, lock: DataDirLock | None = None) -> None:
        self.crawler = crawler
        self.memory = memory
        self.lock = lock
        #: why the spider closed; None until it has
        self.reason: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlMemory:
        extension = cls(crawler, *open_memory(crawler.settings))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def spider_opened(self) -> None:
        self.crawler.stats.set_value(keys.RUN_ID, self.memory.run_id)

    def spider_closed(self, reason: str) -> None:
        self.reason = reason

    def engine_stopped(self) -> None:
        """Record the run (when the spider ran) and close the memory."""
        try:
            if self.reason is not None:
                self.record_run(self.reason)
        finally:
            self.memory.close()
            if self.lock is not None:
                self.lock.release()

    def record_run(self, reason: str) -> None:
        stats: dict[str, Any] = self.crawler.stats.get_stats()
        updated = int(stats.get(keys.UPDATED, 0))
        checks = list(stats.get(keys.CHECKS, []))
        status = run_status(reason)
        try:
            self.memory.finish_run(
                "degraded" if checks and status == "finished" else status, reason,
                failures=CrawlSummary.from_stats(stats).failures,
                quality=stats.get(keys.QUALITY), checks=checks,
                pages=int(stats.get("response_received_count", 0)),
                new_articles=int(stats.get(keys.STORED, 0)) - updated,
                updated_articles=updated,
                dropped=int(stats.get(keys.DROPPED, 0)),
                errors=int(stats.get("log_count/ERROR", 0)),
            )
        except StorageError as exc:
            logger.error("the end of run %s was not recorded (%s); it will show as interrupted",
                         self.memory.run_id, exc)


def memory_of(crawler: Crawler) -> Memory:
    """The memory of *crawler*'s crawl (from the :class:`CrawlMemory` extension)."""
    extension = crawler.get_extension(CrawlMemory)
    if extension is None:
        raise MemoryNotEnabled("newsspider.memory.extension.CrawlMemory is not enabled: add "
                               "newsspider.crawl.addon.NewsspiderAddon to ADDONS")
    return extension.memory
