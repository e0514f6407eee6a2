"""The shared queue: scrapy-redis's priority queue whose pops are leased until acknowledged.

Keys (``<p>`` is the queue key's prefix): ``<p>:requests`` the queue,
``<p>:processing`` lease token -> request, ``<p>:processing-scores`` lease
token -> priority, ``<p>:leases`` lease token -> expiry (epoch seconds).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from scrapy import Request, Spider
from scrapy_redis.queue import PriorityQueue

from newsspider.core.meta import LEASE
from newsspider.frontier.keys import LEASED, LEASES, SCORES
from newsspider.memory.redis import default_worker_id

__all__ = ["LEASE", "LeasedPriorityQueue"]


# Pop the best request and lease it, atomically.  A pop is retried with its token when the reply was
# lost (Redis went away after running it): the request already leased under that token is returned
# again, never a second one in its place (which would lose the first).
_POP = """
local leased = redis.call('HGET', KEYS[2], ARGV[1])
if leased then return leased end
local item = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #item == 0 then return false end
redis.call('ZREM', KEYS[1], item[1])
redis.call('HSET', KEYS[2], ARGV[1], item[1])
redis.call('HSET', KEYS[3], ARGV[1], item[2])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
return item[1]
"""
# Queue a request unless the crawl has seen it: the dupefilter's SADD and the queue's ZADD in one
# script, so that a run retried after a lost reply cannot find its own fingerprint and drop the
# request it had not queued (a fingerprint added, the request never queued: an article lost).
_ENQUEUE = """
if ARGV[4] == '1' and redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
return 1
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

    def __init__(self, server: Any, spider: Spider, key: str, serializer: Any = None,
                 worker_id: str = "") -> None:
        super().__init__(server, spider, key, serializer)
        base = key.rsplit(":", 1)[0]
        self.processing_key = f"{base}:{LEASED}"
        self.scores_key = f"{base}:{SCORES}"
        self.leases_key = f"{base}:{LEASES}"
        self.lease_seconds = float(spider.settings.getfloat("NEWSSPIDER_REDIS_LEASE"))
        #: lease tokens are ``<worker id>:<n>``: unique among the crawl's workers
        self.worker_id = worker_id or default_worker_id()
        self._tokens = (f"{self.worker_id}:{n}" for n in itertools.count(1))
        self.held: set[str] = set()
        self._pop = server.register_script(_POP)
        self._reap = server.register_script(_REAP)
        self._enqueue = server.register_script(_ENQUEUE)

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

    def push_unseen(self, request: Request, fingerprint: str, dupefilter_key: str) -> bool:
        """Queue *request* unless *fingerprint* is in the dupefilter (a ``dont_filter`` request is
        always queued); atomically, so that it is safe to run twice."""
        filtered = "0" if request.dont_filter else "1"
        data = self._encode_request(request)
        return bool(self._enqueue(keys=[self.key, dupefilter_key],
                                  args=[fingerprint, -request.priority, data, filtered]))

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
