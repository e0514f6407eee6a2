"""Reading the dataset back: lazy, read-only, no Scrapy or Twisted import.

A dataset is a data directory holding ``articles.jsonl`` and possibly more
shards ``articles-*.jsonl``, or a single ``.jsonl`` file.  Nothing here ever
writes to those files.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> old = record_example(title="旧")
>>> _ = (d / "articles.jsonl").write_text(
...     json.dumps(old) + "\\n" + json.dumps({**old, "version": 2, "title": "新"}) + "\\n")
>>> [r["title"] for r in iter_articles(d)]
['新']
>>> len(load(d, latest=False))
2

Every line is checked against the published schema: a line that is not JSON,
not an object, or not a record of the schema (a field of the wrong type, a
missing field, text that is not Unicode) is a bad line, named by file and line.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import fastjsonschema

from newsspider.core.errors import NewsspiderError
from newsspider.dataset.layout import SHARD_GLOB
from newsspider.extract.items import ADDED_IN_2, FIELDS, SCHEMA_VERSION, schema

if TYPE_CHECKING:  # pandas is optional: pip install 'newsspider[data]'
    import pandas

__all__ = [
    "REMOVAL_FIELDS",
    "BadLine",
    "DatasetError",
    "SchemaVersionError",
    "ShardLine",
    "check_record",
    "display_path",
    "iter_articles",
    "iter_records",
    "iter_shard",
    "load",
    "shard_lines",
    "shard_paths",
    "to_pandas",
]

logger = logging.getLogger(__name__)

Errors = Literal["raise", "skip"]

#: what an article's latest state adds to its record (``removals=True``): when the site's removal of it
#: was confirmed (ISO 8601) and how it answered (``404``, ``410``, ``redirect:<target URL>``); None
#: while it is on the site (:mod:`newsspider.dataset.removals`)
REMOVAL_FIELDS = ("removed_at", "removed_how")


class DatasetError(NewsspiderError, ValueError):
    """A dataset file that cannot be read as newsspider records (names file and line)."""


class SchemaVersionError(DatasetError):
    """A record written by a newer newsspider than this one."""


def display_path(path: str | Path) -> str:
    """A path as text that can always be printed: bytes that are not UTF-8 shown as U+FFFD.

    >>> display_path(Path(b"data-\\xff".decode("utf-8", "surrogateescape")))
    'data-\ufffd'
    """
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@cache
def _validator() -> Callable[[Any], Any]:
    return fastjsonschema.compile(schema())  # type: ignore[no-any-return]


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def check_record(record: Any, raw: bytes | None = None) -> str | None:
    """Why *record* (parsed from the line *raw*) is not a record of the published schema, else None.

    >>> check_record(record_example()) is None
    True
    >>> check_record({**record_example(), "version": "x"})
    'does not fit the schema: data.version must be integer'
    >>> check_record({**record_example(), "article_id": "²"})
    'does not fit the schema: data.article_id must match pattern ^[0-9]{1,18}$'
    >>> check_record([1, 2])
    'not a JSON object'
    >>> check_record({**record_example(), "title": "\\ud800"}, b'"title":"\\\\ud800"')
    'holds text that is not Unicode (an unpaired surrogate)'
    """
    if not isinstance(record, dict):
        return "not a JSON object"
    try:
        _validator()(record)
    except fastjsonschema.JsonSchemaException as exc:
        return f"does not fit the schema: {exc}"
    if raw is not None and _SURROGATE_ESCAPE.search(raw):
        try:
            json.dumps(record, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return "holds text that is not Unicode (an unpaired surrogate)"
    return None


def record_example(**fields: Any) -> dict[str, Any]:
    """A valid record with made-up values (for examples and tests); *fields* replace its values."""
    return {
        "article_id": "1", "url": "https://www.bannedbook.org/bnews/itnews/20240101/1.html",
        "category": "itnews", "published_date": "2024-01-01", "published_at": None, "title": "标题",
        "summary": None, "body": "正文", "author": None, "source": None, "editor": None,
        "image_credit": None, "tags": [], "related_urls": [], "crawled_at": "2024-01-02T00:00:00Z",
        "image_url": None, "images": [], "content_hash": "sha256:" + "0" * 64, "warc": None,
        "version": 1, "schema_version": SCHEMA_VERSION, **fields,
    }


@dataclass(frozen=True)
class BadLine:
    """A line that is not a record: where, why, and whether it is a cut-short last line."""

    path: Path
    lineno: int
    reason: str
    truncated: bool

    def __str__(self) -> str:
        return f"{display_path(self.path)}:{self.lineno}: {self.reason}"


def shard_paths(path: str | Path) -> list[Path]:
    """The JSON Lines files of a data dir (``articles.jsonl`` first, then by name), or the file itself.

    Raises :class:`DatasetError` when *path* does not exist.
    """
    path = Path(path)
    if path.is_dir():
        shards = (p for p in path.glob(SHARD_GLOB) if p.is_file())
        return sorted(shards, key=lambda p: (p.name != "articles.jsonl", p.name))
    if path.is_file():
        return [path]
    raise DatasetError(f"{path}: no such dataset file or directory")


@dataclass(frozen=True)
class ShardLine:
    """One line of a shard: where it starts and ends (bytes), its number, and its record or why not.

    A line is a record when it is a JSON object of the published schema, with
    or without its newline; a last line without its newline that is not one
    was cut short (*truncated*), and nothing after it is accounted for.
    """

    start: int
    end: int
    lineno: int
    record: dict[str, Any] | None
    problem: str | None  # None for a record or a blank line
    truncated: bool = False
    newer_schema: int | None = None  # the schema version of a record a newer newsspider wrote

    @property
    def blank(self) -> bool:
        return self.record is None and self.problem is None


def shard_lines(shard: Path, offset: int = 0, lineno: int = 0) -> Iterator[ShardLine]:
    """The lines of *shard* from byte *offset* (line *lineno* + 1) on, each checked against the schema.

    The one reading of a shard's lines: the dataset's readers, the search
    index and the crawl's memory all see the same records.  A truncated last
    line is yielded (``truncated``) and ends the shard.
    """
    with shard.open("rb") as handle:
        handle.seek(offset)
        for lineno, raw in enumerate(handle, start=lineno + 1):  # noqa: B020
            start, offset = offset, offset + len(raw)
            if not raw.strip():
                yield ShardLine(start, offset, lineno, None, None)
                continue
            record, problem, newer = _parse_line(raw)
            if problem is not None and newer is None and not raw.endswith(b"\n"):
                yield ShardLine(start, offset, lineno, None, "truncated last line", truncated=True)
                return
            yield ShardLine(start, offset, lineno, record, problem, newer_schema=newer)


def _parse_line(raw: bytes) -> tuple[dict[str, Any] | None, str | None, int | None]:
    """The line's record, or why it is not one (and the schema version of a newer newsspider's)."""
    try:
        record = json.loads(raw)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        return None, _reason(exc), None
    version = record.get("schema_version") if isinstance(record, dict) else None
    if isinstance(version, int) and version > SCHEMA_VERSION:
        return None, f"written by a newer newsspider (schema version {version})", version
    problem = check_record(record, raw)
    return (record, None, None) if problem is None else (None, problem, None)


def iter_records(path: str | Path, errors: Errors = "raise",
                 on_bad_line: Callable[[BadLine], None] | None = None) -> Iterator[dict[str, Any]]:
    """Yield every record of every shard, in file order, lazily.

    A last line without its newline (a write cut short) is skipped with a
    warning naming file and line.  Any other line that is not a JSON object
    raises :class:`DatasetError` naming file and line, or is skipped with a
    warning when ``errors="skip"``.  A record of a newer schema raises
    :class:`SchemaVersionError`, whatever *errors* says.  *on_bad_line* is
    told of every line skipped.
    """
    for shard in shard_paths(path):
        yield from _iter_file(shard, errors, on_bad_line)


def _iter_file(shard: Path, errors: Errors, on_bad_line: Callable[[BadLine], None] | None,
               warn: bool = True) -> Iterator[dict[str, Any]]:
    for record, _end, _lineno in iter_shard(shard, errors, on_bad_line, warn):
        yield record


def iter_shard(shard: Path, errors: Errors = "raise", on_bad_line: Callable[[BadLine], None] | None = None,
               warn: bool = True, offset: int = 0, lineno: int = 0,
               ) -> Iterator[tuple[dict[str, Any], int, int]]:
    """Each record of *shard* from byte *offset* (line *lineno* + 1) on, with the offset and line it ends at.

    Bad lines are handled as :func:`iter_records` says; a reader that keeps
    the last offset and line yielded can go on from there later.
    """
    for line in shard_lines(shard, offset, lineno):
        if line.newer_schema is not None:
            raise SchemaVersionError(
                f"{shard}:{line.lineno}: written by a newer newsspider (schema version {line.newer_schema}; "
                f"this one reads up to {SCHEMA_VERSION}): upgrade newsspider to read it"
            )
        if line.problem is not None:
            bad = BadLine(shard, line.lineno, line.problem, line.truncated)
            if on_bad_line is not None:
                on_bad_line(bad)
            if line.truncated:
                if warn:
                    logger.warning("%s:%d: skipped a truncated last line (%d bytes)",
                                   shard, line.lineno, line.end - line.start)
                return
            if errors != "skip":
                raise DatasetError(f"{shard}:{line.lineno}: not a valid record ({bad.reason})")
            if warn:
                logger.warning("%s:%d: not a valid record (%s); skipped", shard, line.lineno, bad.reason)
            continue
        if line.record is None:  # blank
            continue
        record = line.record
        if record["schema_version"] == 1:  # read as the current version: the fields it lacks empty
            record = {**record, **{k: v for k, v in ADDED_IN_2.items() if k not in record}}
        yield record, line.end, line.lineno


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON ({exc.msg})"
    return str(exc)


def iter_articles(path: str | Path, latest: bool = True, errors: Errors = "raise",
                  on_bad_line: Callable[[BadLine], None] | None = None,
                  removals: bool = False) -> Iterator[dict[str, Any]]:
    """Yield the articles of a dataset lazily; with *latest*, only each article's newest version.

    An article stored again by ``--refresh`` has several records; the newest
    (highest ``version``) is the one yielded, at the position of that record.
    With *latest* the files are read twice (first for the versions), holding
    only ids and version numbers in memory.  With *latest* and *removals*, each
    record is the article's latest state: it carries :data:`REMOVAL_FIELDS` (from
    the removals log beside the shards; a bad line of it is skipped, told to
    *on_bad_line*).
    """
    if not latest:
        yield from iter_records(path, errors, on_bad_line)
        return
    if removals:
        from newsspider.dataset.removals import removed_articles  # it reads lines as this module does

        gone = removed_articles(path, on_bad_line)
        for record in iter_articles(path, True, errors, on_bad_line):
            removed_at, how = gone.get(str(record.get("article_id")), (None, None))
            yield {**record, "removed_at": removed_at, "removed_how": how}
        return
    newest: dict[str, int] = {}
    for record in iter_records(path, errors, on_bad_line):
        key = str(record.get("article_id"))
        newest[key] = max(newest.get(key, 0), int(record.get("version") or 1))
    done: set[str] = set()
    second_pass = (r for shard in shard_paths(path) for r in _iter_file(shard, "skip", None, warn=False))
    for record in second_pass:
        key = str(record.get("article_id"))
        if key not in done and int(record.get("version") or 1) == newest.get(key):
            done.add(key)
            yield record


def load(path: str | Path, latest: bool = True, errors: Errors = "raise",
         removals: bool = False) -> list[dict[str, Any]]:
    """Every article of a dataset as a list (see :func:`iter_articles`)."""
    return list(iter_articles(path, latest=latest, errors=errors, removals=removals))


def to_pandas(path: str | Path, latest: bool = True, errors: Errors = "raise") -> pandas.DataFrame:
    """The dataset as a pandas DataFrame, one row per article.

    ``published_date`` is a date (``date32[pyarrow]``), ``crawled_at`` a UTC
    timestamp (``datetime64[ns, UTC]``); ``tags`` and ``related_urls`` hold
    lists; with *latest*, ``removed_at`` and ``removed_how`` say which the site removed
    (:data:`REMOVAL_FIELDS`).  Needs pandas and pyarrow (``pip install 'newsspider[data]'``).
    """
    import pandas as pd
    import pyarrow as pa

    columns = [*FIELDS, *REMOVAL_FIELDS] if latest else list(FIELDS)
    frame = pd.DataFrame.from_records(list(iter_articles(path, latest, errors, removals=latest)),
                                      columns=columns)
    dates = pd.to_datetime(frame["published_date"], format="%Y-%m-%d", errors="coerce")
    frame["published_date"] = dates.dt.date.astype(pd.ArrowDtype(pa.date32()))
    frame["crawled_at"] = pd.to_datetime(frame["crawled_at"], utc=True, format="ISO8601")
    return frame
