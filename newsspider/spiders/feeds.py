"""What is new, from the site's feeds (``NEWSSPIDER_FEEDS``, on by default): a recurring crawl's first step.

A WordPress site's feed lists its newest posts, newest first (WordPress lists 10 a page, ``?paged=N``
for the next).  When a recurring crawl (a run that walked the whole site came before it; not
``--refresh``; no window of time; not resumed; ``NEWSSPIDER_EXTRA_OLD_PAGES`` 0) starts, it reads the
feeds of all the site's posts that the start pages of earlier runs named in ``<link rel="alternate">``
(:data:`~newsspider.extract.site.FEED_LINKS`, remembered by the memory), else the first of the usual
places (:data:`~newsspider.extract.site.FEED_PATHS`) that is a feed.  Each page is downloaded through
the crawl's downloader middlewares (robots.txt decides it as every request; proxies and politeness
apply) and read with feedparser (:func:`newsspider.extract.feeds.items`).

Each article a feed lists and the memory has not stored is requested through the spider's own request
path.  An article stored by a run that walked the whole site is *old*.  A feed is read page after page
until a page lists only old articles, as a listing's pagination stops there: the feed then *reaches
back* — every article published since the last run is on the pages read before it (an old post
re-dated to the top of the feed, or an article an earlier run failed to fetch below an old one, does not
end the reading).  When every feed read reaches back (:attr:`FeedReader.reaches_back`), the spider
checks the feed against the start pages (a feed a cache kept stale would hide what is new) and, when
they list nothing the feed did not give or the memory did not store, walks no other listing.  A feed
that does not reach back (more was published since the last run than ``NEWSSPIDER_FEED_PAGES`` pages
hold) only seeds the crawl, which walks the listings as it would without it.

A feed that cannot be read (not a feed, not well-formed, over :data:`MAX_FEED_SIZE`, an HTTP error, on
another host) is one warning and a count (``newsspider/feeds/problems/<what>``), never a failed page:
the crawl walks the listings.  An item whose link is no URL of the crawl's hosts is counted
(``bad_url``, ``other_host``) and left out.
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

#: the bytes a feed page may have (a WordPress feed of 10 posts with their text is some 100 kB; feedparser
#: reads it in the crawl's thread)
MAX_FEED_SIZE = 2 * 1024 * 1024


class FeedReader:
    """The feeds of one recurring crawl: what they listed (:attr:`listed`), and whether they reach back
    to what earlier runs stored (:attr:`reaches_back`)."""

    def __init__(self, spider: BannedbookSpider) -> None:
        self.spider = spider
        self.stats = spider.crawler.stats
        self.max_size = min(spider.crawler.settings.getint("DOWNLOAD_MAXSIZE") or MAX_FEED_SIZE,
                            MAX_FEED_SIZE)
        #: the pages of a feed that are read at most, until one reaches back
        self.max_pages = spider.crawler.settings.getint("NEWSSPIDER_FEED_PAGES")
        #: ids of the articles the feeds listed
        self.listed = SeenKeys()
        #: the feeds that were read
        self.read: list[str] = []
        #: of those, the feeds that reached back to what earlier runs stored
        self.reached: list[str] = []
        self.stopped = False

    @property
    def reaches_back(self) -> bool:
        """Every feed read reached back: together they list every article published since the last run."""
        return bool(self.read) and len(self.reached) == len(self.read)

    async def requests(self) -> AsyncIterator[scrapy.Request]:
        """The requests for the new articles the site's feeds list."""
        spider = self.spider
        roots = list(dict.fromkeys(f"{p.scheme}://{p.netloc}" for p in map(urlsplit, spider.start_urls)))
        known = [url for url in spider.memory.feeds() if urlsplit(url).netloc in spider.allowed_hosts]
        for url in known:
            async for request in self._read_feed(url, quiet=False):
                yield request
        if not self.read:  # none named, or none of those could be read: the usual places
            for url in (root + path for root in roots for path in site.FEED_PATHS):
                if url in known:
                    continue  # tried already
                if self.stopped or self.read:
                    break  # the first usual place that is a feed: the others give the same
                async for request in self._read_feed(url, quiet=True):
                    yield request
        if self.read:
            spider.logger.info("feeds: %s read (%d pages), %d article URLs listed; %s", ", ".join(self.read),
                               self.stats.get_value(keys.FEEDS, 0), self.stats.get_value(keys.FEED_URLS, 0),
                               "they reach back to what earlier runs stored" if self.reaches_back else
                               "they do not reach back to what earlier runs stored: the listings are walked")

    async def _read_feed(self, url: str, quiet: bool) -> AsyncIterator[scrapy.Request]:
        """The new articles of the feed *url*, page after page (WordPress's ``?paged=N``) until a page
        lists only old articles (see the module), lists nothing new to the feed, is not there, or is page
        ``NEWSSPIDER_FEED_PAGES``."""
        for page in range(1, max(1, self.max_pages) + 1):
            if self.stopped:
                return
            page_url = site.feed_page_url(url, page)
            fetched = await self._fetch(page_url, quiet=quiet or page > 1)
            if fetched is None:
                return
            final_url, body = fetched
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
            ages: list[bool] = []  # per article listed for the first time: old?
            for item in listed:
                found = self._article(final_url, item.url)
                if found is None:
                    continue
                old, request = found
                ages.append(old)
                if request is not None:
                    yield request
            if not ages:  # nothing new to the feed: the site pages no feed (the same page again), or the end
                return
            if all(ages):  # a page of old articles only: what is new ends above it, as in a listing
                self.reached.append(url)
                return

    def _article(self, base: str, href: str) -> tuple[bool, scrapy.Request | None] | None:
        """An article a feed lists, at *href* (relative to the feed page *base*): whether it is old, and
        its request when it is new and not requested already; None when it is no article of the crawl
        or was listed before (counted when it is not a URL of the crawl's hosts)."""
        spider = self.spider
        try:
            url = urljoin(base, href.strip())
            parts = urlsplit(url)
        except ValueError:
            self.stats.inc_value(keys.feed_problem("bad_url"))
            return None
        if parts.scheme not in ("http", "https"):
            self.stats.inc_value(keys.feed_problem("bad_url"))
            return None
        if parts.netloc not in spider.allowed_hosts:
            self.stats.inc_value(keys.feed_problem("other_host"))
            return None
        url = site.article_url(url)
        article_id = (site.article_parts(url) or ("",))[0] or site.shortlink_id(url) or ""
        if not article_id or (key := id_key(article_id)) in self.listed:
            return None
        self.listed.add(key)
        self.stats.inc_value(keys.FEED_URLS)
        run = spider._stored_run(article_id)
        if run is not None:
            return spider._old(run), None
        spider.listed_new.add(article_id)  # listed and not stored: a run that stores none of them failed
        request = spider._request_for(url)
        if request is not None:
            spider._seen_urls.add(url)
            self.stats.inc_value(keys.source("feeds"))
        return False, request

    async def _fetch(self, url: str, quiet: bool) -> tuple[str, bytes] | None:
        """*url*'s final URL (after redirects) and body; None (counted, and a warning unless *quiet* and
        a 404) when it cannot be got."""
        if urlsplit(url).netloc not in self.spider.allowed_hosts:
            self._problem("other_host", url, "on a host the crawl does not crawl: not read")
            return None
        request = scrapy.Request(url, dont_filter=True)
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
        return response.url, response.body

    def _problem(self, what: str, url: str, detail: str) -> None:
        self.stats.inc_value(keys.feed_problem(what))
        self.spider.logger.warning("feed %s: %s (the crawl walks the listings)", url, detail)
