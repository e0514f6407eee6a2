"""Downloader middlewares: honour ``Retry-After``; decode pages whose HTTP charset is wrong;
meta refresh that survives a page's bad ``<base>``; robots.txt obeyed by every request; no redirect
followed to an article outside ``--since/--until``."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response, TextResponse
from scrapy.robotstxt import RobotParser
from scrapy.statscollectors import StatsCollector
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding

from newsspider.core import stats as keys
from newsspider.core.engine import download_slot, hold_slot
from newsspider.core.errors import NewsspiderError
from newsspider.core.window import Window
from newsspider.extract import site

__all__ = ["CharsetFix", "MetaRefresh", "OutsideWindow", "RetryAfter", "RobotsTxt", "WindowRedirects",
           "choose_encoding", "retry_after_seconds"]

logger = logging.getLogger(__name__)

# Charsets a server sends by default that decode any bytes, so they cannot be caught by decoding.
_ANY_BYTES = {"cp1252", "latin_1", "iso8859-1", "ascii"}


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def choose_encoding(body: bytes, header: str | None) -> str | None:
    """The encoding to decode *body* with when the HTTP header's *header* is wrong, else ``None``.

    A header is wrong when the body does not decode with it, or when it names a
    catch-all Western charset but the body is valid UTF-8 beyond ASCII.  Then
    the charset the page declares (``<meta>``) wins if the body decodes with
    it, else UTF-8 if it decodes.  A body that starts with a byte order mark is
    in the encoding the mark says, whatever the header and the ``<meta>`` say (Scrapy decodes it so).

    >>> page = '<meta charset="gbk"><p>中国</p>'.encode("gbk")
    >>> choose_encoding(page, "utf-8")
    'gb18030'
    >>> choose_encoding("<p>中国</p>".encode(), "iso-8859-1")
    'utf-8'
    >>> choose_encoding("<p>中国</p>".encode(), "utf-8") is None
    True
    >>> utf8_with_bom = b"\\xef\\xbb\\xbf" + '<meta charset="windows-1252"><p>中国</p>'.encode()
    >>> choose_encoding(utf8_with_bom, "gbk") is None
    True
    """
    if not header or read_bom(body)[0]:
        return None
    header = resolve_encoding(header) or header
    wrong = not _decodes(body, header) or (
        header in _ANY_BYTES and not body.isascii() and _decodes(body, "utf-8")
    )
    if not wrong:
        return None
    declared = html_body_declared_encoding(body)
    declared = resolve_encoding(declared) if declared else None
    if declared and declared != header and _decodes(body, declared):
        return declared
    return "utf-8" if header != "utf-8" and _decodes(body, "utf-8") else None


class CharsetFix:
    """Re-decode text responses whose ``Content-Type`` charset does not fit their bytes."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CharsetFix:
        return cls(crawler.stats)

    def process_response(self, request: Request, response: Response) -> Response:
        if not isinstance(response, TextResponse):
            return response
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        header = http_content_type_encoding(content_type)
        encoding = choose_encoding(response.body, header)
        if encoding is None:
            return response
        self.stats.inc_value(keys.CHARSET_FIXED)
        logger.info("decoding %s as %s: its HTTP header says %s", response.url, encoding, header)
        return response.replace(encoding=encoding)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (a number of seconds or an HTTP date).

    >>> retry_after_seconds("120")
    120.0
    >>> retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT",
    ...                     now=datetime(2015, 10, 21, 7, 28, 0, tzinfo=timezone.utc))
    30.0
    >>> retry_after_seconds("soon") is None
    True
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class RetryAfter:
    """Honour a 429 or 503 response's ``Retry-After`` for the whole site, not one request.

    The download slot of the response's host (every request to that host) is
    paused for as long as the header asks, up to ``NEWSSPIDER_MAX_RETRY_AFTER``;
    Scrapy's RetryMiddleware, just after this one, then queues the retry, which
    waits in that slot like every other request.  After the last retry there is
    nothing to wait for, so no pause.
    """

    #: the delay a slot without one gets while paused (a slot with no delay is never held back)
    MIN_DELAY = 0.001

    def __init__(self, crawler: Crawler, max_wait: float, retry_times: int) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.max_wait = max_wait
        self.retry_times = retry_times

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfter:
        max_wait = crawler.settings.getfloat("NEWSSPIDER_MAX_RETRY_AFTER")
        if max_wait <= 0 or not crawler.settings.getbool("RETRY_ENABLED"):
            raise NotConfigured
        return cls(crawler, max_wait, crawler.settings.getint("RETRY_TIMES"))

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status not in (429, 503):
            return response
        header = response.headers.get("Retry-After")
        wait = retry_after_seconds(header.decode("latin-1") if header else None)
        retries = request.meta.get("retry_times", 0)
        if not wait or retries >= request.meta.get("max_retry_times", self.retry_times):
            return response
        wait = min(wait, self.max_wait)
        self.stats.inc_value(keys.RETRY_AFTER_WAITS)
        logger.info("%s answered %d with Retry-After: pausing requests to its site for %.0f s",
                    request.url, response.status, wait)
        self.pause(request, wait)
        return response

    def pause(self, request: Request, wait: float) -> None:
        """Hold back every request of *request*'s download slot for *wait* seconds from now."""
        slot = download_slot(self.crawler, request)  # core.engine: Scrapy's slots, not an API
        if slot is None:
            return
        if slot.delay < self.MIN_DELAY:
            slot.delay = self.MIN_DELAY
            call_later(wait, self._unpause, slot)
        hold_slot(self.crawler, request, wait)

    def _unpause(self, slot: Any) -> None:
        if slot.delay == self.MIN_DELAY:
            slot.delay = 0.0


class MetaRefresh(MetaRefreshMiddleware):
    """Scrapy's meta-refresh redirects, except that a page whose ``<base href>`` or refresh URL
    cannot be parsed is kept as it is (counted as ``newsspider/skipped/bad_url``) instead of
    failing whole in the downloader."""

    stats: StatsCollector

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MetaRefresh:
        middleware = super().from_crawler(crawler)
        middleware.stats = crawler.stats
        return middleware

    def process_response(self, request: Request, response: Response,  # type: ignore[override]
                         ) -> Request | Response:
        try:
            return super().process_response(request, response)
        except ValueError:
            self.stats.inc_value(keys.skipped("bad_url"))
            return response


class RobotsTxt(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with every request checked against the rules.

    In Scrapy 2.19 the requests that arrive while a host's robots.txt is being
    fetched all await one shared Deferred; the first awaiter consumes its result
    and every later one gets ``None`` ("no robots.txt"), so a disallowed page
    among them was fetched.  Here each of them waits on a Deferred of its own
    and then asks again, when the parsed robots.txt is there.  (The shared Deferred came with
    https://github.com/scrapy/scrapy/pull/6802; tests/test_crawl.py's
    ``test_robots_txt_holds_for_requests_that_wait_for_it`` fails without this.)  Only the public
    ``robot_parser`` coroutine is overridden, so a Scrapy that fixes it loses nothing.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.fetching: dict[str, list[Deferred[None]]] = {}

    async def robot_parser(self, request: Request) -> RobotParser | None:
        netloc = urlparse_cached(request).netloc
        waiters = self.fetching.get(netloc)
        if waiters is not None:  # another request is fetching this host's robots.txt
            done: Deferred[None] = Deferred()
            waiters.append(done)
            await maybe_deferred_to_future(done)
            return await super().robot_parser(request)
        self.fetching[netloc] = []
        try:
            return await super().robot_parser(request)
        finally:
            for done in self.fetching.pop(netloc):
                done.callback(None)


class OutsideWindow(NewsspiderError, IgnoreRequest):
    """A redirect to an article outside the crawl's window: not followed (not a failed page)."""

    failure = "outside_window"


class WindowRedirects:
    """Follow no redirect to an article outside ``--since/--until``.

    A shortlink (``/?p=ID``) tells nothing of its article's day: only its redirect does.  Scrapy's
    RedirectMiddleware queues the redirect's target as a new request, which passes here first
    (before robots.txt); an article outside the window is dropped before it is fetched and counted
    with the articles outside the window (``newsspider/skipped/outside_window``).
    """

    def __init__(self, crawler: Crawler, window: Window) -> None:
        self.stats = crawler.stats
        self.window = window

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WindowRedirects:
        settings = crawler.settings
        window = Window.from_settings(settings.get("NEWSSPIDER_SINCE"), settings.get("NEWSSPIDER_UNTIL"))
        if not window:
            raise NotConfigured
        return cls(crawler, window)

    def process_request(self, request: Request) -> None:
        if not request.meta.get("redirect_urls"):
            return
        parts = site.article_parts(site.article_url(request.url))
        if parts and not self.window.contains(parts[2]):
            self.stats.inc_value(keys.skipped("outside_window"))
            raise OutsideWindow(f"a redirect to an article outside the window: {request.url}")
