"""Spider middleware: do not request articles the crawl's memory has stored.

The shape of scrapy-deltafetch: one component between the spider and the
scheduler, keyed by ``request.meta["article_id"]`` (the spider sets it on
article and shortlink requests), a setting to turn it off
(``NEWSSPIDER_SKIP_STORED``; ``--refresh`` does too, to fetch stored articles
again), and its stat ``newsspider/skipped/stored``.  The memory is the one the
pipelines mark articles stored in, so a recurring crawl fetches only what is
new; a failure to read it (Redis gone) stops the crawl through
:class:`~newsspider.crawl.failures.PageErrors`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from newsspider.core import stats as keys
from newsspider.core.meta import ARTICLE_ID
from newsspider.memory.extension import memory_of

__all__ = ["KEY", "SkipStored"]

#: request.meta key of the article a request is for
KEY = ARTICLE_ID


class SkipStored:
    """Drop requests (from callbacks and the spider's start) for articles already stored; count them."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SkipStored:
        settings = crawler.settings
        if not settings.getbool("NEWSSPIDER_SKIP_STORED") or settings.getbool("NEWSSPIDER_REFRESH"):
            raise NotConfigured
        return cls(crawler)

    def _stored(self, result: Any) -> bool:
        if not isinstance(result, Request) or not (key := result.meta.get(KEY)):
            return False
        if not memory_of(self.crawler).is_stored(key):
            return False
        self.stats.inc_value(keys.skipped("stored"))
        return True

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterable[Any]:
        return (r for r in result if not self._stored(r))

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The spider's start requests too: the articles its sitemaps list come from there."""
        async for r in start:
            if not self._stored(r):
                yield r

    async def process_spider_output_async(self, response: Response, result: AsyncIterator[Any]
                                          ) -> AsyncIterator[Any]:
        async for r in result:
            if not self._stored(r):
                yield r
