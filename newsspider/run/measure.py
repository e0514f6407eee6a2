"""Measure the start listings without crawling them: ``newsspider estimate``.

For each start listing the spider reads page 1, then finds its last page (from
the pagination when it shows it, else page numbers doubling until one is past
the end, then halving the gap) and, with ``--since`` / ``--until``, the pages
where the window starts and ends the same way.  The front page's listing is
measured too when a start listing links to it (a crawl reaches it).  Then it
reads a few of the window's articles and the first page of their tag and
category listings, noting every listing the pages read link to
(:class:`~newsspider.run.estimate.Sample`).  Pages are fetched through the
crawl's downloader (politeness, robots.txt, proxies, challenges) with the
engine's public ``download_async``; the sizes go to the stats under
``newsspider/estimate`` (:class:`~newsspider.run.estimate.ListingSize`) and
``newsspider/estimate_sample``.  When the site has sitemaps, they are read first and the articles
they list in the window counted (``newsspider/estimate_sitemaps``): an exact number.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse

from newsspider.core import stats as keys
from newsspider.core.meta import START
from newsspider.extract import site
from newsspider.extract.loaders import absolute_urls, is_html, page_base, page_selector, parse_listing, select
from newsspider.run.estimate import SAMPLE_ARTICLES, SAMPLE_TAGS, Listing, ListingSize, Sample
from newsspider.spiders.bannedbook import BannedbookSpider
from newsspider.spiders.sitemaps import SitemapDiscovery

__all__ = ["EstimateSpider"]


#: a page as the search sees it: the days of its articles, or None past the listing's end
Days = list[str] | None


class EstimateSpider(BannedbookSpider):
    """Reads a few pages of each start listing, a few articles and their listings; stores nothing."""

    name = "bannedbook-estimate"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fetched: dict[str, int] = {}
        #: listing (base URL) -> its kind, for every listing linked from the pages read
        self._linked: dict[str, site.Kind] = {}
        #: the articles the listing pages read list, in the order met
        self._listed: dict[str, str] = {}
        self._main = ""
        #: the days the front page's listing (else the main one) spans, newest to oldest
        self._site_days = 0

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if self.sitemaps:  # an exact count, when the site has sitemaps
            discovery = SitemapDiscovery(self, count_only=True)
            async for _ in discovery.requests():
                pass
            if discovery.usable:
                self.crawler.stats.set_value(keys.ESTIMATE_SITEMAPS, {
                    "articles": discovery.in_window, "files": self.crawler.stats.get_value(keys.SITEMAPS, 0)})
        front = [url for url in self.start_urls if site.is_front_listing(url)]
        self._main = front[0] if front else self.start_urls[0] if self.start_urls else ""
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.measure, errback=self.failed, dont_filter=True,
                                 meta={START: True}, cb_kwargs={"main": url == self._main})

    def parse(self, response: Response, old_pages: int = 0, stale_pages: int = 0,
              recent: tuple[str, ...] = ()) -> Iterator[Any]:
        return iter(())

    async def measure(self, response: Response, main: bool = False) -> list[Any]:
        """Page 1 of a start listing: find its last page and the window's pages; after the *main*
        listing (the front page's, else the first), the front page's listing and the sample."""
        await self._measure(response)
        if not main:
            return []
        if not site.is_front_listing(self._main):
            # a crawl reaches every category from a listing's menu, so every article: the front page's
            # listing counts them (its own pages are crawled only when a page links to it)
            front = await self._download(site.front_listing_url(self._main))
            if front is not None:
                await self._measure(front, crawled=front.url in self._linked)
        await self._sample()
        return []

    async def _measure(self, response: Response, crawled: bool = True) -> None:
        url = response.url
        self._fetched[url] = 1
        days = self._read(response)
        if not days:
            return
        assert isinstance(response, TextResponse)
        listing = parse_listing(response)
        if listing.last_page is not None:
            last = listing.last_page
        elif listing.next_url is None:
            last = 1
        else:
            last = await self._first(url, lambda d: d is None, 1) - 1
        last_days = days if last == 1 else await self._page(url, last)
        window = self.window
        first, end = 1, last + 1
        if window.until:
            first = await self._first(url, lambda d: d is None or not window.page_is_newer(d), 0, end)
        if window.since:
            end = await self._first(url, lambda d: d is None or window.page_is_older(d), first - 1, end)
        size = ListingSize(url, len(listing.article_urls), last, len(last_days or []), (first, end),
                           self._fetched[url], crawled)
        if site.is_front_listing(url) or not self._site_days:
            self._site_days = _span([*days, *(last_days or [])])
        stats = self.crawler.stats
        stats.set_value(keys.ESTIMATE, [*stats.get_value(keys.ESTIMATE, []), asdict(size)])

    async def _sample(self) -> None:
        """Read a few of the window's articles (spread over those the listings showed) and the first
        page of their category listing and of up to :data:`SAMPLE_TAGS` of their tag listings."""
        listed = [url for url in self._listed.values() if (parts := site.article_parts(url))
                  and self.window.contains(parts[2])]
        count = min(SAMPLE_ARTICLES, len(listed))
        chosen = [listed[round(i * (len(listed) - 1) / max(count - 1, 1))] for i in range(count)]
        read, tags, fetched = 0, 0, 0
        categories: list[Listing] = []
        tag_listings: list[Listing] = []
        first_pages: dict[str, Listing | None] = {}

        async def first_page(url: str) -> Listing | None:
            nonlocal fetched
            if url not in first_pages:
                response = await self._download(url)
                fetched += 1
                first_pages[url] = self._listing(response) if response is not None else None
            return first_pages[url]

        for url in dict.fromkeys(chosen):
            response = await self._download(url)
            fetched += 1
            if not isinstance(response, TextResponse) or response.status >= 400 or not is_html(response):
                continue
            selector = page_selector(response)
            self._note_links(response, selector)
            entries = select(selector.root, site.ENTRY)
            hrefs = [a.get("href") or "" for a in select(entries[0], site.TAG_LINKS)] if entries else []
            own = list(dict.fromkeys(base for u in absolute_urls(page_base(response), hrefs, None)
                                     if (base := site.listing_base(u))))
            read += 1
            tags += len(own)
            picked = sorted({0, len(own) // 2, len(own) - 1})[:SAMPLE_TAGS] if own else []
            for index in picked:
                if (tag := await first_page(own[index])) is not None:
                    tag_listings.append(tag)
            own_category = site.category_listing_url(url)
            if own_category and (category := await first_page(own_category)) is not None:
                categories.append(category)
        kinds = [kind for url, kind in self._linked.items() if not site.is_front_listing(url)]
        seen = (kinds.count(site.Kind.LISTING), kinds.count(site.Kind.TAG))
        sample = Sample(read, tags, tuple(categories), tuple(tag_listings), *seen, fetched)
        self.crawler.stats.set_value(keys.ESTIMATE_SAMPLE, asdict(sample))

    def _listing(self, response: Response) -> Listing | None:
        """A tag or category listing as its first page tells (None: not a listing page)."""
        if not isinstance(response, TextResponse) or response.status >= 400 or not is_html(response):
            return None
        selector = page_selector(response)
        self._note_links(response, selector)
        listing = parse_listing(response, selector)
        if not listing.article_urls:
            return None
        days = _span([parts[2] for url in listing.article_urls if (parts := site.article_parts(url))])
        items, more = len(listing.article_urls), listing.next_url is not None
        return Listing.of_first_page(items, listing.last_page, more, days, self._site_days)

    def _read(self, response: Response) -> Days:
        """The days of a listing page's articles (None: not one), noting its links and articles."""
        if response.status >= 400 or not isinstance(response, TextResponse) or not is_html(response):
            return None
        selector = page_selector(response)
        self._note_links(response, selector)
        listing = parse_listing(response, selector)
        days = []
        for url in listing.article_urls:
            if parts := site.article_parts(url):
                self._listed.setdefault(parts[0], url)
                days.append(parts[2])
        return days or None

    def _note_links(self, response: TextResponse, selector: Any) -> None:
        """Note the listings *response* links to on the crawl's hosts (a crawl follows them all)."""
        for url in absolute_urls(page_base(response), select(selector.root, site.LINKS), None):
            if urlsplit(url).netloc in self.allowed_hosts and (base := site.listing_base(url)):
                self._linked.setdefault(base, site.classify(base))

    async def _download(self, url: str) -> Response | None:
        """*url* fetched through the crawl's downloader (None when it could not be)."""
        request = scrapy.Request(url, dont_filter=True, meta={"handle_httpstatus_all": True})
        assert self.crawler.engine is not None
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception:  # a page that cannot be fetched is left out of the estimate
            return None
        if (latency := response.meta.get("download_latency")) is not None:
            stats = self.crawler.stats
            stats.set_value(keys.ESTIMATE_LATENCY, [*stats.get_value(keys.ESTIMATE_LATENCY, []), latency])
        return response

    async def _page(self, url: str, page: int) -> Days:
        """The days of page *page* of *url*'s listing (None past its end)."""
        response = await self._download(site.listing_page_url(url, page))
        self._fetched[url] += 1
        return self._read(response) if response is not None else None

    async def _first(self, url: str, reached: Callable[[Days], bool], low: int,
                     high: int | None = None) -> int:
        """The first page after *low* that *reached* holds for (it holds for all after it), below
        *high* when known: page numbers double from *low* until one does, then the gap is halved."""
        step = 1
        while high is None:
            page = low + step
            if reached(await self._page(url, page)):
                high = page
            else:
                low, step = page, step * 2
        while high - low > 1:
            middle = (low + high) // 2
            if reached(await self._page(url, middle)):
                high = middle
            else:
                low = middle
        return high


def _span(days: list[str]) -> int:
    """The days from the oldest of *days* (``YYYY-MM-DD``) to the newest, both counted (0: none).

    >>> _span(["2024-01-10", "2024-01-01"]), _span([])
    (10, 0)
    """
    known = sorted(day for day in days if day)
    return (date.fromisoformat(known[-1]) - date.fromisoformat(known[0])).days + 1 if known else 0
