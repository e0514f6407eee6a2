"""The removals log: which stored articles the site removed, and when (no Scrapy).

The dataset's records are never rewritten: what a refresh learns of an article that is gone is kept
beside the shards, in ``removals.jsonl`` (``removals-<worker>.jsonl`` for a worker of a distributed
crawl), one event a line, appended at the end of a run::

    {"article_id": "2060037", "url": "https://…/2060037.html", "state": "provisional",
     "at": "2026-12-01T08:00:00Z", "since": "2026-12-01T08:00:00Z", "how": "404", "run": 7}

``state`` is ``provisional`` (seen gone once), ``confirmed`` (seen gone again at least
``NEWSSPIDER_REMOVED_CONFIRM`` after ``since``, the first time) or ``restored`` (answered again
after being marked).  An article's state is its latest event.  A line that is not such an event is
skipped and counted (:class:`~newsspider.dataset.reader.BadLine`), never the log.

>>> import tempfile; d = Path(tempfile.mkdtemp())
>>> append_events(d, "removals.jsonl", [event("1", "u1", "provisional", "2026-01-01T00:00:00Z", "404"),
...     event("1", "u1", "confirmed", "2026-01-02T00:00:00Z", "404", since="2026-01-01T00:00:00Z"),
...     event("2", "u2", "provisional", "2026-01-01T00:00:00Z", "410")])
3
>>> removed_articles(d)
{'1': ('2026-01-02T00:00:00Z', '404')}
>>> _ = (d / "removals.jsonl").open("a").write("not json\\n")
>>> bad = []; sorted(current_states(d, bad.append)), len(bad)
(['1', '2'], 1)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsspider.dataset.layout import REMOVALS_FILE, REMOVALS_GLOB, SHARD_GLOB
from newsspider.dataset.reader import BadLine, _reason
from newsspider.dataset.storage import JsonLinesWriter

__all__ = ["STATES", "Removal", "append_events", "current_states", "event", "log_dir", "log_name",
           "log_paths", "read_events", "removed_articles"]

logger = logging.getLogger(__name__)

#: the states of an event
STATES = ("provisional", "confirmed", "restored")


@dataclass(frozen=True)
class Removal:
    """An article's latest removal event."""

    article_id: str
    url: str
    state: str
    at: str
    since: str
    how: str | None

    @property
    def removed(self) -> bool:
        return self.state in ("provisional", "confirmed")


def event(article_id: str, url: str, state: str, at: str, how: str | None, since: str | None = None,
          run: int | None = None) -> dict[str, Any]:
    """One event of the log (*since*: when the article was first seen gone; *at* by default)."""
    return {"article_id": article_id, "url": url, "state": state, "at": at, "since": since or at,
            "how": how, "run": run}


def log_name(shard_name: str) -> str:
    """The log a writer of the shard *shard_name* appends to.

    >>> log_name("articles.jsonl"), log_name("articles-w1.jsonl")
    ('removals.jsonl', 'removals-w1.jsonl')
    """
    return REMOVALS_FILE.replace(".jsonl", shard_name.removeprefix("articles").removesuffix(".jsonl")
                                 + ".jsonl")


def log_dir(path: str | Path) -> Path | None:
    """The data dir whose removals go with the dataset at *path* (a data dir, or a shard in one).

    >>> log_dir("/tmp"), log_dir("/data/articles.jsonl"), log_dir("/x/export.jsonl")
    (PosixPath('/tmp'), PosixPath('/data'), None)
    """
    path = Path(path)
    if path.is_dir():
        return path
    return path.parent if path.match(SHARD_GLOB) else None


def log_paths(path: str | Path) -> list[Path]:
    """The removals logs beside the dataset at *path*, by name."""
    directory = log_dir(path)
    return sorted(p for p in directory.glob(REMOVALS_GLOB) if p.is_file()) if directory else []


def _check(record: Any) -> str | None:
    """Why *record* is not an event, else None.

    >>> _check(event("1", "u", "confirmed", "2026-01-01T00:00:00Z", "404")) is None
    True
    >>> _check({"article_id": "1"}), _check([])
    ('not an event (missing url)', 'not a JSON object')
    >>> _check({**event("1", "u", "gone", "t", "404")})
    "not an event (state 'gone')"
    """
    if not isinstance(record, dict):
        return "not a JSON object"
    for name in ("article_id", "url", "state", "at", "since"):
        if not isinstance(record.get(name), str) or not record[name]:
            return f"not an event (missing {name})"
    if record["state"] not in STATES:
        return f"not an event (state {record['state']!r})"
    if record.get("how") is not None and not isinstance(record["how"], str):
        return "not an event (how is not text)"
    return None


def read_events(path: str | Path, on_bad_line: Callable[[BadLine], None] | None = None,
                warn: bool = True) -> Iterator[Removal]:
    """Every event of the logs beside the dataset at *path*, in file order; a bad line is skipped
    (a warning naming file and line) and told to *on_bad_line*."""
    for log in log_paths(path):
        with log.open("rb") as handle:
            for lineno, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                    problem = _check(record)
                except ValueError as exc:
                    problem = _reason(exc)
                if problem is not None:
                    bad = BadLine(log, lineno, problem, not raw.endswith(b"\n"))
                    if on_bad_line is not None:
                        on_bad_line(bad)
                    if warn:
                        logger.warning("%s:%d: not a removal event (%s); skipped", log, lineno, problem)
                    continue
                yield Removal(record["article_id"], record["url"], record["state"], record["at"],
                              record["since"], record.get("how"))


def current_states(path: str | Path, on_bad_line: Callable[[BadLine], None] | None = None,
                   warn: bool = True) -> dict[str, Removal]:
    """Each article's latest event (the latest ``at``; of equal ones, the last read)."""
    latest: dict[str, Removal] = {}
    for removal in read_events(path, on_bad_line, warn):
        known = latest.get(removal.article_id)
        if known is None or removal.at >= known.at:
            latest[removal.article_id] = removal
    return latest


def removed_articles(path: str | Path, on_bad_line: Callable[[BadLine], None] | None = None,
                     warn: bool = True) -> dict[str, tuple[str, str | None]]:
    """The articles whose removal is confirmed: id -> (``removed_at``, ``removed_how``)."""
    return {key: (r.at, r.how) for key, r in current_states(path, on_bad_line, warn).items()
            if r.state == "confirmed"}


def append_events(data_dir: str | Path, name: str, events: Iterable[dict[str, Any]]) -> int:
    """Append *events* to the log *name* in *data_dir*, each a whole line; return how many.

    Raises :class:`~newsspider.dataset.storage.StorageError` when one cannot be written (the lines
    before it stay, whole)."""
    writer = JsonLinesWriter(data_dir, name)
    try:
        for item in events:
            writer.write(item)
    finally:
        writer.close()
    return writer.written
