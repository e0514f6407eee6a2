"""The run summary read from a crawl's stats: what a user watches (progress, the summary line) and how
the crawl ended, in words and as a run's status (pure; no Scrapy)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from newsspider.core import stats as keys
from newsspider.core.time import clock

__all__ = ["CrawlSummary", "Expected", "outcome", "run_status"]


@dataclass(frozen=True)
class Expected:
    """How far a crawl is through what it expects (articles stored, or found stored, this run).

    >>> Expected(done=250, total=1000, seconds=60).line()
    '250 of about 1,000 articles (25%), ETA 3m00s'
    >>> Expected(done=0, total=1000, seconds=5).line()
    '0 of about 1,000 articles (0%)'
    """

    done: int
    total: int
    seconds: float

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any], seconds: float, bound: int = 0) -> Expected | None:
        """From a crawl's stats (and a CLOSESPIDER_ITEMCOUNT *bound*); None when the size is unknown."""
        total = int(stats.get(keys.EXPECTED, 0))
        total = min(total, bound) if total and bound else total or bound
        if not total:
            return None
        done = int(stats.get(keys.STORED, 0)) + int(stats.get(keys.skipped("stored"), 0))
        return cls(done, max(total, done), seconds)

    @property
    def eta(self) -> float | None:
        return (self.total - self.done) * self.seconds / self.done if self.done else None

    def line(self) -> str:
        eta = f", ETA {clock(self.eta)}" if self.eta is not None else ""
        return f"{self.done:,} of about {self.total:,} articles ({100 * self.done // self.total}%){eta}"


@dataclass(frozen=True)
class CrawlSummary:
    """The numbers a user watches, read from a crawl's stats."""

    pages: int
    stored: int
    dropped: int
    duplicates: int
    errors: int
    failures: dict[str, int]
    seconds: float
    #: articles not requested because their day is outside --since/--until
    outside_window: int = 0
    #: stored articles fetched again (--refresh) and found unchanged: not stored again, not dropped
    unchanged: int = 0
    #: stored articles asked for with their validators (--refresh) and answered 304 Not Modified
    not_modified: int = 0

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any], seconds: float | None = None) -> CrawlSummary:
        """Summarise Scrapy stats (``seconds`` defaults to the crawl's elapsed time).

        >>> s = CrawlSummary.from_stats({"response_received_count": 50, "newsspider/stored": 30,
        ...     "newsspider/dropped": 2, "log_count/ERROR": 1, "elapsed_time_seconds": 10.0,
        ...     "newsspider/failed": 3, "newsspider/failed/http_404": 2, "newsspider/failed/timeout": 1})
        >>> s.line()
        '50 pages (5.0/s), 30 stored, 2 dropped, 0 duplicates, 3 failed (http_404 2, timeout 1), 1 errors'
        >>> CrawlSummary.from_stats({"newsspider/stored": 1, "newsspider/unchanged": 43}, 1.0).line()
        '0 pages (0.0/s), 1 stored, 43 unchanged, 0 dropped, 0 duplicates, 0 failed, 0 errors'
        >>> CrawlSummary.from_stats({"newsspider/stored": 1, "newsspider/not_modified": 43}, 1.0).line()
        '0 pages (0.0/s), 1 stored, 43 not modified, 0 dropped, 0 duplicates, 0 failed, 0 errors'
        """
        prefix = keys.failed("")
        failures = {k[len(prefix):]: int(v) for k, v in sorted(stats.items()) if k.startswith(prefix)}
        return cls(
            pages=int(stats.get("response_received_count", 0)),
            stored=int(stats.get(keys.STORED, 0)),
            dropped=int(stats.get(keys.DROPPED, 0)),
            duplicates=int(stats.get(keys.DUPLICATES, 0)),
            errors=int(stats.get("log_count/ERROR", 0)),
            failures=failures,
            seconds=float(seconds if seconds is not None else stats.get("elapsed_time_seconds", 0.0)),
            outside_window=int(stats.get(keys.skipped("outside_window"), 0)),
            unchanged=int(stats.get(keys.UNCHANGED, 0)),
            not_modified=int(stats.get(keys.NOT_MODIFIED, 0)),
        )

    @property
    def rate(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def line(self) -> str:
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.failures.items())
        return (f"{self.pages} pages ({self.rate:.1f}/s), {self.stored} stored, "
                + (f"{self.unchanged} unchanged, " if self.unchanged else "")
                + (f"{self.not_modified} not modified, " if self.not_modified else "")
                + f"{self.dropped} dropped, {self.duplicates} duplicates, "
                f"{self.failed} failed{f' ({reasons})' if reasons else ''}, {self.errors} errors"
                + (f", {self.outside_window} outside the window" if self.outside_window else ""))



#: why a crawl stopped, in words, by its finish reason (the run record keeps the reason)
_STOPPED = {"shutdown": "interrupted", "proxies_failed": "every proxy failed",
            "unreachable": "no start URL could be fetched", "redis_unavailable": "Redis failed",
            "redis_data_lost": "Redis lost the crawl's data", "storage_error": "a write failed",
            "frontier_lost": "the frontier was lost", "worker_died": "a worker process died"}


def outcome(finish_reason: str) -> str:
    """How a crawl ended, in words, for its summary line (``Crawl <outcome>: ...``).

    >>> outcome("finished"), outcome("proxies_failed"), outcome("closespider_timeout")
    ('finished', 'stopped (every proxy failed)', 'stopped at CLOSESPIDER_TIMEOUT')
    >>> outcome("failed to start"), outcome("cancelled")
    ('stopped (failed to start)', 'stopped (cancelled)')
    """
    if finish_reason == "finished":
        return finish_reason
    if finish_reason.startswith("closespider_"):
        return f"stopped at {finish_reason.upper()}"
    return f"stopped ({_STOPPED.get(finish_reason, finish_reason.replace('_', ' '))})"


def run_status(reason: str) -> str:
    """A run's status from the spider's close reason.

    >>> [run_status(r) for r in ("finished", "closespider_itemcount", "shutdown", "storage_error")]
    ['finished', 'finished', 'stopped', 'failed']
    """
    if reason == "finished" or reason.startswith("closespider_"):
        return "finished"
    return "stopped" if reason == "shutdown" else "failed"
