"""A page whose callback raises is one failed page; a crawl that got no page at all is not finished."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK

from newsspider.core import meta
from newsspider.core import stats as keys
from newsspider.core.failures import count_failure, failure_reason, stop_crawl
from newsspider.core.signals import request_failed
from newsspider.dataset.storage import StorageError

__all__ = ["NothingFetched", "PageErrors", "nothing_fetched"]

logger = logging.getLogger(__name__)


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
        if request.meta.get(meta.START):
            self.start_failures.setdefault(request.url, reason)
            self.direct = self.direct and not request.meta.get(meta.PROXY)

    def spider_idle(self) -> None:
        if self.pages or not self.failures or self.crawler.stats.get_value(keys.FATAL):
            return
        message = nothing_fetched(self.start_failures, self.failures, direct=self.direct)
        self.crawler.stats.set_value(keys.FATAL, message)
        logger.error("stopping the crawl: %s", message)
        raise CloseSpider("unreachable")
