"""The memory of a distributed crawl, shared by its workers through Redis: the twin of ``sqlite.py``.

Keys (all under ``NEWSSPIDER_REDIS_PREFIX``, default ``newsspider``):

- ``<p>:articles`` hash: article id -> ``"<first run>|<version>|<content hash>"``, one per stored article;
- ``<p>:claim:<id>``: the worker storing an article right now (a live worker's claim is respected);
- ``<p>:shards`` hash: ``<shard file name>`` -> bytes accounted for, so a restarted worker adds the
  records it wrote but had not yet recorded;
- ``<p>:workers`` hash: worker id -> last heartbeat (epoch seconds);
- ``<p>:run`` the current run id, ``<p>:run:<id>`` hash: started_at, ended_at, status, workers and
  counters, ``<p>:seeded:<id>`` the worker that queues the start URLs of a run, and
  ``<p>:seeded:<id>:queued`` once it has;
- ``<p>:complete``: the last run that walked the whole site (ended ``finished``);
- ``<p>:unknown`` set: ids added from shards whose run is not known, until a run walks the site;
- ``<p>:epoch``: a random id made when the crawl's data is first written; a worker that finds it
  changed or gone knows Redis lost the crawl (restarted empty) and stops;
- ``<p>:shard-of`` hash: worker id -> the shard it appends to, when its first one was damaged;
- ``<p>:feeds`` list: the feeds of all the site's posts that the crawl's pages named;
- ``<p>:validators`` hash: article id -> its stored version's validators and archived capture (JSON,
  :class:`~newsspider.memory.Validators`).

A worker writes its own shard ``<data dir>/articles-<worker id>.jsonl``; the
dataset reader reads every shard.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import socket
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from newsspider.core.credentials import encode_userinfo, redact, scrub
from newsspider.core.time import utc_now_iso
from newsspider.dataset.reader import shard_lines, shard_paths
from newsspider.dataset.storage import StorageError
from newsspider.memory import REDIS_PREFIX, UNKNOWN_RUN, Run, StoredArticle, Validators

__all__ = [
    "RedisMemory",
    "StateLost",
    "StateUnavailable",
    "default_worker_id",
    "read_redis_runs",
    "redis_client",
    "redis_error",
    "runs_of",
]

logger = logging.getLogger(__name__)

#: the distributed frontier's keys under the crawl's prefix (:mod:`newsspider.frontier.queue` keeps
#: them): the queue of waiting requests, and the requests handed to a worker under a lease.  The
#: memory reads them to tell a run whose workers died from one still under way.

# Take an article for storing unless it is stored, or a live worker has taken it.
# Every write below first checks the crawl's epoch: a Redis that lost the crawl (restarted empty)
# must not take records, or the shard offsets would skip what was stored before the loss.
_CLAIM = """
if redis.call('GET', KEYS[4]) ~= ARGV[5] then return -1 end
if redis.call('HEXISTS', KEYS[3], ARGV[4]) == 1 then return 0 end
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then
  local beat = tonumber(redis.call('HGET', KEYS[2], owner) or '0')
  if beat >= tonumber(ARGV[3]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', 86400)
return 1
"""
# Mark an article stored: its entry, the shard's accounted size, its claim released.
_MARK = """
if redis.call('GET', KEYS[4]) ~= ARGV[5] then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('DEL', KEYS[3])
return 1
"""


_F = TypeVar("_F", bound=Callable[..., Any])


class StateUnavailable(StorageError):
    """Redis cannot be reached, or has lost the crawl's data (its message says which, in one line)."""

    reason = "redis_unavailable"


class StateLost(StateUnavailable):
    """Redis answers, but the crawl's data is gone (a restart without persistence)."""

    reason = "redis_data_lost"


def redis_error(url: str, exc: BaseException) -> str:
    """One line for a Redis that failed: where (password hidden) and what.

    >>> redis_error("redis://:Wr/ong@Pw@127.0.0.1:6379/0", ValueError("bad password Wr/ong@Pw"))
    'Redis at redis://***@127.0.0.1:6379/0: bad password ***'
    """
    return f"Redis at {redact(url)}: {scrub(str(exc), url) or type(exc).__name__}"


def reconnect_policy(seconds: float) -> Retry:
    """Retries with backoff (0.05 s doubling up to 1 s) adding up to about *seconds* of waiting.

    >>> reconnect_policy(30).get_retries()
    33
    """
    first = 5  # 0.1 + 0.2 + 0.4 + 0.8 + 1.0 s
    retries = first + max(0, math.ceil(seconds - 2.5)) if seconds > 0 else 0
    return Retry(ExponentialBackoff(cap=1.0, base=0.05), retries)


def client_options(reconnect: float) -> dict[str, Any]:
    """The options of every Redis client of a crawl (the memory's, the frontier's through
    ``REDIS_PARAMS``, the check before a crawl): short timeouts, and retries that ride out a Redis
    restart of up to *reconnect* seconds.

    >>> sorted(client_options(30))
    ['retry', 'retry_on_error', 'socket_connect_timeout', 'socket_timeout']
    """
    return {"socket_connect_timeout": 2, "socket_timeout": 10, "retry": reconnect_policy(reconnect),
            "retry_on_error": [redis.ConnectionError, redis.TimeoutError]}


def redis_client(url: str, reconnect: float) -> redis.Redis:
    """A client that rides out a Redis restart of up to *reconnect* seconds, then raises."""
    return redis.Redis.from_url(encode_userinfo(url), **client_options(reconnect))


def _guarded(method: _F) -> _F:
    """Turn a Redis error in *method* into :class:`StateUnavailable` with one line; once Redis has
    failed (after the client's reconnect attempts), fail at once."""
    @functools.wraps(method)
    def call(self: RedisMemory, *args: Any, **kwargs: Any) -> Any:
        if self.unavailable is not None:
            raise StateUnavailable(self.unavailable)
        try:
            return method(self, *args, **kwargs)
        except StateLost as exc:  # nothing more may be written into a Redis that lost the crawl
            self.unavailable = str(exc)
            raise
        except redis.RedisError as exc:
            self.unavailable = redis_error(self.url, exc)
            raise StateUnavailable(self.unavailable) from exc
    return call  # type: ignore[return-value]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def default_worker_id() -> str:
    """``<host name>-<process id>``: unique among the workers of a crawl."""
    return f"{socket.gethostname()}-{os.getpid()}"


class RedisMemory:
    """What a distributed crawl remembers, shared by its workers (a :class:`~newsspider.memory.Memory`)."""

    def __init__(self, data_dir: str | Path, url: str, prefix: str = REDIS_PREFIX,
                 worker_id: str | None = None, lease_seconds: float = 30.0, reconnect: float = 30.0,
                 frontier_keys: Sequence[str] = ()) -> None:
        self.data_dir = Path(data_dir)
        #: the keys that hold the shared frontier's requests (newsspider.frontier.keys.busy_keys)
        self.frontier_keys = list(frontier_keys)
        self.url = url
        self.prefix = prefix
        self.worker_id = worker_id or default_worker_id()
        self.lease_seconds = lease_seconds
        self.redis = redis_client(url, reconnect)
        #: why Redis cannot be used any more, once it failed
        self.unavailable: str | None = None
        self.run_id = 0
        self.last_complete_run = 0
        self._claim = self.redis.register_script(_CLAIM)
        self._mark_script = self.redis.register_script(_MARK)
        self.epoch = self._join_epoch()
        self.heartbeat()
        self.sync_with_dataset()

    @_guarded
    def _join_epoch(self) -> str:
        """The id of the crawl's data in this Redis, made when there is none (a new or emptied Redis)."""
        self.redis.set(self.key("epoch"), os.urandom(8).hex(), nx=True)
        return _text(self.redis.get(self.key("epoch")) or b"")

    def _lost(self) -> StateLost:
        return StateLost(f"Redis at {redact(self.url)}: the crawl's data is gone (was Redis restarted "
                         "without it?); start the workers again to go on from what is stored")

    def key(self, *parts: object) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    @property
    @_guarded
    def shard_name(self) -> str:
        """This worker's shard: ``articles-<worker id>.jsonl``, or its continuation."""
        name = self.redis.hget(self.key("shard-of"), self.worker_id)
        return _text(name) if name else f"articles-{self.worker_id}.jsonl"

    @_guarded
    def set_shard(self, name: str) -> None:
        self.redis.hset(self.key("shard-of"), self.worker_id, name)

    @_guarded
    def feeds(self) -> list[str]:
        return [_text(url) for url in self.redis.lrange(self.key("feeds"), 0, -1)]

    @_guarded
    def set_feeds(self, urls: list[str]) -> None:
        with self.redis.pipeline() as pipe:
            pipe.delete(self.key("feeds"))
            if urls:
                pipe.rpush(self.key("feeds"), *urls)
            pipe.execute()

    # --- workers ---------------------------------------------------------------------------
    @_guarded
    def heartbeat(self) -> None:
        self.redis.hset(self.key("workers"), self.worker_id, time.time())

    @_guarded
    def live_workers(self) -> list[str]:
        cutoff = time.time() - self.lease_seconds
        beats = self.redis.hgetall(self.key("workers"))
        return [_text(w) for w, beat in beats.items() if float(beat) >= cutoff]

    @_guarded
    def check_run(self) -> None:
        """Raise :class:`StateLost` when the run this worker is in has vanished from Redis."""
        if _text(self.redis.get(self.key("epoch")) or b"") != self.epoch:
            raise self._lost()

    # --- keeping up with this machine's shards ---------------------------------------------
    @_guarded
    def sync_with_dataset(self) -> None:
        """Record what this machine's shards hold beyond what Redis accounted for."""
        added = 0
        for shard in shard_paths(self.data_dir):  # the data dir exists: the crawl made it
            known = int(self.redis.hget(self.key("shards"), shard.name) or 0)
            size = shard.stat().st_size
            if size <= known:
                continue
            for line in shard_lines(shard, known):
                if line.truncated:
                    break
                if line.record is not None:
                    self._mark(line.record, UNKNOWN_RUN, shard.name, line.end)
                    self.redis.sadd(self.key("unknown"), str(line.record["article_id"]))
                    added += 1
                elif line.problem is not None:
                    logger.warning("%s:%d: not a newsspider record (%s); left as it is and ignored",
                                   shard, line.lineno, line.problem)
        if added:
            logger.warning("Redis was missing %d records of the shards in %s; added them", added,
                           self.data_dir)

    # --- questions the crawl asks --------------------------------------------------------
    def _entry(self, article_id: str | int) -> tuple[int, int, str] | None:
        raw = self.redis.hget(self.key("articles"), str(article_id))
        if raw is None:
            return None
        run, version, content_hash = _text(raw).split("|", 2)
        return int(run), int(version), content_hash

    @_guarded
    def get(self, article_id: str | int) -> StoredArticle | None:
        entry = self._entry(article_id)
        if entry is None:
            return None
        run, version, content_hash = entry
        return StoredArticle(str(article_id), content_hash or None, version, run)

    @_guarded
    def is_stored(self, article_id: str | int) -> bool:
        return bool(self.redis.hexists(self.key("articles"), str(article_id)))

    @_guarded
    def stored_run(self, article_id: str | int) -> int | None:
        """The run that first stored *article_id* (:data:`UNKNOWN_RUN` if not known), None if none did."""
        entry = self._entry(article_id)
        return None if entry is None else entry[0]

    @_guarded
    def count(self) -> int:
        return int(self.redis.hlen(self.key("articles")))

    @_guarded
    def last_seen(self, article_id: str | int) -> str | None:
        """When *article_id* was last captured (the ``seen`` hash: a time per article)."""
        seen = self.redis.hget(self.key("seen"), str(article_id))
        return _text(seen) if seen else None

    def stored_urls(self) -> Iterator[tuple[str, str]]:
        """Every stored article's id, with no URL (Redis keeps none: the crawl asks for its shortlink)."""
        cursor = 0
        while True:
            cursor, ids = self._scan_ids(cursor)
            yield from ((_text(article_id), "") for article_id in ids)
            if not cursor:
                return

    @_guarded
    def _scan_ids(self, cursor: int) -> tuple[int, list[bytes | str]]:
        cursor, found = self.redis.hscan(self.key("articles"), cursor, count=1000)
        return int(cursor), list(found)

    @_guarded
    def claim(self, article_id: str | int) -> bool:
        """Take *article_id* for storing; False when it is stored or a live worker has it."""
        stale_before = time.time() - self.lease_seconds
        keys = [self.key("claim", article_id), self.key("workers"), self.key("articles"), self.key("epoch")]
        args: list[str | float] = [self.worker_id, time.time(), stale_before, str(article_id), self.epoch]
        result = int(self._claim(keys=keys, args=args))
        if result < 0:
            raise self._lost()
        return result == 1

    # --- what the crawl tells it ---------------------------------------------------------
    def _mark(self, record: dict[str, Any], run_id: int, shard: str, shard_size: int) -> bool:
        """Record *record* as stored; return whether the article was stored before (a new version)."""
        article_id = str(record["article_id"])
        entry = self._entry(article_id)
        first_run = entry[0] if entry else run_id
        version = max(int(record.get("version") or 1), entry[1] if entry else 0)
        entry_value = f"{first_run}|{version}|{record.get('content_hash') or ''}"
        keys = [self.key("articles"), self.key("shards"), self.key("claim", article_id), self.key("epoch")]
        args: list[str | int] = [article_id, entry_value, shard, shard_size, self.epoch]
        if int(self._mark_script(keys=keys, args=args)) < 0:
            raise self._lost()
        return entry is not None

    @_guarded
    def record_stored(self, record: dict[str, Any], shard: str, shard_size: int) -> None:
        """Counted in the run as it is stored (the workers' counts add up): a new article, or a new
        version of one stored before (``--refresh``)."""
        updated = self._mark(record, self.run_id, shard, shard_size)
        seen = record.get("crawled_at") or utc_now_iso()
        self.redis.hset(self.key("seen"), str(record["article_id"]), seen)
        self.redis.hincrby(self.key("run", self.run_id), "updated_articles" if updated else "new_articles", 1)

    @_guarded
    def touch(self, article_id: str | int, seen: str) -> None:
        """The article's last capture (for a refresh by sitemaps' lastmod)."""
        self.redis.hset(self.key("seen"), str(article_id), seen)

    @_guarded
    def validators(self, article_id: str | int) -> Validators | None:
        raw = self.redis.hget(self.key("validators"), str(article_id))
        if raw is None:
            return None
        try:
            return Validators(**json.loads(raw))
        except (ValueError, TypeError):  # not ours: asked without validators, and replaced next time
            return None

    @_guarded
    def set_validators(self, article_id: str | int, validators: Validators) -> None:
        if self.redis.hexists(self.key("articles"), str(article_id)):
            self.redis.hset(self.key("validators"), str(article_id), json.dumps(asdict(validators)))

    def commit(self) -> None:
        """Every change is written to Redis at once."""

    # --- runs ------------------------------------------------------------------------------
    @_guarded
    def start_run(self, window: dict[str, str] | None = None) -> int:
        """Join the running crawl, or start a new run when none is going on; return its id."""
        if self.run_id:
            return self.run_id
        self.last_complete_run = int(self.redis.get(self.key("complete")) or 0)
        with self.redis.lock(self.key("run-lock"), timeout=10, blocking_timeout=10):
            current = int(self.redis.get(self.key("run")) or 0)
            status = self.redis.hget(self.key("run", current), "status")
            others = [w for w in self.live_workers() if w != self.worker_id]
            if current and status == b"running" and (others or self._frontier_busy()):
                self.run_id = current
            else:
                if current and status == b"running":  # its workers were killed: it never ended
                    self.redis.hset(self.key("run", current), "status", "interrupted")
                self.run_id = int(self.redis.incr(self.key("run")))
                fields: dict[str, str | int] = {"started_at": utc_now_iso(), "status": "running",
                                                "workers": 0}
                if window:
                    fields["window"] = json.dumps(window, sort_keys=True)
                self.redis.hset(self.key("run", self.run_id), mapping=fields)  # type: ignore[arg-type]
            self.redis.hincrby(self.key("run", self.run_id), "workers", 1)
        return self.run_id

    def _frontier_busy(self) -> bool:
        # Redis deletes an emptied sorted set or hash: a frontier key exists while it holds requests
        return bool(self.frontier_keys) and bool(self.redis.exists(*self.frontier_keys))

    @property
    def coordination(self) -> RedisMemory:
        """What the workers of a distributed crawl coordinate through: this memory."""
        return self

    @_guarded
    def should_seed(self) -> bool:
        """True for the first worker of a run: it queues the start URLs."""
        return bool(self.redis.set(self.key("seeded", self.run_id), self.worker_id, nx=True))

    @_guarded
    def seeded(self) -> None:
        """This worker, the run's first, has queued the start URLs."""
        self.redis.set(self.key("seeded", self.run_id, "queued"), self.worker_id)

    @_guarded
    def start_urls_queued(self) -> bool:
        """Whether the run's start URLs are in the frontier yet (until then an empty frontier is not
        the end of the crawl: its first worker is still queueing them)."""
        return bool(self.redis.exists(self.key("seeded", self.run_id, "queued")))

    @_guarded
    def finish_run(self, status: str, finish_reason: str, failures: dict[str, int] | None = None,
                   quality: dict[str, Any] | None = None, checks: list[str] | None = None,
                   **counts: int) -> None:
        """Add this worker's counts to the run; the last worker out closes the run."""
        key = self.key("run", self.run_id)
        pipe = self.redis.pipeline(transaction=True)
        for name in ("pages", "dropped", "errors"):
            pipe.hincrby(key, name, counts.get(name, 0))
        pipe.hincrby(key, "failed", sum((failures or {}).values()))
        for reason, count in (failures or {}).items():
            pipe.hincrby(key, f"failed/{reason}", count)
        for name, value in _additive(quality or {}).items():
            pipe.hincrby(key, f"quality/{name}", value)
        if quality:
            pipe.hset(key, f"quality/median_body/{self.worker_id}", quality.get("median_body", 0))
            pipe.hincrbyfloat(key, "quality/pages_per_second", quality.get("pages_per_second", 0.0))
        if checks:
            pipe.hset(key, f"checks/{self.worker_id}", json.dumps(checks, ensure_ascii=False))
        pipe.hset(key, f"worker/{self.worker_id}", json.dumps({"status": status, "reason": finish_reason}))
        pipe.execute()
        self.redis.hdel(self.key("workers"), self.worker_id)
        if not self.live_workers() and not self._frontier_busy():
            if status == "finished" and any(_text(k).startswith("checks/") for k in self.redis.hkeys(key)):
                status = "degraded"  # a worker's monitors failed
            self.redis.hset(key, mapping={"status": status, "ended_at": utc_now_iso(),
                                          "reason": finish_reason})
            if finish_reason == "finished" and not self.redis.hexists(key, "window"):  # the whole site
                self.redis.set(self.key("complete"), self.run_id)
                self._adopt_unknown()

    def _adopt_unknown(self) -> None:
        """Articles found in shards by a worker that could not tell their run: a run that walked the
        whole site has met them, so they are old news now."""
        for raw in self.redis.sscan_iter(self.key("unknown"), count=1000):
            article_id = _text(raw)
            if (entry := self._entry(article_id)) is not None and entry[0] == UNKNOWN_RUN:
                self.redis.hset(self.key("articles"), article_id, f"{self.run_id}|{entry[1]}|{entry[2]}")
        self.redis.delete(self.key("unknown"))

    def close(self) -> None:
        self.redis.close()


    @_guarded
    def runs(self) -> list[Run]:
        return runs_of(self.redis, self.prefix)


def _additive(quality: dict[str, Any]) -> dict[str, int]:
    """The counts of a run's quality that the workers' add up.

    >>> _additive({"stored": 3, "fields": {"tags": 2}, "dropped": {"missing_body": 1}, "retries": 0,
    ...            "bans": 1, "median_body": 900})
    {'stored': 3, 'retries': 0, 'bans': 1, 'fields/tags': 2, 'dropped/missing_body': 1}
    """
    counts: dict[str, int] = {name: int(quality[name]) for name in ("stored", "retries", "bans", "http_403",
                                                                     "http_429", "challenges", "clearances")
                               if name in quality}
    for group in ("fields", "dropped", "proxies"):
        counts.update({f"{group}/{name}": int(v) for name, v in quality.get(group, {}).items()})
    return counts


def _run(run_id: int, fields: dict[str, str]) -> Run:
    """A run as the SQLite history has it, from its Redis hash (the workers' counts added up)."""
    quality: dict[str, Any] = {"fields": {}, "dropped": {}, "proxies": {}}
    medians, checks, failures = [], [], {}
    for name, value in fields.items():
        if name.startswith("quality/median_body/"):
            medians.append(int(value))
        elif name.startswith("quality/"):
            kind, _, sub = name[len("quality/"):].partition("/")
            if sub:
                quality[kind][sub] = int(value)
            else:
                quality[kind] = float(value) if kind == "pages_per_second" else int(value)
        elif name.startswith("checks/"):
            checks += json.loads(value)
        elif name.startswith("failed/"):
            failures[name[len("failed/"):]] = int(value)
    quality["median_body"] = int(statistics.median(medians)) if medians else 0  # of the workers' medians
    return Run(run_id, fields.get("started_at", ""), fields.get("ended_at"), fields.get("status", "-"),
               int(fields.get("pages", 0)), int(fields.get("new_articles", 0)),
               int(fields.get("updated_articles", 0)), int(fields.get("dropped", 0)),
               int(fields.get("failed", 0)), int(fields.get("errors", 0)), fields.get("reason"),
               json.dumps(failures, sort_keys=True),
               json.dumps(quality, sort_keys=True) if "stored" in quality else None,
               json.dumps(checks, ensure_ascii=False) if checks else None, fields.get("window"))


def runs_of(client: redis.Redis, prefix: str) -> list[Run]:
    """The run history kept under *prefix*, oldest first."""
    last = int(client.get(f"{prefix}:run") or 0)
    return [_run(run_id, {_text(k): _text(v) for k, v in client.hgetall(f"{prefix}:run:{run_id}").items()})
            for run_id in range(1, last + 1)]


def read_redis_runs(url: str, prefix: str = REDIS_PREFIX) -> list[Run]:
    """The run history of a distributed crawl, read-only."""
    client = redis.Redis.from_url(encode_userinfo(url))
    try:
        return runs_of(client, prefix)
    finally:
        client.close()
