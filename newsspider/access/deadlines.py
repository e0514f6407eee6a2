"""A download's deadlines, kept whatever handler carries it: the whole response, a stalled body, a stop.

Scrapy's default handler gives a download ``DOWNLOAD_TIMEOUT`` seconds (the
request's ``download_timeout``) whatever it waits for.  The curl_cffi handler
(proxies, ``--impersonate``) reads the body as a stream, and libcurl then only
gives up on a transfer slower than one byte a second: a body trickling a few
bytes a second through a slow proxy went on for days, and a crawl stopping
waits for its downloads in flight.  :class:`Deadlines` watches every download
of :class:`~newsspider.access.handler.RoutedHandler` (every ``http`` and
``https`` request) and cancels it:

- when it has taken longer than its ``download_timeout``, from the request to
  the body's last byte (a second later than the handler's own timeout, which
  gets the first word: curl's names a proxy that does not answer);
- when its body stalls: nothing received for ``NEWSSPIDER_STALL_TIMEOUT``
  seconds since the headers or the latest bytes;

both failing as Scrapy's ``DownloadTimeoutError`` (the reason ``timeout``,
retried as one); and

- when the crawl is stopping (Ctrl-C, SIGTERM, a fatal error, a bound) and it
  is still in flight ``NEWSSPIDER_STOP_TIMEOUT`` seconds later:
  :class:`DownloadStopped`, whose request :class:`KeepStopped` (a downloader
  middleware) puts back into the frontier, where ``--resume`` finds it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK

from newsspider.core import stats as keys
from newsspider.core.engine import stopping
from newsspider.core.errors import NewsspiderError

__all__ = ["Deadlines", "DownloadStopped", "KeepStopped", "stopping"]

logger = logging.getLogger(__name__)

#: seconds the handler's own whole-download timeout is given before the watch's
SLACK = 1.0
#: longest wait between two looks at a download (whether the crawl is stopping)
TICK = 1.0
#: seconds a cancelled download is given to let go of its connection
CLEANUP = 5.0


class DownloadStopped(NewsspiderError, DownloadCancelledError):
    """A download cancelled because the crawl is stopping (its request is kept: :class:`KeepStopped`)."""

    failure = "cancelled"


@dataclass
class _Watch:
    """What is known of one download in flight."""

    started: float
    #: when its headers or its latest bytes came (None: nothing yet)
    received: float | None = None


class Deadlines:
    """The deadlines of each download (see the module's docstring); built by the download handler."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.stall = settings.getfloat("NEWSSPIDER_STALL_TIMEOUT")
        self.stop_timeout = settings.getfloat("NEWSSPIDER_STOP_TIMEOUT")
        self.watches: dict[Request, _Watch] = {}
        self.stop_seen: float | None = None
        self.stop_told = False
        crawler.signals.connect(self._received, signal=signals.headers_received)
        crawler.signals.connect(self._received, signal=signals.bytes_received)

    def _received(self, request: Request, **_: Any) -> None:
        if (watch := self.watches.get(request)) is not None:
            watch.received = time.monotonic()

    async def download(self, request: Request, download: Coroutine[Any, Any, Response]) -> Response:
        """The response of *download* (a handler's ``download_request(request)``), within its deadlines."""
        task = asyncio.ensure_future(download)
        task.add_done_callback(_retrieve)
        watch = self.watches[request] = _Watch(started=time.monotonic())
        try:
            while not task.done():
                now = time.monotonic()
                error, wait = self._expired(request, watch, now)
                if error is not None:
                    await self._cancel(task, request, error)
                    raise error
                await asyncio.wait({task}, timeout=min(wait, TICK))
            return task.result()
        finally:
            del self.watches[request]
            if not task.done():  # this coroutine was cancelled: so is the download
                task.cancel()

    def _expired(self, request: Request, watch: _Watch, now: float) -> tuple[Exception | None, float]:
        """The error of a download past a deadline, else None and the seconds to the nearest one."""
        deadlines: list[float] = []
        timeout = request.meta.get("download_timeout")
        if timeout:
            if now >= watch.started + timeout + SLACK:
                return DownloadTimeoutError(f"Getting {request.url} took longer than {timeout} seconds."), 0
            deadlines.append(watch.started + timeout + SLACK)
        if self.stall > 0 and watch.received is not None:
            if now >= watch.received + self.stall:
                self.crawler.stats.inc_value(keys.STALLED)
                return DownloadTimeoutError(f"Getting {request.url}: nothing received for {self.stall:g} "
                                            "seconds (NEWSSPIDER_STALL_TIMEOUT)."), 0
            deadlines.append(watch.received + self.stall)
        if stopping(self.crawler):
            if self.stop_seen is None:
                self.stop_seen = now
            elif not self.stop_told and now >= self.stop_seen + TICK:  # a download that goes on: say so
                self.stop_told = True
                count = len(self.watches)
                logger.info("stopping: %d download%s still in flight, cancelled if not done in %.0f s", count,
                            "" if count == 1 else "s", max(0.0, self.stop_seen + self.stop_timeout - now))
            if now >= self.stop_seen + self.stop_timeout:
                return DownloadStopped(f"Getting {request.url}: cancelled, the crawl is stopping."), 0
            deadlines.append(self.stop_seen + self.stop_timeout)
        return None, max(0.0, min(deadlines, default=now + TICK) - now)

    @staticmethod
    async def _cancel(task: asyncio.Future[Response], request: Request, error: Exception) -> None:
        """Cancel the download, and give it a moment to let go of its connection."""
        logger.debug("cancelling %s: %s", request.url, error)
        task.cancel()
        await asyncio.wait({task}, timeout=CLEANUP)


def _retrieve(task: asyncio.Future[Response]) -> None:
    """Take a finished download's exception, so that asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


class KeepStopped:
    """Downloader middleware: a request whose download a stopping crawl cancelled
    (:class:`DownloadStopped`) goes back into the frontier, not counted as a failed page: the
    frontier of ``--resume`` keeps it, a distributed crawl's goes on with it.  (A robots.txt
    request, which the frontier does not hold, fails as ``cancelled``.)"""

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> KeepStopped:
        return cls(crawler)

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if not isinstance(exception, DownloadStopped) or request.callback is NO_CALLBACK:
            return None
        self.stats.inc_value(keys.KEPT_AT_STOP)
        logger.info("download cancelled, the crawl is stopping: %s (kept in the frontier)", request.url)
        return request.replace(dont_filter=True)  # past the duplicate filter, which has its URL
