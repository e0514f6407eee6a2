"""What a crawl remembers between runs, behind one interface: :class:`Memory`.

Two implementations: :mod:`newsspider.memory.sqlite` (one machine, a SQLite file
next to the dataset) and :mod:`newsspider.memory.redis` (the workers of a
distributed crawl).  A crawl's memory is opened and closed by one Scrapy
component, :class:`newsspider.memory.extension.CrawlMemory`; the spider, the middlewares
and the pipelines ask it through the crawler.

The dataset is the truth: an article is marked stored only after its line is
written, and a memory catches up with what the dataset holds beyond what it
accounted for when it opens.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from newsspider.core.errors import NewsspiderError

__all__ = ["REDIS_PREFIX", "UNKNOWN_RUN", "Coordination", "Memory", "Run", "StateError", "StoredArticle",
           "Validators"]

#: ``first_run`` of articles found in the dataset by a memory that cannot tell which run stored
#: them (one rebuilt from the dataset): not old news until a run walks the whole site.
UNKNOWN_RUN = -1
#: the prefix of every Redis key of a distributed crawl by default (``NEWSSPIDER_REDIS_PREFIX``)
REDIS_PREFIX = "newsspider"


class StateError(NewsspiderError, ValueError):
    """A memory that cannot be used (its message says what and where)."""


@dataclass(frozen=True)
class StoredArticle:
    """What the memory knows of a stored article (the dataset holds the rest)."""

    article_id: str
    content_hash: str | None
    version: int
    first_run: int


@dataclass(frozen=True)
class Validators:
    """What a refresh asks a stored article's page with, and what a ``304 Not Modified`` answer refers to.

    The ``ETag`` and ``Last-Modified`` headers of the 200 response the stored
    version came from, as the server sent them (a weak ``W/`` ETag included),
    and that response's record in the web archive (its WARC-Record-ID,
    WARC-Date, WARC-Target-URI, payload digest and place: ``"<file> <offset>
    <length>"``; None when it was not archived, or kept before places were).
    """

    etag: str | None = None
    last_modified: str | None = None
    record_id: str | None = None
    date: str | None = None
    url: str | None = None
    digest: str | None = None
    place: str | None = None

    @property
    def conditional(self) -> bool:
        """Whether there is anything to ask a conditional request with.

        >>> Validators(etag='W/"1"').conditional, Validators(record_id="<urn:uuid:1>").conditional
        (True, False)
        """
        return bool(self.etag or self.last_modified)


@dataclass(frozen=True)
class Run:
    run_id: int
    started_at: str
    ended_at: str | None
    status: str
    pages: int
    new_articles: int
    updated_articles: int
    dropped: int
    failed: int
    errors: int
    finish_reason: str | None
    #: JSON object: failed pages by reason
    failures: str | None
    #: JSON object: the run's quality (:func:`newsspider.monitoring.quality.quality`)
    quality: str | None = None
    #: JSON array: the monitors' checks that failed ("degraded" runs)
    checks: str | None = None
    #: JSON object: the window of time the run kept (``{"since": …, "until": …}``); None: the whole site
    window: str | None = None


class Coordination(Protocol):
    """What the workers of a distributed crawl share beside the memory: who they are, the run they are
    in, and whether the start URLs are queued yet (the Redis memory's; the frontier asks it)."""

    #: this worker's id
    worker_id: str
    #: the crawl's key prefix in Redis
    prefix: str
    #: the id of the crawl's data in this Redis (new when Redis lost it)
    epoch: str
    #: the run this crawl is
    run_id: int

    def heartbeat(self) -> None:
        """This worker is alive."""

    def check_run(self) -> None:
        """Raise when the crawl's data is gone from Redis."""

    def start_urls_queued(self) -> bool:
        """Whether the run's start URLs are in the frontier yet."""


class Memory(Protocol):
    """What the crawl asks of its memory and tells it.

    A failed write raises :class:`~newsspider.dataset.storage.StorageError` (its
    ``reason`` is the crawl's close reason); nothing is written after it.
    """

    #: where the dataset is
    data_dir: Path
    #: this worker's id; ``""`` for a single-machine crawl
    worker_id: str
    #: the run this crawl is (started when the memory is opened)
    run_id: int
    #: the last run that walked the whole site (ended ``finished``, no window of time): what it or an
    #: earlier run stored is old news; what a run that was killed, stopped early or windowed stored is not
    last_complete_run: int

    @property
    def coordination(self) -> Coordination | None:
        """What a distributed crawl's workers coordinate through; None for a single machine's."""

    @property
    def shard_name(self) -> str:
        """The dataset file this crawl appends to."""

    def set_shard(self, name: str) -> None:
        """Remember *name* as the file later crawls append to (the last one was damaged)."""

    def feeds(self) -> list[str]:
        """The feeds of all the site's posts that the crawl's start pages named (a recurring crawl reads
        them first)."""

    def set_feeds(self, urls: list[str]) -> None:
        """Remember *urls* as the site's feeds (replacing those remembered)."""

    def get(self, article_id: str | int) -> StoredArticle | None: ...

    def is_stored(self, article_id: str | int) -> bool: ...

    def stored_run(self, article_id: str | int) -> int | None:
        """The run that first stored *article_id* (:data:`UNKNOWN_RUN` if not known), None if none did."""

    def count(self) -> int: ...

    def last_seen(self, article_id: str | int) -> str | None:
        """When *article_id* was last captured (ISO 8601, UTC: stored, or fetched again unchanged);
        None when it is not stored or the time is not known."""

    def stored_urls(self) -> Iterator[tuple[str, str]]:
        """Every stored article's id and URL (``""`` when the memory keeps none), read a page at a time
        (a crawl goes on writing meanwhile)."""

    def claim(self, article_id: str | int) -> bool:
        """Take *article_id* for storing; False when it is stored or another worker has it."""

    def should_seed(self) -> bool:
        """Whether this crawl queues the start URLs (the first worker of a run does)."""

    def seeded(self) -> None:
        """The start URLs are queued: the other workers of a distributed run wait for this before
        they take an empty frontier for the end of the crawl."""

    def record_stored(self, record: dict[str, Any], shard: str, shard_size: int) -> None:
        """*record*'s line was written to *shard*, which is now *shard_size* bytes long."""

    def touch(self, article_id: str | int, seen: str) -> None:
        """An article fetched again, unchanged."""

    def validators(self, article_id: str | int) -> Validators | None:
        """The validators kept for *article_id*'s stored version; None when none were."""

    def set_validators(self, article_id: str | int, validators: Validators) -> None:
        """Keep *validators* for *article_id* (replacing what was kept); nothing when it is not stored."""

    def commit(self) -> None: ...

    def start_run(self, window: dict[str, str] | None = None) -> int:
        """Start (or join) this crawl's run, keeping only the days of *window*; return its id."""

    def finish_run(self, status: str, finish_reason: str, failures: dict[str, int] | None = None,
                   quality: dict[str, Any] | None = None, checks: list[str] | None = None,
                   **counts: int) -> None: ...

    def runs(self) -> list[Run]:
        """The run history, oldest first (this run included)."""

    def close(self) -> None: ...
