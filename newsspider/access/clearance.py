"""Bot challenges: recognised before any parsing, never stored, and passed with a browser on request.

A CDN in front of the site may answer a crawler with a *challenge* instead of
the page: Cloudflare's managed challenge is a 403 (or 503) with
``cf-mitigated: challenge`` and a "Just a moment..." page whose script, run by
a browser, earns a ``cf_clearance`` cookie bound to that browser's
User-Agent.  :func:`challenge_of` tells such a response apart from a plain
refusal (Cloudflare's, and the other common CDNs' by their pages).

:class:`Challenges` is a downloader middleware next to the network: a
challenge is never archived, parsed or stored.  Without ``--browser`` the
request fails as ``challenge`` (stats ``newsspider/failed/challenge``, the
summary line, the run record; the monitor check ``fetching/challenges``).
With ``--browser`` (``NEWSSPIDER_BROWSER``), one headless Chromium session
(:class:`~newsspider.access.browser.ClearanceBrowser`) opens the challenged page
through the request's proxy, lets its script run, and hands its cookies and
User-Agent back; the request is made again with them, and so is every later
request to that host through that proxy (a clearance is bound to the client's
address and User-Agent), until the site challenges again: then the clearance
is renewed the same way.  Requests challenged while a clearance is being
obtained wait for it; one browser session at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from newsspider.access.browser import ClearanceBrowser
from newsspider.access.challenges import MAX_TRIES, Challenged, Clearance, challenge_of, with_cookies
from newsspider.core import meta
from newsspider.core import stats as keys
from newsspider.core.credentials import redact
from newsspider.core.engine import hold_slot

__all__ = ["Challenged", "Challenges", "Clearance", "challenge_of", "with_cookies"]

logger = logging.getLogger(__name__)

#: request meta keys: the clearance a request was sent with, and how often it was challenged
CLEARANCE = meta.CLEARANCE
TRIES = meta.CHALLENGED


class Challenges:
    """Downloader middleware: challenges recognised, counted, and passed with a browser (``--browser``)."""

    #: seconds after the browser failed for a host during which its challenges fail at once
    GIVE_UP = 300.0

    def __init__(self, crawler: Crawler, browser: ClearanceBrowser | None) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.browser = browser
        #: (host, proxy) -> the clearance in use
        self.clearances: dict[tuple[str, str], Clearance] = {}
        #: (host, proxy) -> when the browser last failed there
        self.failed_at: dict[tuple[str, str], float] = {}
        self.lock = asyncio.Lock()  # one browser session at a time
        self.obtained = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Challenges:
        browser = None
        if crawler.settings.getbool("NEWSSPIDER_BROWSER"):
            browser = ClearanceBrowser.from_settings(crawler.settings)
        middleware = cls(crawler, browser)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    async def spider_closed(self) -> None:
        if self.browser is not None:
            await self.browser.close()

    @staticmethod
    def _key(request: Request) -> tuple[str, str]:
        return urlparse_cached(request).netloc, str(request.meta.get("proxy") or "")

    def process_request(self, request: Request) -> None:
        clearance = self.clearances.get(self._key(request))
        if clearance is None:
            return
        cookie = request.headers.get("Cookie")
        request.headers["Cookie"] = with_cookies(cookie.decode("latin-1") if cookie else None,
                                                 clearance.cookies)
        request.headers["User-Agent"] = clearance.user_agent
        request.meta[CLEARANCE] = clearance.number

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status not in (403, 429, 503) and b"cf-mitigated" not in response.headers:
            meta.refilter_redirect(request, response)  # a retry's redirect: filtered as usual
            return response  # the common case, decided without a look at the headers' values
        headers = {name.decode("latin-1").lower(): (response.headers.get(name) or b"").decode("latin-1")
                   for name in response.headers}
        vendor = challenge_of(response.status, headers, response.body)
        if vendor is None:
            return response
        self.stats.inc_value(keys.CHALLENGES)
        self.stats.inc_value(keys.challenges_of(vendor))
        if self.browser is None:
            raise Challenged(f"a bot challenge ({vendor})")
        tries = int(request.meta.get(TRIES, 0)) + 1
        if tries > MAX_TRIES:
            raise Challenged(f"still challenged after {MAX_TRIES} clearances ({vendor})")
        clearance = await self._clearance_for(request, response.url)
        if clearance is None:
            raise Challenged(f"a bot challenge the browser did not pass ({vendor})")
        retry = meta.retry_past_filter(request)  # its URL is in the duplicate filter already
        retry.meta[TRIES] = tries
        retry.meta.pop(CLEARANCE, None)
        self.stats.inc_value(keys.CHALLENGES_RETRIED)
        return retry

    async def _clearance_for(self, request: Request, url: str) -> Clearance | None:
        """A clearance newer than the one *request* was sent with: another request's, if one was
        obtained meanwhile, else the browser's (None when it does not pass)."""
        assert self.browser is not None
        key = self._key(request)
        sent_with = request.meta.get(CLEARANCE)
        async with self.lock:
            current = self.clearances.get(key)
            if current is not None and current.number != sent_with:
                return current  # renewed while this request was out
            if time.monotonic() - self.failed_at.get(key, -self.GIVE_UP) < self.GIVE_UP:
                return None
            proxy = key[1] or None
            started = time.monotonic()
            try:
                cookies, user_agent = await self.browser.clear(url, proxy)
            except Exception as exc:  # the browser's own failure: the page fails, the crawl goes on
                self.failed_at[key] = time.monotonic()
                self.stats.inc_value(keys.BROWSER_FAILURES)
                logger.warning("browser: no clearance for %s%s: %s", key[0],
                               f" through {redact(proxy)}" if proxy else "", str(exc).splitlines()[0])
                return None
            finally:  # the browser's visit counts as a request of the host's download slot
                hold_slot(self.crawler, request)
            self.obtained += 1
            self.stats.inc_value(keys.CLEARANCES)
            clearance = Clearance(self.obtained, cookies, user_agent)
            self.clearances[key] = clearance
            logger.info("browser: %s clearance %d for %s in %.1f s%s", "renewed" if current else "obtained",
                        clearance.number, key[0], time.monotonic() - started,
                        f" (through {redact(proxy)})" if proxy else "")
            return clearance
