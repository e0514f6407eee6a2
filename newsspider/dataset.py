"""Reading the dataset back: lazy, read-only, no Scrapy or Twisted import.

A dataset is a data directory holding ``articles.jsonl`` and possibly more
shards ``articles-*.jsonl``, or a single ``.jsonl`` file.  Nothing here ever
writes to those files.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

__all__ = ["DatasetError", "iter_articles", "iter_records", "shard_paths"]

logger = logging.getLogger(__name__)

SHARD_GLOB = "articles*.jsonl"


class DatasetError(ValueError):
    """A dataset file that cannot be read as newsspider records (names file and line)."""


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


def iter_records(
    path: str | Path, errors: Literal["raise", "skip"] = "raise"
) -> Iterator[dict[str, Any]]:
    """Yield every record of every shard, in file order, lazily.

    A last line without its newline (a write cut short) is skipped with a
    warning naming file and line.  Any other line that is not a JSON object
    raises :class:`DatasetError` naming file and line, or is skipped with a
    warning when ``errors="skip"``.
    """
    for shard in shard_paths(path):
        yield from _iter_file(shard, errors)


def _iter_file(shard: Path, errors: str) -> Iterator[dict[str, Any]]:
    with shard.open("rb") as handle:
        lineno = 0
        for lineno, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
                if not raw.endswith(b"\n"):
                    logger.warning("%s:%d: skipped a truncated last line (%d bytes)",
                                   shard, lineno, len(raw))
                    return
                message = f"{shard}:{lineno}: not a valid record ({_reason(exc)})"
                if errors != "skip":
                    raise DatasetError(message) from exc
                logger.warning("%s; skipped", message)
                continue
            yield record


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    return str(exc).split(":")[0] if isinstance(exc, json.JSONDecodeError) else str(exc)


def iter_articles(
    path: str | Path, latest: bool = True, errors: Literal["raise", "skip"] = "raise"
) -> Iterator[dict[str, Any]]:
    """Yield the articles of a dataset lazily; with *latest*, only each article's newest version.

    An article stored again by ``--refresh`` has several records; the newest
    (highest ``version``) is the one yielded, at the position of that record.
    Reads the files twice when *latest* (once for the versions), holding only
    ids and version numbers in memory.
    """
    if not latest:
        yield from iter_records(path, errors)
        return
    newest: dict[str, int] = {}
    for record in iter_records(path, errors):
        key = str(record.get("article_id"))
        newest[key] = max(newest.get(key, 0), int(record.get("version") or 1))
    done: set[str] = set()
    for record in iter_records(path, "skip"):
        key = str(record.get("article_id"))
        if key not in done and int(record.get("version") or 1) == newest.get(key):
            done.add(key)
            yield record
