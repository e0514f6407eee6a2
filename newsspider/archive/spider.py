"""The spider of ``newsspider reextract``; not one of the project's: the command runs it on its archive."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import scrapy
from parsel import Selector
from scrapy.http import TextResponse

from newsspider.archive.reader import Capture
from newsspider.archive.replay import REPLAY, archived_articles
from newsspider.loaders import Problems
from newsspider.spiders.bannedbook import BannedbookSpider, Paging

__all__ = ["ReextractSpider"]


class ReextractSpider(BannedbookSpider):
    """Each article page of the archive (``NEWSSPIDER_REEXTRACT_FROM``), read as the crawl reads it."""

    name = "reextract"

    def __init__(self, captures: Sequence[Capture] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: the pages to read, when the caller has listed them already (the archive is read once)
        self.captures = captures

    async def start(self) -> AsyncIterator[scrapy.Request]:
        captures = self.captures
        if captures is None:
            captures = archived_articles(Path(self.crawler.settings.get("NEWSSPIDER_REEXTRACT_FROM")))
        for article in captures:
            yield scrapy.Request(article.url, callback=self.parse, errback=self.failed, dont_filter=True,
                                 meta={REPLAY: article.pointer})

    def follow_links(self, response: TextResponse, selector: Selector, paging: Paging | None = None,
                     only_paging: bool = False, problems: Problems | None = None, **kwargs: Any
                     ) -> Iterator[scrapy.Request]:
        """Nothing: the archive's pages are the whole of what is read."""
        return iter(())
