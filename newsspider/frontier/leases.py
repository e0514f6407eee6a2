"""Spider middleware: release a request's lease once its callback's output is all processed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from newsspider.frontier.queue import LEASE
from newsspider.frontier.scheduler import RedisFrontier

__all__ = ["LeaseAck"]


class LeaseAck:
    """Release the lease of a request whose response has been processed: its items stored, its
    requests queued (an error in the callback ends the request too: it is never left leased)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LeaseAck:
        if not crawler.settings.get("NEWSSPIDER_REDIS_URL"):
            raise NotConfigured
        return cls(crawler)

    async def process_spider_output_async(self, response: Response, result: AsyncIterator[Any]
                                          ) -> AsyncIterator[Any]:
        try:
            async for item in result:
                yield item
        finally:
            self._ack(response.request)

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterable[Any]:
        try:
            yield from result
        finally:
            self._ack(response.request)

    def _ack(self, request: Request | None) -> None:
        frontier = self.crawler.engine.scheduler
        if request is not None and isinstance(frontier, RedisFrontier):
            frontier.ack(request.meta.pop(LEASE, None))
