"""Why a page could not be got: one short, stable reason per failure, for stats and the run record."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import deferred_from_coro

from newsspider.crawl import stats as keys
from newsspider.crawl.signals import crawl_stopping, request_failed
from newsspider.dataset.storage import StorageError
from newsspider.extract.loaders import Problems

__all__ = ["START", "NothingFetched", "PageErrors", "count_failure", "failure_reason",
           "nothing_fetched", "stop_crawl"]

#: request meta key of a start request (kept through redirects and retries)
START = "newsspider_start"

logger = logging.getLogger(__name__)
extraction_log = logging.getLogger("newsspider.extraction")

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
    "DownloadStopped": "cancelled",
    "CancelledError": "cancelled",
}
# Scrapy's own messages (not an API; tests/test_scrapy_contract.py and test_faults.py check them).
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
    >>> from newsspider.crawl.challenges import Challenged
    >>> failure_reason(Challenged("a bot challenge (cloudflare)"))
    'challenge'
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
    if type(exc).__name__ == "Challenged":  # newsspider.crawl.challenges: a bot challenge, not a refusal
        return "challenge"
    if isinstance(exc, IgnoreRequest):
        return _IGNORED.get(str(exc), "ignored")
    name = type(exc).__name__
    return _REASONS.get(name) or re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def count_failure(stats: StatsCollector, logger: logging.Logger | logging.LoggerAdapter, reason: str,
                  url: str, detail: str = "") -> None:
    """Count a page that could not be got (``newsspider/failed/<reason>``) and log its URL."""
    stats.inc_value(keys.FAILED)
    stats.inc_value(keys.failed(reason))
    logger.warning("failed (%s): %s%s", reason, url, detail)


def count_left_out(stats: StatsCollector, problems: Problems, url: str) -> None:
    """Count the values left out of the page at *url* (``newsspider/skipped/<kind>``): one log line
    a page, on the ``newsspider.extraction`` logger."""
    for kind, count in problems.counts.items():
        stats.inc_value(keys.skipped(kind), count)
    if problems:
        details = ", ".join(f"{count} {kind}" for kind, count in sorted(problems.counts.items()))
        extraction_log.info("left out of %s: %s", url, details)


def stop_crawl(crawler: Crawler, reason: str, message: str) -> None:
    """Stop the crawl because of an error it cannot go on after (a failed write, Redis gone).

    Requests in flight finish; nothing new is requested.  The first *message*
    is kept in the stats (:data:`newsspider.crawl.stats.FATAL`) for the command line to print, and the
    crawl closes with *reason*.
    """
    if crawler.stats.get_value(keys.FATAL):
        return
    crawler.stats.set_value(keys.FATAL, message)
    logger.error("stopping the crawl: %s", message)
    crawler.signals.send_catch_log(crawl_stopping, reason=reason, message=message)
    if crawler.crawling and crawler.engine.spider is not None:
        deferred_from_coro(crawler.engine.close_spider_async(reason=reason))


class PageErrors:
    """Spider middleware: a page whose callback raises is one failed page, never a stuck crawl.

    The error is counted as ``parse_error`` (stats, summary, run record) with
    a one-line ``failed (parse_error): URL: error`` (the traceback at DEBUG);
    what the callback yielded before the error is kept, and the crawl goes on.
    A :class:`~newsspider.dataset.storage.StorageError` (the state cannot be read or
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


def nothing_fetched(start_failures: dict[str, str], failures: dict[str, int], *, direct: bool = True) -> str:
    """The one line of a crawl that got no page at all; when every start URL's name failed to resolve
    and no proxy was used (*direct*), it says to try one (the site is blocked, its name poisoned, where
    many of its readers are).

    >>> nothing_fetched({"http://a/bnews/": "connection_refused"}, {"connection_refused": 1})
    'none of the start URLs could be fetched: http://a/bnews/ (connection_refused)'
    >>> nothing_fetched({}, {"http_403": 4, "timeout": 1})
    'every page failed: 5 pages (http_403 4, timeout 1)'
    >>> nothing_fetched({"http://a/bnews/": "challenge"}, {"challenge": 1})  # doctest: +ELLIPSIS
    'none of the start URLs could be fetched: http://a/bnews/ (challenge); the site ... try --browser'
    >>> nothing_fetched({"http://a/bnews/": "dns"}, {"dns": 1})  # doctest: +ELLIPSIS
    "none of the start URLs could be fetched: http://a/bnews/ (dns); the site's name does not ... --proxy"
    >>> nothing_fetched({"http://a/bnews/": "dns"}, {"dns": 1}, direct=False)
    'none of the start URLs could be fetched: http://a/bnews/ (dns)'
    """
    hint = "; the site answers with a bot challenge: try --browser" if "challenge" in failures else ""
    if direct and start_failures and set(start_failures.values()) == {"dns"}:
        hint = "; the site's name does not resolve here: if it is blocked where you are, try --proxy"
    if start_failures:
        shown = [f"{url} ({reason})" for url, reason in list(start_failures.items())[:3]]
        more = f" and {len(start_failures) - 3} more" if len(start_failures) > 3 else ""
        return f"none of the start URLs could be fetched: {', '.join(shown)}{more}{hint}"
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(failures.items()))
    return f"every page failed: {sum(failures.values())} pages ({reasons}){hint}"


class NothingFetched:
    """Extension: a crawl that got no page is not ``finished``.

    When the crawl runs out of requests without a single page answered
    (2xx; robots.txt does not count), although some were asked for and failed
    or were forbidden, it closes as ``unreachable`` with one line
    (:func:`nothing_fetched`) kept as the crawl's fatal error: the run is
    recorded ``failed``, the command exits 1, the monitors' ``runs/finished``
    check sends the notifications.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.pages = 0
        self.start_failures: dict[str, str] = {}
        self.failures: dict[str, int] = {}
        self.direct = True

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NothingFetched:
        extension = cls(crawler)
        crawler.signals.connect(extension.response_received, signal=signals.response_received)
        crawler.signals.connect(extension.request_failed, signal=request_failed)
        crawler.signals.connect(extension.spider_idle, signal=signals.spider_idle)
        return extension

    def response_received(self, response: Response, request: Request) -> None:
        if 200 <= response.status < 300 and request.callback is not NO_CALLBACK:
            self.pages += 1

    def request_failed(self, request: Request, failure: Any) -> None:
        reason = failure_reason(failure.value)
        self.failures[reason] = self.failures.get(reason, 0) + 1
        if request.meta.get(START):
            self.start_failures.setdefault(request.url, reason)
            self.direct = self.direct and not request.meta.get("proxy")

    def spider_idle(self) -> None:
        if self.pages or not self.failures or self.crawler.stats.get_value(keys.FATAL):
            return
        message = nothing_fetched(self.start_failures, self.failures, direct=self.direct)
        self.crawler.stats.set_value(keys.FATAL, message)
        logger.error("stopping the crawl: %s", message)
        raise CloseSpider("unreachable")
