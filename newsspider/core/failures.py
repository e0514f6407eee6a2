"""Why a page could not be got: one short, stable reason per failure, counted in the stats; and the
stop of a crawl that cannot go on."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import deferred_from_coro

from newsspider.core import stats as keys
from newsspider.core.errors import NewsspiderError
from newsspider.core.signals import crawl_stopping

__all__ = ["count_failure", "count_left_out", "failure_reason", "stop_crawl"]

logger = logging.getLogger("newsspider.crawl.failures")
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
    "CancelledError": "cancelled",
}
# Scrapy's own messages (not an API; tests/test_scrapy_contract.py checks them).
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
    >>> from newsspider.access.challenges import Challenged
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
    if isinstance(exc, NewsspiderError) and exc.failure:  # a challenge (not a refusal), a stopped download
        return exc.failure
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


def count_left_out(stats: StatsCollector, counts: Mapping[str, int], url: str) -> None:
    """Count the values left out of the page at *url* (``newsspider/skipped/<kind>``, *counts* by
    kind, an extraction's ``Problems.counts``): one log line a page, on the ``newsspider.extraction``
    logger."""
    for kind, count in counts.items():
        stats.inc_value(keys.skipped(kind), count)
    if counts:
        details = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))
        extraction_log.info("left out of %s: %s", url, details)


def stop_crawl(crawler: Crawler, reason: str, message: str) -> None:
    """Stop the crawl because of an error it cannot go on after (a failed write, Redis gone).

    Requests in flight finish; nothing new is requested.  The first *message*
    is kept in the stats (:data:`newsspider.core.stats.FATAL`) for the command line to print, and the
    crawl closes with *reason*.
    """
    if crawler.stats.get_value(keys.FATAL):
        return
    crawler.stats.set_value(keys.FATAL, message)
    logger.error("stopping the crawl: %s", message)
    crawler.signals.send_catch_log(crawl_stopping, reason=reason, message=message)
    if crawler.crawling and crawler.engine.spider is not None:
        deferred_from_coro(crawler.engine.close_spider_async(reason=reason))


