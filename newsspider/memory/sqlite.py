"""The memory of a single-machine crawl: SQLite (WAL) next to the dataset.

``<data dir>/state.sqlite3`` holds every stored article (id, url, content
hash, first and last seen, version), how many bytes of each dataset shard it
has accounted for, and every run.  The dataset is the truth: an article is
marked stored only after its line is written, and on open the state reads
whatever the dataset holds beyond what it accounted for (a crawl killed
between the two, a state file deleted, older than the dataset or corrupt is
caught up or rebuilt, and the log says so).

Only a file that is not a database, fails ``PRAGMA quick_check`` or is some
other program's database is corrupt: it is moved aside and rebuilt.  Any other
SQLite error (locked, read-only, a full disk, an I/O error) is a
:class:`StateError` or :class:`~newsspider.dataset.storage.StorageError` with one line
saying what and where, and nothing is moved.

Only one crawl may use a data dir at a time: the crawl holds its
:class:`~newsspider.dataset.storage.DataDirLock` while the state is open.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import astuple
from pathlib import Path
from typing import Any
from urllib.parse import quote

from newsspider.core.time import utc_now_iso, utc_stamp
from newsspider.dataset.layout import DATASET_FILE, STATE_FILE
from newsspider.dataset.reader import DatasetError, shard_lines, shard_paths
from newsspider.dataset.storage import StorageError
from newsspider.memory import UNKNOWN_RUN, Run, StateError, StoredArticle, Validators

__all__ = ["SqliteMemory", "read_runs"]

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    article_id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    content_hash TEXT,
    first_seen TEXT,
    last_seen TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    first_run INTEGER NOT NULL DEFAULT 0,
    etag TEXT,
    last_modified TEXT,
    capture_id TEXT,
    capture_date TEXT,
    capture_url TEXT,
    capture_digest TEXT,
    capture_place TEXT
);
CREATE TABLE IF NOT EXISTS shards (name TEXT PRIMARY KEY, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    pid INTEGER,
    status TEXT NOT NULL,
    pages INTEGER DEFAULT 0,
    new_articles INTEGER DEFAULT 0,
    updated_articles INTEGER DEFAULT 0,
    dropped INTEGER DEFAULT 0,
    errors INTEGER DEFAULT 0,
    finish_reason TEXT,
    failed INTEGER DEFAULT 0,
    failures TEXT,
    quality TEXT,
    checks TEXT,
    window TEXT
);
"""
_RUNS_SQL = (
    "SELECT run_id, started_at, ended_at, status, pages, new_articles, updated_articles, "
    "dropped, failed, errors, finish_reason, failures, quality, checks, window FROM runs ORDER BY run_id"
)


#: the columns of an article's validators (:class:`Validators`' fields, in order), added to a state file
#: written before they existed
_VALIDATOR_COLUMNS = ("etag", "last_modified", "capture_id", "capture_date", "capture_url", "capture_digest",
                      "capture_place")
_GET_VALIDATORS = f"SELECT {', '.join(_VALIDATOR_COLUMNS)} FROM articles WHERE article_id = ?"
_SET_VALIDATORS = (f"UPDATE articles SET {', '.join(f'{c} = ?' for c in _VALIDATOR_COLUMNS)} "
                   "WHERE article_id = ?")

# The tables of a newsspider state file (``meta`` came later and is added when missing).
_TABLES = frozenset({"articles", "shards", "runs"})


class _Corrupt(Exception):
    """A state file that is not a newsspider state: to be moved aside and rebuilt."""


class SqliteMemory:
    """The SQLite memory of one data dir (a :class:`~newsspider.memory.Memory`).  Not thread-safe; one
    per crawl."""

    #: no worker id: a single-machine crawl
    worker_id = ""

    def __init__(self, data_dir: str | Path, commit_every: int = 200) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / STATE_FILE
        self.commit_every = commit_every
        self._pending = 0
        self.run_id = 0
        #: a single machine's crawl coordinates with no other worker
        self.coordination: None = None
        self.window: dict[str, str] | None = None
        #: the last run that walked the whole site (ended "finished"): articles it or an earlier run
        #: stored are old news; those of a run that was killed or stopped early are not
        self.last_complete_run = 0
        self._new = not self.path.exists()
        self.conn = self._connect()
        with self._writing():
            self.sync_with_dataset()

    # --- opening ---------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            return self._open()
        except _Corrupt as exc:
            stamp = utc_stamp()
            moved = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            os.replace(self.path, moved)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            logger.warning("state file %s is unreadable (%s); moved it to %s and rebuilding the "
                           "state from the dataset", self.path, exc, moved.name)
            self._new = True
            return self._open()

    def _open(self) -> sqlite3.Connection:
        """Open the state file; raise :class:`_Corrupt` only for a file that is not our state."""
        try:
            conn = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StateError(f"state file {self.path}: {exc}") from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and not tables >= _TABLES:
                raise _Corrupt(f"another program's database (tables: {', '.join(sorted(tables))})")
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise _Corrupt(f"quick_check: {check}")
            conn.executescript(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
            for column, kind in (("failed", "INTEGER DEFAULT 0"), ("failures", "TEXT"), ("quality", "TEXT"),
                                 ("checks", "TEXT"), ("window", "TEXT")):
                if column not in columns:  # a state file written before these columns existed
                    conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
            columns = {row[1] for row in conn.execute("PRAGMA table_info(articles)")}
            for column in _VALIDATOR_COLUMNS:
                if column not in columns:
                    conn.execute(f"ALTER TABLE articles ADD COLUMN {column} TEXT")
            conn.execute("SELECT count(*) FROM articles").fetchone()
            conn.execute("BEGIN")
        except _Corrupt:
            conn.close()
            raise
        except sqlite3.OperationalError as exc:  # locked, read-only, disk full, I/O error: not corrupt
            conn.close()
            raise StateError(f"state file {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:  # not a database, malformed
            conn.close()
            raise _Corrupt(str(exc)) from exc
        return conn

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Turn a failed write to the state (a full disk, an I/O error) into a one-line StorageError."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            raise StorageError(f"{exc} writing {self.path}") from exc

    @property
    def shard_name(self) -> str:
        """The dataset file this crawl appends to: ``articles.jsonl``, or its continuation."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'shard'").fetchone()
        return str(row[0]) if row else DATASET_FILE

    def feeds(self) -> list[str]:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'feeds'").fetchone()
        try:
            urls = json.loads(row[0]) if row else []
        except (TypeError, ValueError):  # not what set_feeds wrote: the feeds are found again
            return []
        return [url for url in urls if isinstance(url, str)] if isinstance(urls, list) else []

    def set_feeds(self, urls: list[str]) -> None:
        with self._writing():
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('feeds', ?)",
                              (json.dumps(urls),))
            self.commit()

    def set_shard(self, name: str) -> None:
        """Remember *name* as the dataset file later crawls append to (the last one was damaged)."""
        with self._writing():
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('shard', ?)", (name,))
            self.commit()

    # --- keeping up with the dataset -------------------------------------------------------
    def sync_with_dataset(self) -> None:
        """Account for dataset lines the state has not seen; rebuild if the dataset shrank."""
        try:
            shards = shard_paths(self.data_dir)
        except DatasetError:
            shards = []
        known = dict(self.conn.execute("SELECT name, size FROM shards").fetchall())
        sizes = {p.name: p.stat().st_size for p in shards}
        shrunk = [n for n, size in known.items() if sizes.get(n, -1) < size]
        if shrunk:
            logger.warning("the dataset in %s is smaller than the state remembers (%s); "
                           "rebuilding the state from the dataset", self.data_dir, ", ".join(shrunk))
            self.conn.execute("DELETE FROM articles")
            self.conn.execute("DELETE FROM shards")
            known = {}
        # Lines beyond what the state accounted for were written by a run that was killed
        # before it could commit: count them as that run's (UNKNOWN_RUN when no run is open: a
        # rebuilt state cannot tell whether they came from a crawl that walked the whole site).
        run_id = self.conn.execute("SELECT max(run_id) FROM runs WHERE status = 'running'").fetchone()[0]
        added = 0
        for shard in shards:
            start = known.get(shard.name, 0)
            if sizes[shard.name] > start:
                added += self._import(shard, start, run_id or UNKNOWN_RUN)
        if added and self._new:
            logger.warning("no state file: built %s from the dataset (%d records)", self.path, added)
        elif added:
            logger.warning("the state in %s was missing %d dataset records; added them from the "
                           "dataset", self.path, added)
        self.commit()

    def _import(self, shard: Path, offset: int, run_id: int) -> int:
        count = 0
        for line in shard_lines(shard, offset):
            if line.truncated:
                break
            if line.record is not None:
                self._upsert(line.record, run_id)
                count += 1
            elif line.problem is not None:
                logger.warning("%s:%d: not a newsspider record (%s); left as it is and ignored",
                               shard, line.lineno, line.problem)
            offset = line.end
        self.conn.execute("INSERT OR REPLACE INTO shards(name, size) VALUES (?, ?)", (shard.name, offset))
        return count

    def _upsert(self, record: dict[str, Any], run_id: int) -> None:
        self.conn.execute(
            """INSERT INTO articles(article_id, url, content_hash, first_seen, last_seen, version, first_run)
               VALUES (:id, :url, :hash, :seen, :seen, :version, :run)
               ON CONFLICT(article_id) DO UPDATE SET
                 url = CASE WHEN excluded.version >= version THEN excluded.url ELSE url END,
                 content_hash = CASE WHEN excluded.version >= version
                                THEN excluded.content_hash ELSE content_hash END,
                 version = max(version, excluded.version),
                 first_seen = min(first_seen, excluded.first_seen),
                 last_seen = max(last_seen, excluded.last_seen)""",
            {"id": int(record["article_id"]), "url": record.get("url") or "",
             "hash": record.get("content_hash"), "seen": record.get("crawled_at") or utc_now_iso(),
             "version": int(record.get("version") or 1), "run": run_id},
        )

    # --- questions the crawl asks --------------------------------------------------------
    def get(self, article_id: str | int) -> StoredArticle | None:
        row = self.conn.execute(
            "SELECT article_id, content_hash, version, first_run FROM articles WHERE article_id = ?",
            (int(article_id),),
        ).fetchone()
        return StoredArticle(str(row[0]), row[1], row[2], row[3]) if row else None

    def is_stored(self, article_id: str | int) -> bool:
        return self.conn.execute("SELECT 1 FROM articles WHERE article_id = ?",
                                 (int(article_id),)).fetchone() is not None

    def stored_run(self, article_id: str | int) -> int | None:
        """The run that first stored *article_id* (:data:`UNKNOWN_RUN` if not known), None if none did."""
        row = self.conn.execute("SELECT first_run FROM articles WHERE article_id = ?",
                                (int(article_id),)).fetchone()
        return None if row is None else int(row[0])

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM articles").fetchone()[0])

    def last_seen(self, article_id: str | int) -> str | None:
        """When *article_id* was last captured (stored, or fetched again unchanged)."""
        row = self.conn.execute("SELECT last_seen FROM articles WHERE article_id = ?",
                                (int(article_id),)).fetchone()
        return row[0] if row else None

    def stored_urls(self, page: int = 1000) -> Iterator[tuple[str, str]]:
        """Every stored article's id and URL, by id, *page* rows a query (no cursor left open while the
        crawl writes)."""
        after = -1
        while rows := self.conn.execute("SELECT article_id, url FROM articles WHERE article_id > ? "
                                        "ORDER BY article_id LIMIT ?", (after, page)).fetchall():
            yield from ((str(article_id), url or "") for article_id, url in rows)
            after = rows[-1][0]

    def claim(self, article_id: str | int) -> bool:
        """One crawl per data dir: nobody else can be storing it; False when it is stored."""
        return not self.is_stored(article_id)

    def should_seed(self) -> bool:
        """One crawl per data dir: it always queues its own start URLs."""
        return True

    def seeded(self) -> None:
        """Nobody else waits for them: one crawl per data dir."""

    # --- what the crawl tells it ---------------------------------------------------------
    def record_stored(self, record: dict[str, Any], shard: str, shard_size: int) -> None:
        """Called after *record*'s line was written; *shard_size* is the shard's size after it."""
        with self._writing():
            self._upsert(record, self.run_id)
            self.conn.execute("INSERT OR REPLACE INTO shards(name, size) VALUES (?, ?)",
                              (shard, shard_size))
            self._maybe_commit()

    def touch(self, article_id: str | int, seen: str) -> None:
        """An article fetched again, unchanged."""
        with self._writing():
            self.conn.execute("UPDATE articles SET last_seen = max(last_seen, ?) WHERE article_id = ?",
                              (seen, int(article_id)))
            self._maybe_commit()

    def validators(self, article_id: str | int) -> Validators | None:
        row = self.conn.execute(_GET_VALIDATORS, (int(article_id),)).fetchone()
        return Validators(*row) if row is not None and any(row) else None

    def set_validators(self, article_id: str | int, validators: Validators) -> None:
        with self._writing():
            self.conn.execute(_SET_VALIDATORS, (*astuple(validators), int(article_id)))
            self._maybe_commit()

    def _maybe_commit(self) -> None:
        self._pending += 1
        if self._pending >= self.commit_every:
            self.commit()

    def commit(self) -> None:
        try:
            with self._writing():
                self.conn.execute("COMMIT")
        finally:
            if not self.conn.in_transaction:  # a failed COMMIT may have rolled back: start anew
                self.conn.execute("BEGIN")
        self._pending = 0

    # --- runs ------------------------------------------------------------------------------
    def start_run(self, window: dict[str, str] | None = None) -> int:
        """Record a new run (marking runs that never ended as interrupted); return its id."""
        self.window = window
        with self._writing():
            self.conn.execute(
                """UPDATE runs SET status = 'interrupted',
                     new_articles = (SELECT count(*) FROM articles WHERE first_run = runs.run_id)
                   WHERE status = 'running'"""
            )
            self.last_complete_run = int(self.conn.execute(
                "SELECT coalesce(max(run_id), 0) FROM runs "
                "WHERE finish_reason = 'finished' AND window IS NULL").fetchone()[0])
            cursor = self.conn.execute(
                "INSERT INTO runs(started_at, pid, status, window) VALUES (?, ?, 'running', ?)",
                (utc_now_iso(), os.getpid(), json.dumps(window, sort_keys=True) if window else None))
            self.run_id = int(cursor.lastrowid or 0)
        self.commit()
        return self.run_id

    def update_run(self, **counts: int) -> None:
        columns = ", ".join(f"{name} = :{name}" for name in counts)
        with self._writing():
            self.conn.execute(f"UPDATE runs SET {columns} WHERE run_id = :run_id",
                              {**counts, "run_id": self.run_id})

    def finish_run(self, status: str, finish_reason: str, failures: dict[str, int] | None = None,
                   quality: dict[str, Any] | None = None, checks: list[str] | None = None,
                   **counts: int) -> None:
        self.update_run(**counts)
        with self._writing():
            self.conn.execute(
                "UPDATE runs SET status = ?, finish_reason = ?, ended_at = ?, failed = ?, failures = ?, "
                "quality = ?, checks = ? WHERE run_id = ?",
                (status, finish_reason, utc_now_iso(), sum((failures or {}).values()),
                 json.dumps(failures or {}, sort_keys=True),
                 json.dumps(quality, sort_keys=True) if quality is not None else None,
                 json.dumps(checks, ensure_ascii=False) if checks else None, self.run_id),
            )
            if finish_reason == "finished" and not self.window:  # it walked the site: what it met is old
                self.conn.execute("UPDATE articles SET first_run = ? WHERE first_run = ?",
                                  (self.run_id, UNKNOWN_RUN))
        self.commit()

    def runs(self) -> list[Run]:
        return [Run(*row) for row in self.conn.execute(_RUNS_SQL).fetchall()]

    def close(self) -> None:
        """Commit what is pending and close; a commit that fails is logged (the dataset has it all)."""
        try:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            logger.error("%s writing %s: the next crawl adds what is missing from the dataset",
                         exc, self.path)
        self.conn.close()


def read_runs(data_dir: str | Path) -> list[Run]:
    """The run history of a data dir, read-only (empty when it has no state yet).

    Needs no write access: a state in WAL mode that cannot be opened read-only
    (a read-only data dir, where SQLite cannot create the shared-memory file)
    is read as an immutable file, which nothing can be writing to there.
    """
    path = Path(data_dir) / STATE_FILE
    if not path.exists():
        return []
    if not path.is_file():
        raise StateError(f"state file {path}: not a file")
    try:
        return _read_runs(path, "mode=ro")
    except sqlite3.OperationalError:  # unable to open: not writable here (no -shm file can be made)
        try:
            return _read_runs(path, "immutable=1")
        except sqlite3.Error as exc:
            raise StateError(f"state file {path}: unreadable ({exc})") from exc
    except sqlite3.Error as exc:
        raise StateError(f"state file {path}: unreadable ({exc})") from exc


def _read_runs(path: Path, mode: str) -> list[Run]:
    with closing(sqlite3.connect(f"file:{quote(os.fsencode(path.absolute()))}?{mode}", uri=True)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        rows = conn.execute(_RUNS_SQL).fetchall() if "runs" in tables else []
    return [Run(*row) for row in rows]
