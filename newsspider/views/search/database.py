"""The dataset as one SQLite database with a Chinese-aware full-text index; built again, it adds what is new.

Tables: ``articles`` (the latest version of each article, every schema field,
lists as JSON, plus ``year``; indexed by date, by URL, and by year, category
and source in ``articles_facets``, which the reading room's filter counts read
instead of the wide rows), ``old_versions`` and the view ``versions``
(every version), ``tags`` (article_id, tag), ``runs`` (the data dir's run
history), ``removals`` (the articles the site removed: article_id, removed_at,
removed_how) and ``search``, a contentless FTS5 index of body, summary and title
in the tokens of :mod:`newsspider.views.search.tokens`.  The body is the
index's first column, which FTS5 stores without a column marker: a quarter
of the index.  Pages are 64 KiB, so that an article's row is not spread over
half-empty overflow pages, and a build that changed much of the index merges
it into one segment (FTS5's ``optimize``) and gives the space back.

A build reads each shard from where the last one stopped (``progress`` keeps
the byte offset) and runs in one transaction: a build that is killed leaves
the database as the last complete build left it.  It updates the file in
place while readers (``newsspider browse``, a search) may have it open:
they read it read-only through SQLite's locks (never as immutable), see the
last committed build, and wait the moment its commit takes (:data:`BUSY`);
the build keeps its changes in memory until it commits (:data:`CACHE_KIB`),
so that they are not locked out while it reads the shards.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from newsspider.dataset.export import ExportError
from newsspider.dataset.layout import owned_by_crawl
from newsspider.dataset.reader import BadLine, DatasetError, Errors, display_path, iter_shard, shard_paths
from newsspider.extract.items import FIELDS
from newsspider.views.search.tokens import index_text, match_expression, normalize

__all__ = ["DEFAULT_NAME", "Build", "Hit", "build", "count", "open_readonly", "search"]

logger = logging.getLogger(__name__)

DEFAULT_NAME = "archive.db"
FORMAT = 2  # the layout below; a database of another layout is built again from the start
TEXT_FIELDS = ("body", "summary", "title")  # the index's columns, in this order
PAGE_SIZE = 65536
#: seconds a build waits for readers to let go of the file (and a reader for a build's commit)
BUSY = 30.0
#: the build's page cache: a build that changes no more than this keeps the file readable until it commits
CACHE_KIB = 131072
_COLUMNS = ", ".join(FIELDS)
_VALUES = ", ".join("?" * len(FIELDS))

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS progress (shard TEXT PRIMARY KEY, head TEXT, offset INTEGER, lineno INTEGER);
CREATE TABLE IF NOT EXISTS articles (rowid INTEGER PRIMARY KEY, {", ".join(
    f"{name} TEXT UNIQUE" if name == "article_id" else
    f"{name} INTEGER" if name in ("version", "schema_version") else f"{name} TEXT" for name in FIELDS)},
    year INTEGER);
CREATE INDEX IF NOT EXISTS articles_date ON articles (published_date);
CREATE INDEX IF NOT EXISTS articles_url ON articles (url);
CREATE INDEX IF NOT EXISTS articles_facets ON articles (year, category, source, article_id);
CREATE TABLE IF NOT EXISTS old_versions ({", ".join(
    f"{name} INTEGER" if name in ("version", "schema_version") else f"{name} TEXT" for name in FIELDS)},
    PRIMARY KEY (article_id, version));
CREATE VIEW IF NOT EXISTS versions AS
    SELECT {_COLUMNS} FROM articles UNION ALL SELECT {_COLUMNS} FROM old_versions;
CREATE TABLE IF NOT EXISTS tags (article_id TEXT, tag TEXT, PRIMARY KEY (article_id, tag)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_tag ON tags (tag);
CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5(body, summary, title, content='', tokenize='ascii');
"""


@dataclass
class Build:
    """What a build did: records read, articles added and changed, bad lines skipped."""

    path: Path
    read: int = 0
    added: int = 0
    changed: int = 0
    skipped: int = 0
    articles: int = 0
    rebuilt: bool = False
    #: why the space a build freed could not be given back (the database is complete all the same)
    not_compacted: str | None = None


def _head(shard: Path, length: int) -> str:
    """A fingerprint of the start of *shard* (up to *length* bytes, those already read): replaced or not."""
    with shard.open("rb") as handle:
        return hashlib.sha256(handle.read(min(length, 4096))).hexdigest()


def build(data_dir: Path, out: Path | None = None, errors: Errors = "raise",
          on_bad_line: Callable[[BadLine], None] | None = None) -> Build:
    """Build or bring up to date the database of *data_dir* at *out* (default ``DATA_DIR/archive.db``).

    Raises :class:`DatasetError` for a bad line (unless *errors* is "skip")
    and :class:`ExportError` when *out* cannot be written; either way the
    database is left as it was.
    """
    out = (out or data_dir / DEFAULT_NAME).expanduser()
    shards = shard_paths(data_dir)
    if (data_dir.is_dir() and owned_by_crawl(out.resolve(), data_dir.resolve())) or out.resolve() in {
            p.resolve() for p in shards}:
        raise ExportError(f"{display_path(out)}: is a file of the dataset or its crawl; choose another file")
    if out.is_dir():
        raise ExportError(f"{display_path(out)}: is a directory")
    result = Build(out)
    skipped: list[BadLine] = []

    def bad_line(line: BadLine) -> None:
        skipped.append(line)
        if on_bad_line is not None:
            on_bad_line(line)

    try:
        conn = sqlite3.connect(out, isolation_level=None, timeout=BUSY)
    except sqlite3.Error as exc:
        raise ExportError(f"{display_path(out)}: cannot write here ({exc})") from exc
    with closing(conn):
        try:
            _check_database(conn, out)
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # takes effect in a new database only
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            conn.execute("BEGIN IMMEDIATE")
            if _format(conn) != FORMAT:
                _drop_all(conn)
                result.rebuilt = True
            _create(conn)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (str(FORMAT),))
            known = {row[0]: row[1:]
                     for row in conn.execute("SELECT shard, head, offset, lineno FROM progress")}
            names = {s.name for s in shards}
            if any(name not in names for name in known) or any(_replaced(s, *known[s.name][:2])
                                                               for s in shards if s.name in known):
                _drop_all(conn)  # a shard replaced or gone: start again from what is there now
                _create(conn)
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (str(FORMAT),))
                known, result.rebuilt = {}, True
            for shard in shards:
                _, offset, lineno = known.get(shard.name, (None, 0, 0))
                for record, end, last in iter_shard(shard, errors, bad_line, offset=offset, lineno=lineno):
                    offset, lineno = end, last
                    result.read += 1
                    outcome = _store(conn, record)
                    result.added += outcome == "added"
                    result.changed += outcome == "changed"
                conn.execute("INSERT OR REPLACE INTO progress VALUES (?, ?, ?, ?)",
                             (shard.name, _head(shard, offset), offset, lineno))
            _store_runs(conn, data_dir)
            _store_removals(conn, data_dir, bad_line)
            if (result.added + result.changed) * 10 >= _articles(conn):
                conn.execute("INSERT INTO search (search) VALUES ('optimize')")
            conn.execute("COMMIT")
            result.not_compacted = _compact(conn)
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise ExportError(f"{display_path(out)}: {exc}; the database is as the last build left it"
                                  ) from exc
            raise
        result.articles = _articles(conn)
    result.skipped = len(skipped)
    return result


def _articles(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])


def _compact(conn: sqlite3.Connection) -> str | None:
    """Give back the space a build freed (the index's merged segments), and move to :data:`PAGE_SIZE`.

    VACUUM writes the database anew in one transaction (it needs as much
    free disk again): killed or failed midway, the database stays as the
    build committed it, complete but larger.  Returns why it failed, if it did.
    """
    pages, free = (conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count"))
    if free * 50 <= pages and conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE:
        return None
    try:
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        conn.execute("VACUUM")
    except sqlite3.Error as exc:
        return str(exc)
    return None


def _replaced(shard: Path, head: str, offset: int) -> bool:
    """Whether *shard* is no longer the file a build read *offset* bytes of (cut short or replaced)."""
    return shard.stat().st_size < offset or _head(shard, offset) != head


def _create(conn: sqlite3.Connection) -> None:
    for statement in filter(str.strip, _SCHEMA.split(";")):  # executescript would commit first
        conn.execute(statement)


def _check_database(conn: sqlite3.Connection, out: Path) -> None:
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ExportError(f"{display_path(out)}: not a newsspider database ({exc}); "
                          "choose another file or remove it") from exc
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and "meta" not in tables:
        raise ExportError(f"{display_path(out)}: a database that newsspider did not build; "
                          "choose another file")


def _format(conn: sqlite3.Connection) -> int | None:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "meta" not in tables:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    return int(row[0]) if row else None


def _drop_all(conn: sqlite3.Connection) -> None:
    for kind, name in conn.execute("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') "
                                   "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'search_%'").fetchall():
        conn.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')


def _row(record: dict[str, Any]) -> list[Any]:
    return [json.dumps(value, ensure_ascii=False) if isinstance(value := record.get(name), list | dict)
            else value for name in FIELDS]


def _tokens(values: Any) -> list[str]:
    return [index_text(value) for value in values]


def _store(conn: sqlite3.Connection, record: dict[str, Any]) -> str:
    article_id, version = record["article_id"], int(record.get("version") or 1)
    current = conn.execute(f"SELECT rowid, version, {_COLUMNS} FROM articles WHERE article_id = ?",
                           (article_id,)).fetchone()
    row = _row(record)
    year = int(record["published_date"][:4]) if (record.get("published_date") or "")[:4].isdigit() else None
    if current is not None and version <= current[1]:
        if version < current[1]:
            conn.execute(f"INSERT OR IGNORE INTO old_versions ({_COLUMNS}) VALUES ({_VALUES})",
                         row)
        return "kept"
    texts = _tokens(record.get(name) for name in TEXT_FIELDS)
    tags = list(dict.fromkeys(record.get("tags") or []))
    if current is None:
        cursor = conn.execute(f"INSERT INTO articles ({_COLUMNS}, year) VALUES ({_VALUES}, ?)",
                              [*row, year])
        rowid = cursor.lastrowid
        outcome = "added"
    else:
        rowid, old = current[0], dict(zip(FIELDS, current[2:], strict=True))
        conn.execute(f"INSERT OR IGNORE INTO old_versions ({_COLUMNS}) VALUES ({_VALUES})",
                     current[2:])
        conn.execute("INSERT INTO search (search, rowid, body, summary, title) VALUES ('delete', ?, ?, ?, ?)",
                     [rowid, *_tokens(old[name] for name in TEXT_FIELDS)])
        conn.execute(f"UPDATE articles SET ({_COLUMNS}, year) = ({_VALUES}, ?) "
                     "WHERE rowid = ?", [*row, year, rowid])
        conn.execute("DELETE FROM tags WHERE article_id = ?", (article_id,))
        outcome = "changed"
    conn.execute("INSERT INTO search (rowid, body, summary, title) VALUES (?, ?, ?, ?)", [rowid, *texts])
    conn.executemany("INSERT OR IGNORE INTO tags VALUES (?, ?)", [(article_id, tag) for tag in tags])
    return outcome


def _store_runs(conn: sqlite3.Connection, data_dir: Path) -> None:
    from dataclasses import asdict, fields

    from newsspider.memory import Run, StateError
    from newsspider.memory.sqlite import read_runs

    names = [f.name for f in fields(Run)]
    try:
        runs = read_runs(data_dir) if data_dir.is_dir() else []
    except StateError as exc:  # the crawl's memory, not the dataset: the next crawl rebuilds it
        logger.warning("%s; the database keeps the run history it had", exc)
        conn.execute(f"CREATE TABLE IF NOT EXISTS runs ({', '.join(names)})")
        return
    conn.execute("DROP TABLE IF EXISTS runs")
    conn.execute(f"CREATE TABLE runs ({', '.join(names)})")
    conn.executemany(f"INSERT INTO runs VALUES ({', '.join('?' * len(names))})",
                     [tuple(asdict(run).values()) for run in runs])


def _store_removals(conn: sqlite3.Connection, data_dir: Path, bad_line: Callable[[BadLine], None]) -> None:
    """The articles the site removed (confirmed), from the removals log beside the shards, written anew
    (a bad line of the log is skipped and counted, never the build)."""
    from newsspider.dataset.removals import removed_articles

    conn.execute("DROP TABLE IF EXISTS removals")
    conn.execute("CREATE TABLE removals (article_id TEXT PRIMARY KEY, removed_at TEXT, removed_how TEXT)")
    conn.executemany("INSERT INTO removals VALUES (?, ?, ?)",
                     [(key, at, how)
                      for key, (at, how) in removed_articles(data_dir, bad_line, warn=False).items()])


def open_readonly(path: Path) -> sqlite3.Connection:
    """The database at *path*, read-only; :class:`DatasetError` when it is not one."""
    if not path.is_file():
        raise DatasetError(f"{display_path(path)}: no such database "
                           "(build it with newsspider dataset sqlite)")
    journal = path.with_name(path.name + "-journal")
    if journal.exists() and journal.stat().st_size:  # a build killed midway: roll it back first
        with closing(sqlite3.connect(path)) as writer, suppress(sqlite3.Error):
            writer.execute("SELECT count(*) FROM sqlite_master").fetchone()
    conn = sqlite3.connect(f"file:{quote(os.fsencode(path.absolute()))}?mode=ro", uri=True, timeout=BUSY)
    try:
        if _format(conn) != FORMAT:
            raise DatasetError(f"{display_path(path)}: not a newsspider database of this version; "
                               "build it again")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DatasetError(f"{display_path(path)}: not a newsspider database ({exc})") from exc
    return conn


@dataclass(frozen=True)
class Hit:
    """One article a search found, with a snippet of where."""

    article_id: str
    published_date: str
    title: str
    url: str
    snippet: str
    #: (start, end) of each highlighted match in the snippet
    highlights: tuple[tuple[int, int], ...]
    #: bm25 (lower is better), None when the hits were too many to rank and come newest first
    score: float | None
    #: whether the page it was read from is in the web archive (``newsspider dataset page``)
    archived: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"article_id": self.article_id, "published_date": self.published_date, "title": self.title,
                "url": self.url, "snippet": self.snippet, "highlights": [list(h) for h in self.highlights],
                "score": self.score}


@dataclass(frozen=True)
class Where:
    """Which articles a search keeps besides its query (``None`` keeps all)."""

    since: str | None = None
    until: str | None = None
    tag: str | None = None
    category: str | None = None

    def sql(self) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if self.since:
            clauses.append("a.published_date >= ?")
            params.append(self.since)
        if self.until:
            clauses.append("a.published_date <= ?")
            params.append(self.until)
        if self.tag:
            clauses.append("a.article_id IN (SELECT article_id FROM tags WHERE tag = ?)")
            params.append(self.tag)
        if self.category:
            clauses.append("(a.category = ? OR a.category LIKE ? ESCAPE '\\')")
            escaped = self.category.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params += [self.category, escaped + "/%"]
        return "".join(f" AND {c}" for c in clauses), params


def count(conn: sqlite3.Connection, query: str, where: Where = Where(), variants: bool = True) -> int:
    """How many articles hold every term of *query* (exactly; see :mod:`newsspider.views.search.tokens`)."""
    sql, params = where.sql()
    join = " JOIN articles a ON a.rowid = search.rowid" if sql else ""  # the index alone counts faster
    return int(conn.execute(f"SELECT count(*) FROM search{join} WHERE search MATCH ?{sql}",
                            [match_expression(query, variants), *params]).fetchone()[0])


#: up to this many hits are ranked by bm25; more than that, the newest come first
RANKED = 1000
#: the newest hits are found by asking the index of each article, newest first, when that takes at most
#: this many questions (hits that are most of the articles), rather than by reading every hit
PROBES = 200


def search(conn: sqlite3.Connection, query: str, where: Where = Where(), limit: int | None = 20,
           variants: bool = True, total: int | None = None) -> Iterator[Hit]:
    """The articles that hold every term of *query*, best first.

    Up to :data:`RANKED` hits (*total*, counted here unless given) are
    ranked by bm25, a match in the title weighing ten times one in the body
    and the summary three times; beyond that, the hits come newest first (by
    publication date), read in the order of the date index: ranking tens of
    thousands of articles that all hold one common word says little and
    costs most of a query's time.  The hit's ``score`` is then None.
    """
    from newsspider.views.search.snippet import snippet

    sql, params = where.sql()
    expression = match_expression(query, variants)
    if total is None:
        total = count(conn, query, where, variants)
    if not total:
        return
    columns = "a.article_id, a.published_date, a.title, a.url, a.summary, a.body, a.warc IS NOT NULL"
    if total <= RANKED:
        rows = conn.execute(
            f"SELECT {columns}, bm25(search, 1.0, 3.0, 10.0) AS score FROM search "
            f"JOIN articles a ON a.rowid = search.rowid WHERE search MATCH ?{sql} "
            "ORDER BY score, a.published_date DESC LIMIT ?",
            [expression, *params, -1 if limit is None else limit])
    elif (not sql and limit is not None and "*" not in expression  # a prefix is costly to ask each time
          and limit * _last_rowid(conn) <= PROBES * total):
        rows = conn.execute(
            f"SELECT {columns}, NULL FROM articles a INDEXED BY articles_date WHERE EXISTS "
            "(SELECT 1 FROM search WHERE search MATCH ? AND search.rowid = a.rowid) "
            "ORDER BY a.published_date DESC, a.rowid DESC LIMIT ?", [expression, limit])
    else:
        rows = conn.execute(
            f"SELECT {columns}, NULL FROM articles a INDEXED BY articles_date "
            f"WHERE a.rowid IN (SELECT rowid FROM search WHERE search MATCH ?){sql} "
            "ORDER BY a.published_date DESC, a.rowid DESC LIMIT ?",
            [expression, *params, -1 if limit is None else limit])
    for article_id, day, title, url, summary, body, archived, score in rows:
        text, marks = snippet([summary, body, title], query, variants)  # the title is shown anyway
        yield Hit(article_id, day, title, url, text, marks, score, bool(archived))


def _last_rowid(conn: sqlite3.Connection) -> int:
    """About how many articles there are (rowids are never reused: an update keeps its row)."""
    return int(conn.execute("SELECT coalesce(max(rowid), 0) FROM articles").fetchone()[0])


def normalized_fields(record: dict[str, Any]) -> list[str]:
    """The searched fields of *record*, normalised (for checking a hit by hand)."""
    return [normalize(record.get(name) or "") for name in TEXT_FIELDS]
