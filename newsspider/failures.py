"""Why a page could not be got: one short, stable reason per failure, for stats and the run record."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import deferred_from_coro

from newsspider.storage import StorageError

__all__ = ["FATAL", "PageErrors", "count_failure", "failure_reason", "stop_crawl"]

#: stats key of the one-line reason a crawl was stopped by an error it cannot go on after
FATAL = "newsspider/fatal"

logger = logging.getLogger(__name__)

_REASONS = {
    "DownloadTimeoutError": "timeout",
    "TimeoutError": "timeout",
    "ResponseDataLossError": "data_loss",
    "DownloadConnectionRefusedError": "connection_refused",
    "ConnectionRefusedError": "connection_refused",
    "ConnectionLost": "connection_lost",
    "ConnectionDone": "connection_lost",
    "ResponseFailed": "connection_lost",
    "ResponseNeverReceived": "connection_lost",
    "CannotResolveHostError": "dns",
    "DNSLookupError": "dns",
    "DownloadCancelledError": "cancelled",
    "CancelledError": "cancelled",
}
_IGNORED = {
    "Forbidden by robots.txt": "robots_txt",
    "max redirections reached": "redirect_limit",
}
# What Scrapy says when it stops a download, or a decompression, at DOWNLOAD_MAXSIZE.
_TOO_LARGE = ("larger than download max size", "exceeded DOWNLOAD_MAXSIZE")


def failure_reason(exc: BaseException) -> str:
    """A short reason for a failed request.

    >>> from scrapy.exceptions import DownloadTimeoutError
    >>> failure_reason(DownloadTimeoutError("took longer than 3 seconds"))
    'timeout'
    >>> failure_reason(IgnoreRequest("Forbidden by robots.txt"))
    'robots_txt'
    >>> failure_reason(ValueError("x"))
    'value_error'
    >>> from scrapy.exceptions import DownloadCancelledError
    >>> failure_reason(DownloadCancelledError("Received 9 bytes which is larger than download max size (8)"))
    'too_large'
    >>> failure_reason(DownloadCancelledError("the crawl is closing"))
    'cancelled'
    >>> failure_reason(IgnoreRequest("Ignored response <200 http://x/> because its body (1 B compressed, "
    ...                              "9 B decompressed so far) exceeded DOWNLOAD_MAXSIZE (8 B) during ..."))
    'too_large'
    """
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}"
    if any(text in str(exc) for text in _TOO_LARGE):
        return "too_large"
    if isinstance(exc, IgnoreRequest):
        return _IGNORED.get(str(exc), "ignored")
    name = type(exc).__name__
    return _REASONS.get(name) or re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def count_failure(stats: StatsCollector, logger: logging.Logger | logging.LoggerAdapter, reason: str,
                  url: str, detail: str = "") -> None:
    """Count a page that could not be got (``newsspider/failed/<reason>``) and log its URL."""
    stats.inc_value("newsspider/failed")
    stats.inc_value(f"newsspider/failed/{reason}")
    logger.warning("failed (%s): %s%s", reason, url, detail)


def stop_crawl(crawler: Crawler, reason: str, message: str) -> None:
    """Stop the crawl because of an error it cannot go on after (a failed write, Redis gone).

    Requests in flight finish; nothing new is requested.  The first *message*
    is kept in the stats (:data:`FATAL`) for the command line to print, and the
    crawl closes with *reason*.
    """
    if crawler.stats.get_value(FATAL):
        return
    crawler.stats.set_value(FATAL, message)
    logger.error("stopping the crawl: %s", message)
    if crawler.engine is not None and crawler.engine.spider is not None:
        deferred_from_coro(crawler.engine.close_spider_async(reason=reason))


class PageErrors:
    """Spider middleware: a page whose callback raises is one failed page, never a stuck crawl.

    The error is counted as ``parse_error`` (stats, summary, run record) with
    a one-line ``failed (parse_error): URL: error`` (the traceback at DEBUG);
    what the callback yielded before the error is kept, and the crawl goes on.
    A :class:`~newsspider.storage.StorageError` (the state cannot be read or
    written) is not the page's fault: it stops the crawl with one line.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageErrors:
        return cls(crawler)

    def process_spider_exception(self, response: Response, exception: Exception) -> Iterable[Any]:
        if isinstance(exception, StorageError):  # not the page's fault: the crawl's memory is gone
            stop_crawl(self.crawler, exception.reason, str(exception))
            return ()
        detail = f": {type(exception).__name__}: {exception}".splitlines()[0]
        count_failure(self.stats, logger, "parse_error", response.url, detail)
        logger.debug("the error in %s", response.url, exc_info=exception)
        return ()
