"""The distributed crawl's scheduler: scrapy-redis's, over the leased queue, one dupefilter per run."""

from __future__ import annotations

import functools
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.utils.misc import load_object
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler
from twisted.python.failure import Failure

from newsspider.core import signals as newsspider_signals
from newsspider.core.failures import stop_crawl
from newsspider.core.meta import HANDED
from newsspider.core.scope import allowed_hosts
from newsspider.frontier.keys import dupefilter_key
from newsspider.frontier.queue import LEASE, LeasedPriorityQueue
from newsspider.memory.extension import memory_of
from newsspider.memory.redis import redis_error

__all__ = ["RedisFrontier", "redis_down"]

logger = logging.getLogger(__name__)

#: request.meta flag of a request popped by this worker and handed to the engine (see
#: :meth:`RedisFrontier.hand_over`): it is queued here, not in Redis again
_HANDED = HANDED

_F = TypeVar("_F", bound=Callable[..., Any])


def redis_down(crawler: Crawler, exc: Exception) -> None:
    """Stop the crawl with one line saying that Redis failed."""
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
                redis_down(self.crawler, exc)
                return default
        return call  # type: ignore[return-value]
    return wrap


class RedisFrontier(Scheduler):
    """scrapy-redis's Scheduler over a :class:`LeasedPriorityQueue`, one dupefilter per run.

    It releases a request's lease when the request is replaced (a retry, a
    redirect queued in its place), dropped before it is queued (a redirect to
    another host), failed (:data:`newsspider.core.signals.request_failed`) or done
    (:meth:`ack`, called by :class:`~newsspider.frontier.leases.LeaseAck`).
    """

    queue: LeasedPriorityQueue
    crawler: Crawler
    #: requests popped by :meth:`hand_over`, queued here for the engine
    handed: deque[Request]
    #: Redis failed: the crawl is stopping, nothing more is asked of it
    unavailable = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisFrontier:
        frontier: RedisFrontier = super().from_crawler(crawler)
        frontier.crawler = crawler
        frontier.handed = deque()
        crawler.signals.connect(frontier.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(frontier.request_failed, signal=newsspider_signals.request_failed)
        return frontier

    def __len__(self) -> int:
        return 0 if self.unavailable else len(self.handed) + int(super().__len__())

    @_unless_redis_fails(False)
    def has_pending_requests(self) -> bool:
        return bool(self.handed) or bool(super().has_pending_requests())

    def open(self, spider: Spider) -> None:
        self.spider = spider
        memory = memory_of(self.crawler).coordination
        if memory is None:
            raise TypeError("the Redis frontier needs the Redis memory (NEWSSPIDER_REDIS_URL)")
        self.queue = load_object(self.queue_cls)(server=self.server, spider=spider, key=self.queue_key,
                                                 serializer=self.serializer, worker_id=memory.worker_id)
        # per epoch too: run ids start again at 1 in a Redis that lost the crawl
        self.df = RFPDupeFilter(self.server, key=dupefilter_key(memory.prefix, memory.epoch, memory.run_id),
                                debug=self.crawler.settings.getbool("DUPEFILTER_DEBUG"))
        if reaped := self.queue.reap():
            logger.warning("requeued %d requests of workers that stopped without finishing them", reaped)
        if queued := len(self.queue):
            logger.info("joining crawl run %d: %d requests queued", memory.run_id, queued)

    @_unless_redis_fails(None)
    def close(self, reason: str) -> None:
        """Keep the shared frontier: other workers may still be using it."""
        for token in list(self.queue.held):  # not finished here: give them back now
            self.server.zadd(self.queue.leases_key, {token: 0}, xx=True)
        self.queue.reap()

    def request_scheduled(self, request: Request, spider: Spider) -> None:
        """A redirect to another host is dropped before it reaches the queue: its lease is done."""
        token = request.meta.get(LEASE)
        hosts = allowed_hosts(spider)
        if token and hosts and urlsplit(request.url).netloc not in hosts:
            self.ack(request.meta.pop(LEASE))

    def request_failed(self, request: Request, failure: Failure) -> None:
        self.ack(request.meta.pop(LEASE, None))

    @_unless_redis_fails(False)
    def enqueue_request(self, request: Request) -> bool:
        """Queue *request*; a retry or redirect releases the lease of the request it replaces."""
        if request.meta.pop(_HANDED, False):
            self.handed.append(request)
            return True
        parent = request.meta.pop(LEASE, None)
        try:
            if not self.queue.push_unseen(request, self.df.request_fingerprint(request), self.df.key):
                return False
            self.stats.inc_value("scheduler/enqueued/redis")
            return True
        finally:
            if parent:
                self.ack(parent)

    @_unless_redis_fails(None)
    def next_request(self) -> Request | None:
        if self.handed:
            return self.handed.popleft()
        request = self.queue.pop()
        if request is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def hand_over(self) -> bool:
        """Pop a request another worker queued and hand it to the engine (``engine.crawl``), which
        wakes it up now rather than at its next heartbeat; False when the queue is empty."""
        request = self.next_request()
        if request is None:
            return False
        request.meta[_HANDED] = True
        self.crawler.engine.crawl(request)
        return True

    @_unless_redis_fails(None)
    def ack(self, token: str | None) -> None:
        """Release the lease *token* (a request done with)."""
        if token:
            self.queue.ack(token)

    @_unless_redis_fails(None)
    def renew_leases(self) -> int:
        """Renew this worker's leases and requeue dead workers' expired ones; return how many."""
        self.queue.renew()
        return self.queue.reap()
