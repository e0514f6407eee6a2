"""What is new, from the site's feeds (``NEWSSPIDER_FEEDS``, on by default): a recurring crawl's first step.

A WordPress site's feed lists its newest posts, newest first (WordPress lists 10).  When a recurring
crawl (a run that walked the whole site came before it; not ``--refresh``; no window of time) starts,
it reads the feeds of all the site's posts that the start pages of earlier runs named in
``<link rel="alternate">`` (:data:`~newsspider.extract.site.FEED_LINKS`, remembered by the memory), or
else the first of the usual places (:data:`~newsspider.extract.site.FEED_PATHS`) that is a feed.
Each is downloaded through the crawl's downloader middlewares (robots.txt decides it as every request;
proxies and politeness apply) and read with feedparser (:func:`newsspider.extract.feeds.items`).

Each article a feed lists and the memory has not stored is requested through the spider's own request
path.  A feed that also lists an article stored by a run that walked the whole site *reaches back*:
every article published since is in it, so the crawl needs no listing to find them
(:attr:`FeedReader.reaches_back`).  The spider then checks the feed against the start pages (one
request each: a feed a cache kept stale would hide what is new) and, when they list nothing the feed
did not give or the memory did not store, walks no other listing.  A feed that does not reach back
(more was published since the last run than it lists) only seeds the crawl, which walks the listings
as it would without it.

A feed that cannot be read (not a feed, too large, an HTTP error, on another host) is one warning and a
count (``newsspider/feeds/problems/<what>``), never a failed page: the crawl walks the listings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import scrapy

from newsspider.core import stats as keys
from newsspider.core.failures import failure_reason
from newsspider.core.seen import SeenKeys, id_key
from newsspider.extract import site
from newsspider.extract.feeds import FeedError, items

if TYPE_CHECKING:
    from newsspider.spiders.bannedbook import BannedbookSpider

__all__ = ["MAX_FEED_SIZE", "FeedReader"]

#: the bytes a feed may have (a WordPress feed of 10 posts with their text is some 100 kB)
MAX_FEED_SIZE = 10 * 1024 * 1024
#: before articles and listings: the crawl waits for it anyway
PRIORITY_FEED = 100


class FeedReader:
    """The feeds of one recurring crawl: what they listed (:attr:`listed`), and whether they reach back
    to what earlier runs stored (:attr:`reaches_back`)."""

    def __init__(self, spider: BannedbookSpider) -> None:
        self.spider = spider
        self.stats = spider.crawler.stats
        self.max_size = min(spider.crawler.settings.getint("DOWNLOAD_MAXSIZE") or MAX_FEED_SIZE,
                            MAX_FEED_SIZE)
        #: ids of the articles the feeds listed
        self.listed = SeenKeys()
        #: a feed listed an article stored by a run that walked the whole site (and so all those since)
        self.reaches_back = False
        #: the feeds that were read
        self.read: list[str] = []
        #: the pages of a feed that are read at most, until one reaches back
        self.max_pages = spider.crawler.settings.getint("NEWSSPIDER_FEED_PAGES")
        self.stopped = False

    async def requests(self) -> AsyncIterator[scrapy.Request]:
        """The requests for the new articles the site's feeds list."""
        spider = self.spider
        roots = list(dict.fromkeys(f"{p.scheme}://{p.netloc}" for p in map(urlsplit, spider.start_urls)))
        known = [url for url in spider.memory.feeds() if urlsplit(url).netloc in spider.allowed_hosts]
        for url in known or [root + path for root in roots for path in site.FEED_PATHS]:
            if self.stopped or (self.read and not known):
                break  # the first usual place that is a feed: the others give the same
            async for request in self._read_feed(url, quiet=not known):
                yield request
        if self.read:
            spider.logger.info("feeds: %s read (%d pages), %d article URLs listed; %s", ", ".join(self.read),
                               self.stats.get_value(keys.FEEDS, 0), self.stats.get_value(keys.FEED_URLS, 0),
                               "they reach back to what earlier runs stored" if self.reaches_back else
                               "they do not reach back to what earlier runs stored: the listings are walked")

    async def _read_feed(self, url: str, quiet: bool) -> AsyncIterator[scrapy.Request]:
        """The new articles of the feed *url*, page after page (WordPress's ``?paged=N``) until a page
        reaches back, lists nothing new to the feed, is not there or is page ``NEWSSPIDER_FEED_PAGES``."""
        for page in range(1, max(1, self.max_pages) + 1):
            page_url = site.feed_page_url(url, page)
            body = await self._fetch(page_url, quiet=quiet or page > 1)
            if body is None:
                return
            try:
                listed = items(body, self.max_size)
            except FeedError as exc:
                if not quiet or exc.what != "not_feed":
                    self._problem(exc.what, page_url, str(exc))
                else:  # a usual place that is a page, not a feed
                    self.stats.inc_value(keys.feed_problem(exc.what))
                return
            if page == 1:
                self.read.append(url)
            self.stats.inc_value(keys.FEEDS)
            before = self.stats.get_value(keys.FEED_URLS, 0)
            for item in listed:
                if (request := self._article(urljoin(page_url, item.url))) is not None:
                    yield request
            if self.reaches_back or self.stats.get_value(keys.FEED_URLS, 0) == before:
                return  # what is new ends on this page; or the site pages no feed (the same page again)

    def _article(self, url: str) -> scrapy.Request | None:
        """The request for an article a feed lists (None: not an article of the crawl, stored, listed)."""
        spider = self.spider
        if urlsplit(url).netloc not in spider.allowed_hosts:
            self.stats.inc_value(keys.feed_problem("other_host"))
            return None
        url = site.article_url(url)
        article_id = (site.article_parts(url) or ("",))[0] or site.shortlink_id(url) or ""
        if not article_id or (key := id_key(article_id)) in self.listed:
            return None
        self.listed.add(key)
        self.stats.inc_value(keys.FEED_URLS)
        run = spider._stored_run(article_id)
        if spider._old(run):
            self.reaches_back = True
        if run is not None:
            return None
        spider.listed_new.add(article_id)  # listed and not stored: a run that stores none of them failed
        request = spider._request_for(url)
        if request is not None:
            spider._seen_urls.add(url)
            self.stats.inc_value(keys.source("feeds"))
        return request

    async def _fetch(self, url: str, quiet: bool) -> bytes | None:
        """*url*'s body; None (counted, and a warning unless *quiet* and a 404) when it cannot be got."""
        if urlsplit(url).netloc not in self.spider.allowed_hosts:
            self._problem("other_host", url, "on a host the crawl does not crawl: not read")
            return None
        request = scrapy.Request(url, dont_filter=True, priority=PRIORITY_FEED)
        try:
            response = await self.spider.crawler.engine.download_async(request)  # type: ignore[union-attr]
        except Exception as exc:  # any download failure: the crawl goes on without this feed
            reason = failure_reason(exc)
            if reason == "cancelled" or not self.spider.crawler.crawling:  # the crawl is stopping
                self.stopped = True
                return None
            self._problem(reason, url, str(exc) or type(exc).__name__)
            return None
        if response.status != 200:
            if quiet and response.status in (404, 410):  # a usual place where this site has none
                self.stats.inc_value(keys.feed_problem(f"http_{response.status}"))
            else:
                self._problem(f"http_{response.status}", url, f"HTTP {response.status}")
            return None
        return response.body

    def _problem(self, what: str, url: str, detail: str) -> None:
        self.stats.inc_value(keys.feed_problem(what))
        self.spider.logger.warning("feed %s: %s (the crawl walks the listings)", url, detail)
