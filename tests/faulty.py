"""Fault injection inside the crawler, for tests: a spider middleware whose output raises.

Enabled by a test with ``-s SPIDER_MIDDLEWARES=...`` (the add-on adds newsspider's own to
``"tests.faulty.RaiseOn": 990``) and ``-s TESTS_RAISE_ON=<path>,<path>``: for a
response at one of those paths the callback's output raises after its first
item, as a callback with a bug would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.http import Response


class RaiseOn:
    def __init__(self, paths: list[str]) -> None:
        self.paths = set(paths)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RaiseOn:
        return cls(crawler.settings.getlist("TESTS_RAISE_ON"))

    async def process_spider_output(self, response: Response, result: AsyncIterator[Any]
                                    ) -> AsyncIterator[Any]:
        raise_here = urlsplit(response.url).path in self.paths
        async for item in result:
            yield item
            if raise_here:
                raise RuntimeError(f"a bug in the callback for {response.url}")
