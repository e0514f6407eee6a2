"""Crawl progress (a line every few seconds, or a bar on a terminal; a summary at the end), redirect
outcomes, one-line drops."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.logformatter import LogFormatter, LogFormatterResult
from scrapy.statscollectors import StatsCollector
from scrapy.utils.asyncio import create_looping_call

from newsspider.crawl import stats as keys
from newsspider.crawl.failures import count_failure, failure_reason
from newsspider.crawl.scope import allowed_hosts
from newsspider.extract.processors import canonical_url

logger = logging.getLogger("newsspider.progress")



def _duration(seconds: float) -> str:
    """
    >>> _duration(42), _duration(754), _duration(7300)
    ('42s', '12m34s', '2h01m')
    """
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


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
        eta = f", ETA {_duration(self.eta)}" if self.eta is not None else ""
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
                + f"{self.dropped} dropped, {self.duplicates} duplicates, "
                f"{self.failed} failed{f' ({reasons})' if reasons else ''}, {self.errors} errors"
                + (f", {self.outside_window} outside the window" if self.outside_window else ""))


class Progress:
    """Log a :class:`CrawlSummary` line every ``NEWSSPIDER_PROGRESS_INTERVAL`` seconds, with done /
    expected and an ETA when the crawl knows its size (:class:`Expected`).

    On a terminal (stderr a TTY, ``NEWSSPIDER_PROGRESS_BAR`` not false) it is one updating line
    instead, a tqdm bar, with the crawl's log lines printed above it.
    """

    def __init__(self, stats: StatsCollector, interval: float, bound: int = 0, bar: bool = False) -> None:
        self.stats = stats
        self.interval = interval
        self.bound = bound
        self.started = time.monotonic()
        self.task: Any = None
        self.use_bar = bar
        self.bar: Any = None
        self.redirect = ExitStack()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        interval = crawler.settings.getfloat("NEWSSPIDER_PROGRESS_INTERVAL")
        if interval <= 0:
            raise NotConfigured
        bar = crawler.settings.get("NEWSSPIDER_PROGRESS_BAR", "auto")
        on_terminal = sys.stderr.isatty() if str(bar).lower() == "auto" else crawler.settings.getbool(
            "NEWSSPIDER_PROGRESS_BAR")
        bound = crawler.settings.getint("CLOSESPIDER_ITEMCOUNT")
        extension = cls(crawler.stats, interval, bound, on_terminal)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self) -> None:
        self.started = time.monotonic()
        if self.use_bar:
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            self.bar = tqdm(total=None, unit=" articles", file=sys.stderr, dynamic_ncols=True, mininterval=0)
            self.redirect.enter_context(logging_redirect_tqdm(tqdm_class=tqdm))
        self.task = create_looping_call(self.log)
        self.task.start(min(self.interval, 1.0) if self.bar is not None else self.interval, now=False)

    def log(self) -> None:
        seconds = time.monotonic() - self.started
        stats = self.stats.get_stats()
        summary = CrawlSummary.from_stats(stats, seconds)
        expected = Expected.from_stats(stats, seconds, self.bound)
        if self.bar is not None:
            self.bar.total = expected.total if expected is not None else None
            self.bar.n = expected.done if expected is not None else summary.stored
            self.bar.set_postfix_str(f"{summary.pages} pages, {summary.failed} failed", refresh=False)
            self.bar.refresh()
            return
        logger.info("progress: %s%s", summary.line(), f"; {expected.line()}" if expected is not None else "")

    def spider_closed(self, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        if self.bar is not None:
            self.log()
            self.bar.close()
            self.redirect.close()
        summary = CrawlSummary.from_stats(self.stats.get_stats(), time.monotonic() - self.started)
        logger.info("finished (%s): %s", reason, summary.line())


class RedirectOutcomes:
    """Count and log redirects that Scrapy drops without telling the spider.

    A redirect to another host is dropped by the offsite filter, and a
    redirect back to a URL already requested (a loop, or a shortlink to an
    article fetched before) by the duplicate filter; neither reaches the
    request's errback.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedirectOutcomes:
        outcomes = cls(crawler)
        crawler.signals.connect(outcomes.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(outcomes.request_dropped, signal=signals.request_dropped)
        return outcomes

    def request_scheduled(self, request: Request) -> None:
        hosts = allowed_hosts(self.crawler.spider)
        if request.meta.get("redirect_urls") and hosts and urlsplit(request.url).netloc not in hosts:
            self._failed("offsite_redirect", request)

    def request_dropped(self, request: Request) -> None:
        chain = request.meta.get("redirect_urls")
        if not chain:
            return
        if canonical_url(request.url) in {canonical_url(u) for u in chain}:
            self._failed("redirect_loop", request)
        else:
            self.crawler.stats.inc_value(keys.skipped("redirect_to_seen"))

    def _failed(self, reason: str, request: Request) -> None:
        count_failure(self.crawler.stats, logger, reason, request.url,
                      f" (redirected from {request.meta['redirect_urls'][0]})")


class OneLineLogFormatter(LogFormatter):
    """Scrapy's log formatter, except that a dropped item is one line (its reason and URL), not the
    whole record."""

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any) -> LogFormatterResult:
        result = super().dropped(item, exception, response, spider)
        return {**result, "msg": "Dropped: %(exception)s", "args": {"exception": exception}}


class RobotsTxtErrors(logging.Filter):
    """Extension: a robots.txt that cannot be downloaded is one warning line, not Scrapy's traceback.

    Scrapy then crawls the host as if its robots.txt allowed everything, and the
    pages that fail for the same reason are counted and logged like any other.
    """

    LOGGER = "scrapy.downloadermiddlewares.robotstxt"

    def __init__(self, stats: StatsCollector) -> None:
        super().__init__()
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsTxtErrors:
        errors = cls(crawler.stats)
        logging.getLogger(cls.LOGGER).addFilter(errors)
        crawler.signals.connect(errors.spider_closed, signal=signals.spider_closed)
        return errors

    def spider_closed(self) -> None:
        logging.getLogger(self.LOGGER).removeFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        error = args.get("f_exception") if isinstance(args, Mapping) else None
        if record.exc_info and isinstance(args, Mapping) and isinstance(error, Exception):
            if self.stats.get_value(keys.FATAL):  # the crawl is stopping, and has said why
                return False
            request = args.get("request")
            url = urlsplit(request.url) if isinstance(request, Request) else None
            record.msg = "robots.txt not fetched (%s): %s"
            record.args = (failure_reason(error),
                           f"{url.scheme}://{url.netloc}/robots.txt" if url else "?")
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True
