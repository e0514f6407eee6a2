"""The Redis keys of the shared frontier, named once (``<p>`` is the crawl's ``NEWSSPIDER_REDIS_PREFIX``).

``<p>:requests`` the queue (a sorted set), ``<p>:processing`` lease token -> request (a hash),
``<p>:processing-scores`` lease token -> score, ``<p>:leases`` lease token -> expiry, and
``<p>:dupefilter:<epoch>:<run>`` the duplicate filter of one run (Redis may lose the crawl: run ids
start again at 1 in a new epoch).
"""

from __future__ import annotations

__all__ = ["LEASED", "LEASES", "QUEUE", "SCORES", "busy_keys", "dupefilter_key", "queue_key"]

#: the queue's key (after the prefix)
QUEUE = "requests"
#: lease token -> the leased request
LEASED = "processing"
#: lease token -> the leased request's score
SCORES = "processing-scores"
#: lease token -> when the lease expires
LEASES = "leases"


def queue_key(prefix: str) -> str:
    """
    >>> queue_key("newsspider")
    'newsspider:requests'
    """
    return f"{prefix}:{QUEUE}"


def busy_keys(prefix: str) -> list[str]:
    """The keys that hold requests while the frontier has any (queued or leased): Redis deletes an
    emptied sorted set or hash, so the frontier is busy while one of them exists.

    >>> busy_keys("p")
    ['p:requests', 'p:processing']
    """
    return [queue_key(prefix), f"{prefix}:{LEASED}"]


def dupefilter_key(prefix: str, epoch: str, run_id: int) -> str:
    """
    >>> dupefilter_key("p", "ab12", 3)
    'p:dupefilter:ab12:3'
    """
    return f"{prefix}:dupefilter:{epoch}:{run_id}"
