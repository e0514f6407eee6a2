"""One frontier for many workers: scrapy-redis's scheduler, queue and dupefilter, with leases.

Plain scrapy-redis pops a request off the shared queue and forgets it: a
worker killed while the request is in flight loses it.  Here a pop moves the
request into a processing hash under a lease (``<p>:processing``,
``<p>:leases``); the worker renews its leases while it works and releases a
lease (``ack``) only when the request is done: its callback or errback has
run to the end (items stored), or a request derived from it (a retry, a
redirect) has been queued in its place.  Leases of a dead worker expire and
any worker puts their requests back on the queue.

A worker whose queue is empty waits while other workers still hold leases,
so that the crawl ends when the frontier is empty and every worker is idle;
``NEWSSPIDER_REDIS_IDLE_TIMEOUT`` bounds the wait.

Checked against Scrapy 2.13+: scrapy-redis's ``RedisSpider`` (it uses
``start_requests``) is not used, only its Scheduler, PriorityQueue and
RFPDupeFilter; the scheduler API Scrapy calls is ``open``, ``close``,
``enqueue_request``, ``next_request``, ``has_pending_requests``.
"""

from __future__ import annotations

import functools
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DontCloseSpider, NotConfigured
from scrapy.http import Response
from scrapy.utils.asyncio import create_looping_call
from scrapy.utils.misc import load_object
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from newsspider.failures import stop_crawl
from newsspider.incremental import crawl_state
from newsspider.redis_state import RedisState, StorageError, reconnect_policy, redis_error

__all__ = ["LEASE", "LeaseAck", "LeasedPriorityQueue", "RedisAddon", "RedisFrontier", "WorkerHeartbeat",
           "release_lease"]

logger = logging.getLogger(__name__)

LEASE = "newsspider_lease"  # request.meta key of the lease a request was popped under

# Pop the best request and lease it, atomically.
_POP = """
local item = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #item == 0 then return false end
redis.call('ZREM', KEYS[1], item[1])
redis.call('HSET', KEYS[2], ARGV[1], item[1])
redis.call('HSET', KEYS[3], ARGV[1], item[2])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
return item[1]
"""
# Put the requests of expired leases back on the queue.
_REAP = """
local tokens = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[1])
for _, token in ipairs(tokens) do
  local data = redis.call('HGET', KEYS[2], token)
  if data then
    redis.call('ZADD', KEYS[1], tonumber(redis.call('HGET', KEYS[3], token) or '0'), data)
  end
  redis.call('HDEL', KEYS[2], token)
  redis.call('HDEL', KEYS[3], token)
  redis.call('ZREM', KEYS[4], token)
end
return #tokens
"""


class LeasedPriorityQueue(PriorityQueue):
    """scrapy-redis's priority queue whose pops are leased until acknowledged."""

    def __init__(self, server: Any, spider: Spider, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        base = key.rsplit(":", 1)[0]
        self.processing_key = f"{base}:processing"
        self.scores_key = f"{base}:processing-scores"
        self.leases_key = f"{base}:leases"
        self.lease_seconds = float(spider.settings.getfloat("NEWSSPIDER_REDIS_LEASE"))
        self.worker_id = getattr(spider, "worker_id", "worker")
        self._tokens = (f"{self.worker_id}:{n}" for n in itertools.count(1))
        self.held: set[str] = set()
        self._pop = server.register_script(_POP)
        self._reap = server.register_script(_REAP)

    def _keys(self) -> list[str]:
        return [self.key, self.processing_key, self.scores_key, self.leases_key]

    def pop(self, timeout: int = 0) -> Request | None:
        token = next(self._tokens)
        data = self._pop(keys=self._keys(), args=[token, time.time() + self.lease_seconds])
        if not data:
            return None
        request = self._decode_request(data)
        request.meta[LEASE] = token
        self.held.add(token)
        return request

    def ack(self, token: str) -> None:
        pipe = self.server.pipeline(transaction=True)
        pipe.hdel(self.processing_key, token)
        pipe.hdel(self.scores_key, token)
        pipe.zrem(self.leases_key, token)
        pipe.execute()
        self.held.discard(token)

    def renew(self) -> None:
        if self.held:
            expiry = time.time() + self.lease_seconds
            self.server.zadd(self.leases_key, dict.fromkeys(self.held, expiry), xx=True)

    def reap(self) -> int:
        """Requeue the requests of expired leases (of workers that died); return how many."""
        return int(self._reap(keys=self._keys(), args=[time.time()]))

    def in_flight(self) -> int:
        return int(self.server.hlen(self.processing_key))


_F = TypeVar("_F", bound=Callable[..., Any])


def _redis_down(crawler: Crawler, exc: Exception) -> None:
    stop_crawl(crawler, "redis_unavailable", redis_error(crawler.settings["REDIS_URL"], exc))


def _unless_redis_fails(default: Any) -> Callable[[_F], _F]:
    """A frontier method that, when Redis fails (after the client's reconnect attempts), stops the
    crawl with one line and returns *default*; once Redis has failed, it only returns *default*."""
    def wrap(method: _F) -> _F:
        @functools.wraps(method)
        def call(self: RedisFrontier, *args: Any, **kwargs: Any) -> Any:
            if self.unavailable:
                return default
            try:
                return method(self, *args, **kwargs)
            except redis.RedisError as exc:
                self.unavailable = True
                _redis_down(self.crawler, exc)
                return default
        return call  # type: ignore[return-value]
    return wrap


class RedisFrontier(Scheduler):
    """scrapy-redis's Scheduler over a :class:`LeasedPriorityQueue`, one dupefilter per run."""

    queue: LeasedPriorityQueue
    #: Redis failed: the crawl is stopping, nothing more is asked of it
    unavailable = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisFrontier:
        frontier: RedisFrontier = super().from_crawler(crawler)
        frontier.crawler = crawler
        crawler.signals.connect(frontier.request_scheduled, signal=signals.request_scheduled)
        return frontier

    def __len__(self) -> int:
        return 0 if self.unavailable else int(super().__len__())

    @_unless_redis_fails(False)
    def has_pending_requests(self) -> bool:
        return bool(super().has_pending_requests())

    def open(self, spider: Spider) -> None:
        self.spider = spider
        state = crawl_state(self.crawler)
        run_id = state.start_run()
        self.queue = load_object(self.queue_cls)(server=self.server, spider=spider, key=self.queue_key,
                                                 serializer=self.serializer)
        # per epoch too: run ids start again at 1 in a Redis that lost the crawl
        self.df = RFPDupeFilter(self.server, key=f"{state.prefix}:dupefilter:{state.epoch}:{run_id}",  # type: ignore[union-attr]
                                debug=self.crawler.settings.getbool("DUPEFILTER_DEBUG"))
        if reaped := self.queue.reap():
            logger.warning("requeued %d requests of workers that stopped without finishing them", reaped)
        if queued := len(self.queue):
            logger.info("joining crawl run %d: %d requests queued", run_id, queued)

    @_unless_redis_fails(None)
    def close(self, reason: str) -> None:
        """Keep the shared frontier: other workers may still be using it."""
        for token in list(self.queue.held):  # not finished here: give them back now
            self.server.zadd(self.queue.leases_key, {token: 0}, xx=True)
        self.queue.reap()

    def request_scheduled(self, request: Request, spider: Spider) -> None:
        """A redirect to another host is dropped before it reaches the queue: its lease is done."""
        token = request.meta.get(LEASE)
        hosts = getattr(spider, "allowed_hosts", None)
        if token and hosts and urlsplit(request.url).netloc not in hosts:
            self.ack(request.meta.pop(LEASE))

    @_unless_redis_fails(False)
    def enqueue_request(self, request: Request) -> bool:
        """Queue *request*; a retry or redirect releases the lease of the request it replaces."""
        parent = request.meta.pop(LEASE, None)
        try:
            if not request.dont_filter and self.df.request_seen(request):
                return False
            self.queue.push(request)
            self.stats.inc_value("scheduler/enqueued/redis")
            return True
        finally:
            if parent:
                self.ack(parent)

    @_unless_redis_fails(None)
    def next_request(self) -> Request | None:
        request = self.queue.pop()
        if request is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    @_unless_redis_fails(None)
    def ack(self, token: str | None) -> None:
        if token:
            self.queue.ack(token)


class LeaseAck:
    """Spider middleware: release a request's lease once its callback's output is all processed."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LeaseAck:
        if not crawler.settings.get("NEWSSPIDER_REDIS_URL"):
            raise NotConfigured
        return cls(crawler)

    async def process_spider_output_async(self, response: Response, result: AsyncIterator[Any]
                                          ) -> AsyncIterator[Any]:
        try:
            async for item in result:
                yield item
        finally:  # an error in the callback ends the request too: never leave it leased
            self._ack(response.request)

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterable[Any]:
        try:
            yield from result
        finally:
            self._ack(response.request)

    def _ack(self, request: Request | None) -> None:
        if request is not None:
            release_lease(self.crawler, request)


def release_lease(crawler: Crawler, request: Request) -> None:
    """Release the lease *request* was popped under, if any (a request done with)."""
    token = request.meta.pop(LEASE, None)
    frontier = getattr(getattr(crawler.engine, "_slot", None), "scheduler", None)
    if token and isinstance(frontier, RedisFrontier):
        frontier.ack(token)


class WorkerHeartbeat:
    """Keep this worker's heartbeat and leases alive; reap dead workers' leases; wait when idle."""

    #: how often an idle worker looks for requests queued by others (Scrapy's own engine
    #: heartbeat, 5 s, would leave it waiting)
    POLL = 0.25

    def __init__(self, crawler: Crawler, idle_timeout: float, interval: float) -> None:
        self.crawler = crawler
        self.idle_timeout = idle_timeout
        self.interval = interval
        self.idle_since: float | None = None
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
        slot = getattr(self.crawler.engine, "_slot", None)
        frontier = getattr(slot, "scheduler", None)
        return frontier if isinstance(frontier, RedisFrontier) else None

    def spider_opened(self) -> None:
        self.task = create_looping_call(self.beat)
        self.task.start(self.interval, now=True)
        self.poll_task = create_looping_call(self.poll)
        self.poll_task.start(self.POLL, now=False)

    def spider_closed(self) -> None:
        for task in (self.task, self.poll_task):
            if task is not None and task.running:
                task.stop()

    def poll(self) -> None:
        """Wake the engine when the shared queue has requests and this worker has room for them,
        and, while it waits idle, to see whether the crawl has ended."""
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None)
        frontier = self._frontier()
        if slot is None or frontier is None or frontier.unavailable or engine.needs_backout():
            return
        if self.idle_since is not None or frontier.has_pending_requests():
            slot.nextcall.schedule()

    def beat(self) -> None:
        frontier = self._frontier()
        if frontier is not None and frontier.unavailable:
            return
        try:
            state = crawl_state(self.crawler)
            if isinstance(state, RedisState):
                state.heartbeat()
                state.check_run()
            # (a scheduler with an empty queue is falsy: its leases still need renewing)
            if frontier is not None:
                frontier.queue.renew()
                frontier.queue.reap()
        except (StorageError, redis.RedisError) as exc:
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        """Redis failed or lost the crawl: stop this worker with one line."""
        if (frontier := self._frontier()) is not None:
            frontier.unavailable = True
        if isinstance(exc, StorageError):
            stop_crawl(self.crawler, exc.reason, str(exc))
        else:
            _redis_down(self.crawler, exc)

    def spider_idle(self) -> None:
        """Wait while other workers hold leases (their work may add requests), up to the timeout."""
        frontier = self._frontier()
        if frontier is None:
            return
        if frontier.unavailable:
            raise DontCloseSpider  # closing already, with the reason Redis failed
        try:
            state = crawl_state(self.crawler)
            if isinstance(state, RedisState):
                state.check_run()  # an empty frontier in a Redis that lost the crawl is not the end
            frontier.queue.reap()
            busy = len(frontier.queue) + frontier.queue.in_flight()
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


class RedisAddon:
    """Scrapy add-on: with ``NEWSSPIDER_REDIS_URL`` set, the crawl's frontier is the shared one."""

    def update_settings(self, settings: Any) -> None:
        url = settings.get("NEWSSPIDER_REDIS_URL")
        if not url:
            return
        prefix = settings.get("NEWSSPIDER_REDIS_PREFIX")
        for name, value in {
            "SCHEDULER": "newsspider.frontier.RedisFrontier",
            "SCHEDULER_QUEUE_CLASS": "newsspider.frontier.LeasedPriorityQueue",
            "SCHEDULER_QUEUE_KEY": f"{prefix}:requests",
            "SCHEDULER_PERSIST": True,
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "REDIS_URL": url,
            # ride out a Redis restart of up to NEWSSPIDER_REDIS_RECONNECT seconds, then stop
            "REDIS_PARAMS": {"socket_connect_timeout": 2, "socket_timeout": 10,
                             "retry": reconnect_policy(settings.getfloat("NEWSSPIDER_REDIS_RECONNECT")),
                             "retry_on_error": [redis.ConnectionError, redis.TimeoutError]},
        }.items():
            settings.set(name, value, priority="addon")
