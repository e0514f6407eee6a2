"""Coordination of a distributed crawl's workers: heartbeats, leases kept alive, idle waits."""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DontCloseSpider, NotConfigured
from scrapy.utils.asyncio import create_looping_call
from scrapy.utils.defer import deferred_from_coro

from newsspider.core.failures import stop_crawl
from newsspider.dataset.storage import StorageError
from newsspider.frontier.scheduler import RedisFrontier, redis_down
from newsspider.memory import Coordination
from newsspider.memory.extension import memory_of

__all__ = ["WorkerHeartbeat"]

logger = logging.getLogger(__name__)


class WorkerHeartbeat:
    """Keep this worker's heartbeat and leases alive; reap dead workers' leases; wait when idle.

    A worker whose queue is empty waits while other workers hold leases
    (their work may queue requests), up to ``NEWSSPIDER_REDIS_IDLE_TIMEOUT``;
    it ends the crawl as ``finished`` once the shared frontier is empty.
    """

    #: how often a worker looks for requests queued by others (the engine's own heartbeat, 5 s,
    #: would leave it waiting), and, idle, whether the crawl has ended
    POLL = 0.25

    def __init__(self, crawler: Crawler, idle_timeout: float, interval: float) -> None:
        self.crawler = crawler
        self.idle_timeout = idle_timeout
        self.interval = interval
        self.idle_since: float | None = None
        self.closing = False
        self.task: Any = None
        self.poll_task: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkerHeartbeat:
        settings = crawler.settings
        if not settings.get("NEWSSPIDER_REDIS_URL"):
            raise NotConfigured
        beat = cls(crawler, settings.getfloat("NEWSSPIDER_REDIS_IDLE_TIMEOUT"),
                   max(0.2, settings.getfloat("NEWSSPIDER_REDIS_LEASE") / 3))
        crawler.signals.connect(beat.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(beat.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(beat.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(beat.response_received, signal=signals.response_received)
        return beat

    def response_received(self) -> None:
        self.idle_since = None

    def _frontier(self) -> RedisFrontier | None:
        frontier = self.crawler.engine.scheduler
        return frontier if isinstance(frontier, RedisFrontier) else None

    def _memory(self) -> Coordination | None:
        return memory_of(self.crawler).coordination

    def spider_opened(self) -> None:
        self.task = create_looping_call(self.beat)
        self.task.start(self.interval, now=True)
        self.poll_task = create_looping_call(self.poll)
        self.poll_task.start(self.POLL, now=False)

    def spider_closed(self) -> None:
        self.closing = True
        for task in (self.task, self.poll_task):
            if task is not None and task.running:
                task.stop()

    def poll(self) -> None:
        """Hand a request queued by another worker to the engine when it has room; idle, end the
        crawl once the shared frontier is empty."""
        engine = self.crawler.engine
        frontier = self._frontier()
        if (self.closing or engine.spider is None or frontier is None or frontier.unavailable
                or engine.needs_backout()):
            return
        if frontier.hand_over() or self.idle_since is None:
            return
        try:
            idle = engine.spider_is_idle()
        except RuntimeError:  # "Engine slot not assigned": the engine is closing the spider already
            return
        if not idle:
            return
        try:
            done = not self._busy(frontier)
        except (StorageError, redis.RedisError) as exc:
            self._failed(exc)
            return
        if done:
            self.closing = True
            deferred_from_coro(engine.close_spider_async(reason="finished"))

    def beat(self) -> None:
        frontier = self._frontier()
        if frontier is not None and frontier.unavailable:
            return
        try:
            if (memory := self._memory()) is not None:
                memory.heartbeat()
                memory.check_run()
            # (a scheduler with an empty queue is falsy: its leases still need renewing)
            if frontier is not None:
                frontier.renew_leases()
        except (StorageError, redis.RedisError) as exc:
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        """Redis failed or lost the crawl: stop this worker with one line."""
        if (frontier := self._frontier()) is not None:
            frontier.unavailable = True
        if isinstance(exc, StorageError):
            stop_crawl(self.crawler, exc.reason, str(exc))
        else:
            redis_down(self.crawler, exc)

    def _busy(self, frontier: RedisFrontier) -> int:
        """Requests queued or in flight in the shared frontier (expired leases requeued first)."""
        if (memory := self._memory()) is not None:
            memory.check_run()  # an empty frontier in a Redis that lost the crawl is not the end
            if not memory.start_urls_queued():
                return 1  # nor is one whose first worker is still queueing the start URLs
        frontier.queue.reap()
        return len(frontier.queue) + frontier.queue.in_flight()

    def spider_idle(self) -> None:
        """Wait while other workers hold leases (their work may add requests), up to the timeout."""
        frontier = self._frontier()
        if frontier is None:
            return
        if frontier.unavailable:
            raise DontCloseSpider  # closing already, with the reason Redis failed
        try:
            busy = self._busy(frontier)
        except (StorageError, redis.RedisError) as exc:
            self._failed(exc)
            raise DontCloseSpider from None
        logger.debug("idle; the shared frontier holds %d queued and in-flight requests", busy)
        if not busy:
            return
        now = time.monotonic()
        self.idle_since = self.idle_since or now
        if now - self.idle_since < self.idle_timeout:
            raise DontCloseSpider
        # Not "finished": the frontier still holds work (other workers' leases, or queued requests).
        logger.warning("stopping after %.0f s idle while other workers still hold %d requests",
                       now - self.idle_since, busy)
        raise CloseSpider("idle_timeout")
