"""The crawl's memory shared by many workers through Redis: the distributed twin of ``state.py``.

Keys (all under ``NEWSSPIDER_REDIS_PREFIX``, default ``newsspider``):

- ``<p>:articles`` hash: article id -> ``"<first run>|<version>|<content hash>"``, one per stored article;
- ``<p>:claim:<id>``: the worker storing an article right now (a live worker's claim is respected);
- ``<p>:shards`` hash: ``<shard file name>`` -> bytes accounted for, so a restarted worker adds the
  records it wrote but had not yet recorded;
- ``<p>:workers`` hash: worker id -> last heartbeat (epoch seconds);
- ``<p>:run`` the current run id, ``<p>:run:<id>`` hash: started_at, ended_at, status, workers and
  counters, ``<p>:seeded:<id>`` set once the start URLs of a run are queued;
- ``<p>:complete``: the last run that walked the whole site (ended ``finished``);
- ``<p>:unknown`` set: ids added from shards whose run is not known, until a run walks the site;
- ``<p>:shard-of`` hash: worker id -> the shard it appends to, when its first one was damaged.

A worker writes its own shard ``<data dir>/articles-<worker id>.jsonl``; the
dataset reader reads every shard.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

import redis

from newsspider.state import UNKNOWN_RUN, StoredArticle, _now, _parse

__all__ = ["RedisState", "default_worker_id", "read_redis_runs"]

logger = logging.getLogger(__name__)

# Take an article for storing unless it is stored, or a live worker has taken it.
_CLAIM = """
if redis.call('HEXISTS', KEYS[3], ARGV[4]) == 1 then return 0 end
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then
  local beat = tonumber(redis.call('HGET', KEYS[2], owner) or '0')
  if beat >= tonumber(ARGV[3]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', 86400)
return 1
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def default_worker_id() -> str:
    """``<host name>-<process id>``: unique among the workers of a crawl."""
    return f"{socket.gethostname()}-{os.getpid()}"


class RedisState:
    """What a distributed crawl remembers, shared by all its workers (same interface as CrawlState)."""

    def __init__(self, data_dir: str | Path, url: str, prefix: str = "newsspider",
                 worker_id: str | None = None, lease_seconds: float = 30.0) -> None:
        self.data_dir = Path(data_dir)
        self.prefix = prefix
        self.worker_id = worker_id or default_worker_id()
        self.lease_seconds = lease_seconds
        self.redis = redis.Redis.from_url(url)
        self.redis.ping()
        self.run_id = 0
        self.last_complete_run = 0
        self._claim = self.redis.register_script(_CLAIM)
        self.heartbeat()
        self.sync_with_dataset()

    def key(self, *parts: object) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    @property
    def shard_name(self) -> str:
        """This worker's shard: ``articles-<worker id>.jsonl``, or its continuation."""
        name = self.redis.hget(self.key("shard-of"), self.worker_id)
        return _text(name) if name else f"articles-{self.worker_id}.jsonl"

    def set_shard(self, name: str) -> None:
        self.redis.hset(self.key("shard-of"), self.worker_id, name)

    # --- workers ---------------------------------------------------------------------------
    def heartbeat(self) -> None:
        self.redis.hset(self.key("workers"), self.worker_id, time.time())

    def live_workers(self) -> list[str]:
        cutoff = time.time() - self.lease_seconds
        beats = self.redis.hgetall(self.key("workers"))
        return [_text(w) for w, beat in beats.items() if float(beat) >= cutoff]

    # --- keeping up with this machine's shards ---------------------------------------------
    def sync_with_dataset(self) -> None:
        """Record what this machine's shards hold beyond what Redis accounted for."""
        added = 0
        for shard in sorted(self.data_dir.glob("articles*.jsonl")):
            known = int(self.redis.hget(self.key("shards"), shard.name) or 0)
            size = shard.stat().st_size
            if size <= known:
                continue
            offset = known
            with shard.open("rb") as handle:
                handle.seek(known)
                for raw in handle:
                    if not raw.endswith(b"\n"):
                        break
                    offset += len(raw)
                    if (record := _parse(raw)) is not None:
                        self._mark(record, UNKNOWN_RUN, shard.name, offset)
                        self.redis.sadd(self.key("unknown"), str(record["article_id"]))
                        added += 1
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

    def get(self, article_id: str | int) -> StoredArticle | None:
        entry = self._entry(article_id)
        if entry is None:
            return None
        run, version, content_hash = entry
        return StoredArticle(str(article_id), "", content_hash or None, version, run)

    def is_stored(self, article_id: str | int) -> bool:
        return bool(self.redis.hexists(self.key("articles"), str(article_id)))

    def stored_by_complete_run(self, article_id: str | int) -> bool:
        """Whether a run that walked the whole site (or one before it) stored *article_id*."""
        entry = self._entry(article_id)
        return entry is not None and 0 <= entry[0] <= self.last_complete_run

    def count(self) -> int:
        return int(self.redis.hlen(self.key("articles")))

    def claim(self, article_id: str | int) -> bool:
        """Take *article_id* for storing; False when it is stored or a live worker has it."""
        stale_before = time.time() - self.lease_seconds
        keys = [self.key("claim", article_id), self.key("workers"), self.key("articles")]
        args: list[str | float] = [self.worker_id, time.time(), stale_before, str(article_id)]
        return bool(self._claim(keys=keys, args=args))

    # --- what the crawl tells it ---------------------------------------------------------
    def _mark(self, record: dict[str, Any], run_id: int, shard: str, shard_size: int) -> None:
        article_id = str(record["article_id"])
        entry = self._entry(article_id)
        first_run = entry[0] if entry else run_id
        version = max(int(record.get("version") or 1), entry[1] if entry else 0)
        pipe = self.redis.pipeline(transaction=True)
        entry_value = f"{first_run}|{version}|{record.get('content_hash') or ''}"
        pipe.hset(self.key("articles"), article_id, entry_value)
        pipe.hset(self.key("shards"), shard, shard_size)
        pipe.delete(self.key("claim", article_id))
        pipe.execute()

    def record_stored(self, record: dict[str, Any], shard: str, shard_size: int) -> None:
        self._mark(record, self.run_id, shard, shard_size)
        self.redis.hincrby(self.key("run", self.run_id), "new_articles", 1)

    def touch(self, article_id: str | int, seen: str) -> None:
        """Nothing to record: Redis keeps no last-seen time."""

    def commit(self) -> None:
        """Every change is written to Redis at once."""

    # --- runs ------------------------------------------------------------------------------
    def start_run(self) -> int:
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
                self.run_id = int(self.redis.incr(self.key("run")))
                self.redis.hset(self.key("run", self.run_id),
                                mapping={"started_at": _now(), "status": "running", "workers": 0})
            self.redis.hincrby(self.key("run", self.run_id), "workers", 1)
        return self.run_id

    def _frontier_busy(self) -> bool:
        return bool(self.redis.zcard(self.key("requests")) or self.redis.hlen(self.key("processing")))

    def should_seed(self) -> bool:
        """True for the first worker of a run: it queues the start URLs."""
        return bool(self.redis.set(self.key("seeded", self.run_id), self.worker_id, nx=True))

    def finish_run(self, status: str, finish_reason: str, failures: dict[str, int] | None = None,
                   **counts: int) -> None:
        """Add this worker's counts to the run; the last worker out closes the run."""
        key = self.key("run", self.run_id)
        pipe = self.redis.pipeline(transaction=True)
        for name in ("pages", "dropped", "errors"):
            pipe.hincrby(key, name, counts.get(name, 0))
        pipe.hincrby(key, "failed", sum((failures or {}).values()))
        for reason, count in (failures or {}).items():
            pipe.hincrby(key, f"failed/{reason}", count)
        pipe.hset(key, f"worker/{self.worker_id}", json.dumps({"status": status, "reason": finish_reason}))
        pipe.execute()
        self.redis.hdel(self.key("workers"), self.worker_id)
        if not self.live_workers() and not self._frontier_busy():
            self.redis.hset(key, mapping={"status": status, "ended_at": _now(), "reason": finish_reason})
            if finish_reason == "finished":
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


def read_redis_runs(url: str, prefix: str = "newsspider") -> list[dict[str, str]]:
    """The run history of a distributed crawl, read-only: one dict of the run's fields per run."""
    client = redis.Redis.from_url(url)
    try:
        last = int(client.get(f"{prefix}:run") or 0)
        return [{"run": str(run_id), **{_text(k): _text(v)
                                        for k, v in client.hgetall(f"{prefix}:run:{run_id}").items()}}
                for run_id in range(1, last + 1)]
    finally:
        client.close()
