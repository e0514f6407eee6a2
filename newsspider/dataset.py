"""Reading the dataset back: lazy, read-only, no Scrapy or Twisted import.

A dataset is a data directory holding ``articles.jsonl`` and possibly more
shards ``articles-*.jsonl``, or a single ``.jsonl`` file.  Nothing here ever
writes to those files.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "articles.jsonl").write_text(
...     '{"article_id":"1","version":1,"title":"旧"}\\n{"article_id":"1","version":2,"title":"新"}\\n')
>>> [r["title"] for r in iter_articles(d)]
['新']
>>> len(load(d, latest=False))
2
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from newsspider.items import SCHEMA_VERSION

if TYPE_CHECKING:  # pandas is optional: pip install 'newsspider[data]'
    import pandas

__all__ = [
    "BadLine",
    "DatasetError",
    "SchemaVersionError",
    "iter_articles",
    "iter_records",
    "load",
    "shard_paths",
    "to_pandas",
]

logger = logging.getLogger(__name__)

SHARD_GLOB = "articles*.jsonl"
Errors = Literal["raise", "skip"]


class DatasetError(ValueError):
    """A dataset file that cannot be read as newsspider records (names file and line)."""


class SchemaVersionError(DatasetError):
    """A record written by a newer newsspider than this one."""


@dataclass(frozen=True)
class BadLine:
    """A line that is not a record: where, why, and whether it is a cut-short last line."""

    path: Path
    lineno: int
    reason: str
    truncated: bool

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.reason}"


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
    with shard.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
                truncated = not raw.endswith(b"\n")
                bad = BadLine(shard, lineno, "truncated last line" if truncated else _reason(exc),
                              truncated)
                if on_bad_line is not None:
                    on_bad_line(bad)
                if truncated:
                    if warn:
                        logger.warning("%s:%d: skipped a truncated last line (%d bytes)",
                                       shard, lineno, len(raw))
                    return
                if errors != "skip":
                    raise DatasetError(f"{shard}:{lineno}: not a valid record ({bad.reason})") from exc
                if warn:
                    logger.warning("%s:%d: not a valid record (%s); skipped", shard, lineno, bad.reason)
                continue
            version = record.get("schema_version", SCHEMA_VERSION)
            if isinstance(version, int) and version > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"{shard}:{lineno}: written by a newer newsspider (schema version {version}; "
                    f"this one reads up to {SCHEMA_VERSION}): upgrade newsspider to read it"
                )
            yield record


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON ({exc.msg})"
    return str(exc)


def iter_articles(path: str | Path, latest: bool = True, errors: Errors = "raise",
                  on_bad_line: Callable[[BadLine], None] | None = None) -> Iterator[dict[str, Any]]:
    """Yield the articles of a dataset lazily; with *latest*, only each article's newest version.

    An article stored again by ``--refresh`` has several records; the newest
    (highest ``version``) is the one yielded, at the position of that record.
    With *latest* the files are read twice (first for the versions), holding
    only ids and version numbers in memory.
    """
    if not latest:
        yield from iter_records(path, errors, on_bad_line)
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


def load(path: str | Path, latest: bool = True, errors: Errors = "raise") -> list[dict[str, Any]]:
    """Every article of a dataset as a list (see :func:`iter_articles`)."""
    return list(iter_articles(path, latest=latest, errors=errors))


def to_pandas(path: str | Path, latest: bool = True, errors: Errors = "raise") -> pandas.DataFrame:
    """The dataset as a pandas DataFrame, one row per article.

    ``published_date`` is a date (``date32[pyarrow]``), ``crawled_at`` a UTC
    timestamp (``datetime64[ns, UTC]``); ``tags`` and ``related_urls`` hold
    lists.  Needs pandas and pyarrow (``pip install 'newsspider[data]'``).
    """
    import pandas as pd
    import pyarrow as pa

    from newsspider.items import FIELDS

    frame = pd.DataFrame.from_records(list(iter_articles(path, latest, errors)), columns=list(FIELDS))
    dates = pd.to_datetime(frame["published_date"], format="%Y-%m-%d", errors="coerce")
    frame["published_date"] = dates.dt.date.astype(pd.ArrowDtype(pa.date32()))
    frame["crawled_at"] = pd.to_datetime(frame["crawled_at"], utc=True, format="ISO8601")
    return frame
