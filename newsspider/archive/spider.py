"""The spider of ``newsspider reextract``; not one of the project's: the command runs it on its archive."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import scrapy

from newsspider.archive.reader import Capture
from newsspider.archive.replay import Readers, archived_articles, default_jobs
from newsspider.core.failures import count_failure, count_left_out, stop_crawl
from newsspider.extract.items import Article

__all__ = ["ReextractSpider"]


class ReextractSpider(scrapy.Spider):
    """Each article page of the archive (``NEWSSPIDER_REEXTRACT_FROM``), read as the crawl reads it.

    Its start yields the records themselves: nothing is requested, nothing
    followed.  Each page read counts as a received response
    (``response_received_count``: the summary, the run record and the checks
    count pages by it); a page that cannot be read or extracted is one failed
    page, counted and logged as the crawl does.
    """

    name = "reextract"

    def __init__(self, captures: Sequence[Capture] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: the pages to read, when the caller has listed them already (the archive is read once)
        self.captures = captures

    # records, not requests: Scrapy's start() may yield either
    async def start(self) -> AsyncIterator[Article]:  # type: ignore[override]
        settings = self.crawler.settings
        source = Path(settings.get("NEWSSPIDER_REEXTRACT_FROM"))
        captures = self.captures if self.captures is not None else archived_articles(source)
        readers = Readers(source, Path(settings.get("NEWSSPIDER_DATA_DIR")),
                          settings.getint("NEWSSPIDER_REEXTRACT_JOBS") or default_jobs(len(captures)),
                          settings.getint("DOWNLOAD_MAXSIZE"))  # the crawl's size limit holds here too
        stats = self.crawler.stats
        try:
            async for page in readers.pages(captures):
                stats.inc_value("response_received_count")
                count_left_out(stats, page.problems.counts, page.url)
                if page.article is None:
                    count_failure(stats, self.logger, page.failure, page.url, page.detail)
                    if page.trace:
                        self.logger.debug("the error in %s:\n%s", page.url, page.trace)
                    continue
                yield page.article
        except BrokenProcessPool:  # killed (out of memory?): what was stored stays, the rest is not read
            stop_crawl(self.crawler, "worker_died", "a re-extraction worker process died (killed, or out "
                       "of memory?)")
