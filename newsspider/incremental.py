"""Scrapy glue for the crawl's memory: one :class:`CrawlState` per crawl, its lock, its run record.

:func:`crawl_state` opens the data dir's state once per crawler (the spider
and the pipelines share it) after taking the data dir's lock; the
:class:`RunRecorder` extension records the run and closes both at the end.
With ``JOBDIR`` set (``--resume``) it also leaves a marker saying how the
crawl ended, so that the next ``--resume`` knows whether the saved frontier
can be trusted.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from newsspider.extensions import CrawlSummary
from newsspider.redis_state import RedisState
from newsspider.state import CrawlState, DataDirLock
from newsspider.storage import StorageError, prepare_data_dir

__all__ = ["JOB_DIR", "RunRecorder", "crawl_state", "prepare_job_dir"]

logger = logging.getLogger(__name__)

JOB_DIR = "job"
_ENDED_MARKER = "newsspider-ended.json"
_ATTR = "_newsspider_state"
_LOCK = "_newsspider_lock"


def crawl_state(crawler: Crawler) -> CrawlState | RedisState:
    """The crawl's state, opened on first use with this crawl's run started: SQLite with the data
    dir locked, or Redis."""
    state: CrawlState | RedisState | None = getattr(crawler, _ATTR, None)
    if state is not None:
        return state
    settings = crawler.settings
    data_dir = prepare_data_dir(settings.get("NEWSSPIDER_DATA_DIR"))
    if url := settings.get("NEWSSPIDER_REDIS_URL"):
        state = RedisState(data_dir, url, settings.get("NEWSSPIDER_REDIS_PREFIX"),
                           settings.get("NEWSSPIDER_WORKER_ID") or None,
                           settings.getfloat("NEWSSPIDER_REDIS_LEASE"),
                           settings.getfloat("NEWSSPIDER_REDIS_RECONNECT"))
        # no data-dir lock: the workers of a distributed crawl share the dir, each with its shard
    else:
        lock = DataDirLock(data_dir).acquire()
        try:
            state = CrawlState(data_dir)
        except BaseException:
            lock.release()
            raise
        setattr(crawler, _LOCK, lock)
    try:
        state.start_run()  # now: a state that cannot be written stops the crawl before it starts
    except BaseException:
        state.close()
        held: DataDirLock | None = getattr(crawler, _LOCK, None)
        if held is not None:
            held.release()
        raise
    setattr(crawler, _ATTR, state)
    return state


def prepare_job_dir(data_dir: Path, resume: bool) -> Path | None:
    """The ``JOBDIR`` for a crawl into *data_dir*: ``None`` unless *resume*.

    A frontier saved by a crawl that was stopped (Ctrl-C, SIGTERM, a close
    condition) is continued.  One left by a crawl that finished, or that was
    killed before it could save its frontier, is discarded: the crawl starts
    over, and the state keeps it from fetching stored articles again.
    """
    job = data_dir / JOB_DIR
    marker = job / _ENDED_MARKER
    if not resume:
        if marker.exists() and json.loads(marker.read_text()).get("reason") != "finished":
            logger.warning("%s holds the frontier of a stopped crawl; --resume continues it", job)
        return None
    if job.exists():
        reason = json.loads(marker.read_text()).get("reason") if marker.exists() else None
        if reason is None:
            logger.warning("%s was left by a crawl that was killed before it saved its frontier; "
                           "starting over (stored articles are not fetched again)", job)
            shutil.rmtree(job)
        elif reason == "finished":
            shutil.rmtree(job)
        else:
            logger.warning("resuming the frontier saved in %s (the crawl ended: %s)", job, reason)
            marker.unlink()
    return job


class RunRecorder:
    """Record each crawl as a run of the data dir's state; close the state and its lock."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.job_dir = crawler.settings.get("JOBDIR")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunRecorder:
        recorder = cls(crawler)
        crawler.signals.connect(recorder.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(recorder.spider_closed, signal=signals.spider_closed)
        return recorder

    def spider_opened(self) -> None:
        self.crawler.stats.set_value("newsspider/run_id", crawl_state(self.crawler).run_id)

    def spider_closed(self, reason: str) -> None:
        state = crawl_state(self.crawler)
        stats: dict[str, Any] = self.crawler.stats.get_stats()
        ok = reason == "finished" or reason.startswith("closespider_")
        status = "finished" if ok else ("stopped" if reason == "shutdown" else "failed")
        try:
            self._finish(state, stats, status, reason)
        except StorageError as exc:
            logger.error("the end of run %s was not recorded (%s); it will show as interrupted",
                         state.run_id, exc)
        state.close()
        lock: DataDirLock | None = getattr(self.crawler, _LOCK, None)
        if lock is not None:
            lock.release()
        if self.job_dir:
            Path(self.job_dir, _ENDED_MARKER).write_text(json.dumps({"reason": reason}))

    def _finish(self, state: CrawlState | RedisState, stats: dict[str, Any], status: str,
                reason: str) -> None:
        state.finish_run(
            status, reason,
            failures=CrawlSummary.from_stats(stats).failures,
            pages=int(stats.get("response_received_count", 0)),
            new_articles=int(stats.get("newsspider/stored", 0)) - int(stats.get("newsspider/updated", 0)),
            updated_articles=int(stats.get("newsspider/updated", 0)),
            dropped=int(stats.get("newsspider/dropped", 0)),
            errors=int(stats.get("log_count/ERROR", 0)),
        )
