"""Crawl progress (a line every few seconds, or a bar on a terminal; a summary at the end), redirect
outcomes, one-line drops."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.logformatter import LogFormatter, LogFormatterResult
from scrapy.statscollectors import StatsCollector
from scrapy.utils.asyncio import create_looping_call

from newsspider.core import stats as keys
from newsspider.core.failures import count_failure, failure_reason
from newsspider.core.scope import allowed_hosts
from newsspider.core.summary import CrawlSummary, Expected
from newsspider.extract.processors import canonical_url

logger = logging.getLogger("newsspider.progress")



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
