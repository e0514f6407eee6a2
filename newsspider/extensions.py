"""Crawl progress (a line every few seconds, a summary at the end), redirect outcomes, one-line drops."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.logformatter import LogFormatter, LogFormatterResult
from scrapy.statscollectors import StatsCollector
from scrapy.utils.asyncio import create_looping_call

from newsspider.failures import FATAL, count_failure, failure_reason
from newsspider.processors import canonical_url

logger = logging.getLogger("newsspider.progress")


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

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any], seconds: float | None = None) -> CrawlSummary:
        """Summarise Scrapy stats (``seconds`` defaults to the crawl's elapsed time).

        >>> s = CrawlSummary.from_stats({"response_received_count": 50, "newsspider/stored": 30,
        ...     "newsspider/dropped": 2, "log_count/ERROR": 1, "elapsed_time_seconds": 10.0,
        ...     "newsspider/failed": 3, "newsspider/failed/http_404": 2, "newsspider/failed/timeout": 1})
        >>> s.line()
        '50 pages (5.0/s), 30 stored, 2 dropped, 0 duplicates, 3 failed (http_404 2, timeout 1), 1 errors'
        """
        prefix = "newsspider/failed/"
        failures = {k[len(prefix):]: int(v) for k, v in sorted(stats.items()) if k.startswith(prefix)}
        return cls(
            pages=int(stats.get("response_received_count", 0)),
            stored=int(stats.get("newsspider/stored", 0)),
            dropped=int(stats.get("newsspider/dropped", 0)),
            duplicates=int(stats.get("newsspider/duplicates", 0)),
            errors=int(stats.get("log_count/ERROR", 0)),
            failures=failures,
            seconds=float(seconds if seconds is not None else stats.get("elapsed_time_seconds", 0.0)),
            outside_window=int(stats.get("newsspider/skipped/outside_window", 0)),
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
                f"{self.dropped} dropped, {self.duplicates} duplicates, "
                f"{self.failed} failed{f' ({reasons})' if reasons else ''}, {self.errors} errors"
                + (f", {self.outside_window} outside the window" if self.outside_window else ""))


class Progress:
    """Log a :class:`CrawlSummary` line every ``NEWSSPIDER_PROGRESS_INTERVAL`` seconds."""

    def __init__(self, stats: StatsCollector, interval: float) -> None:
        self.stats = stats
        self.interval = interval
        self.started = time.monotonic()
        self.task: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        interval = crawler.settings.getfloat("NEWSSPIDER_PROGRESS_INTERVAL")
        if interval <= 0:
            raise NotConfigured
        extension = cls(crawler.stats, interval)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self) -> None:
        self.started = time.monotonic()
        self.task = create_looping_call(self.log)
        self.task.start(self.interval, now=False)

    def log(self) -> None:
        summary = CrawlSummary.from_stats(self.stats.get_stats(), time.monotonic() - self.started)
        logger.info("progress: %s", summary.line())

    def spider_closed(self, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
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
        hosts = getattr(self.crawler.spider, "allowed_hosts", None)
        if request.meta.get("redirect_urls") and hosts and urlsplit(request.url).netloc not in hosts:
            self._failed("offsite_redirect", request)

    def request_dropped(self, request: Request) -> None:
        chain = request.meta.get("redirect_urls")
        if not chain:
            return
        if canonical_url(request.url) in {canonical_url(u) for u in chain}:
            self._failed("redirect_loop", request)
        else:
            self.crawler.stats.inc_value("newsspider/skipped/redirect_to_seen")

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
            if self.stats.get_value(FATAL):  # the crawl is stopping, and has said why
                return False
            request = args.get("request")
            url = urlsplit(request.url) if isinstance(request, Request) else None
            record.msg = "robots.txt not fetched (%s): %s"
            record.args = (failure_reason(error),
                           f"{url.scheme}://{url.netloc}/robots.txt" if url else "?")
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True
