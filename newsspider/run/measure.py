"""Measure the start listings without crawling them: ``newsspider estimate``.

For each start listing the spider reads page 1, then finds its last page (from
the pagination when it shows it, else page numbers doubling until one is past
the end, then halving the gap) and, with ``--since`` / ``--until``, the pages
where the window starts and ends the same way.  Pages are fetched through the
crawl's downloader (politeness, robots.txt, proxies, challenges) with the
engine's public ``download_async``; the sizes go to the stats under
``newsspider/estimate`` (:class:`~newsspider.run.estimate.ListingSize`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse

from newsspider.core import stats as keys
from newsspider.core.meta import START
from newsspider.extract import site
from newsspider.extract.loaders import is_html, parse_listing
from newsspider.run.estimate import ListingSize
from newsspider.spiders.bannedbook import BannedbookSpider

__all__ = ["EstimateSpider"]


#: a page as the search sees it: the days of its articles, or None past the listing's end
Days = list[str] | None


class EstimateSpider(BannedbookSpider):
    """Reads a few pages of each start listing; stores nothing."""

    name = "bannedbook-estimate"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fetched: dict[str, int] = {}

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.measure, errback=self.failed, dont_filter=True,
                                 meta={START: True})

    def parse(self, response: Response, old_pages: int = 0, stale_pages: int = 0,
              recent: tuple[str, ...] = ()) -> Iterator[Any]:
        return iter(())

    async def measure(self, response: Response) -> list[Any]:
        """Page 1 of a start listing: find its last page and the window's pages."""
        url = response.url
        self._fetched[url] = 1
        days = self._days(response)
        if not days:
            return []
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
                           self._fetched[url])
        stats = self.crawler.stats
        stats.set_value(keys.ESTIMATE, [*stats.get_value(keys.ESTIMATE, []), asdict(size)])
        return []

    def _days(self, response: Response) -> Days:
        if response.status >= 400 or not isinstance(response, TextResponse) or not is_html(response):
            return None
        listing = parse_listing(response)
        days = [parts[2] for url in listing.article_urls if (parts := site.article_parts(url))]
        return days or None

    async def _page(self, url: str, page: int) -> Days:
        """The days of page *page* of *url*'s listing (None past its end)."""
        request = scrapy.Request(site.listing_page_url(url, page), dont_filter=True,
                                 meta={"handle_httpstatus_all": True})
        assert self.crawler.engine is not None
        response = await self.crawler.engine.download_async(request)
        self._fetched[url] += 1
        if (latency := response.meta.get("download_latency")) is not None:
            stats = self.crawler.stats
            stats.set_value(keys.ESTIMATE_LATENCY, [*stats.get_value(keys.ESTIMATE_LATENCY, []), latency])
        return self._days(response)

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
