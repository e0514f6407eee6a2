"""Conditional requests: stored validators make ``--refresh`` cheap.

Every 200 answer an article was stored from (or found unchanged in) keeps its
``ETag`` and ``Last-Modified`` headers, as the server sent them, in the crawl's
memory (:meth:`~newsspider.memory.Memory.set_validators`), with the archived
response they came with (``request.meta[WARC_SOURCE]``, written by
:class:`~newsspider.archive.capture.WarcCapture`).  With ``--refresh``, a request
for a stored article carries ``If-None-Match`` (the ETag as stored, a weak
``W/`` one included: the server compares it weakly) and ``If-Modified-Since``.

A ``304 Not Modified`` answer is a page received, not a failure: the article's
``last_seen`` is updated, it is counted (``newsspider/not_modified``), the
archive keeps it as a ``revisit`` record that refers to the earlier capture,
and nothing is stored (the stored version is current).  A 304 to a request
sent without validators is the server's error: a failed page (``http_304``),
not retried.  Off with ``NEWSSPIDER_VALIDATORS = False``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from itemadapter import ItemAdapter
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from newsspider.core import stats as keys
from newsspider.core.failures import stop_crawl
from newsspider.core.meta import ARTICLE_ID, HANDLE_HTTPSTATUS_LIST, VALIDATORS, WARC_SOURCE
from newsspider.core.time import utc_now_iso
from newsspider.dataset.storage import StorageError
from newsspider.memory import Memory, Validators
from newsspider.memory.extension import memory_of

__all__ = ["ConditionalRequests", "header"]

_CONDITIONS = (b"If-None-Match", b"If-Modified-Since")


def header(response: Response, name: bytes) -> str | None:
    """*response*'s header *name* as sent (latin-1), None when absent or empty.

    >>> header(Response("http://x/", headers={"ETag": 'W/"a1"'}), b"etag")
    'W/"a1"'
    >>> header(Response("http://x/"), b"ETag") is None
    True
    """
    value = response.headers.get(name)
    return value.decode("latin-1").strip() or None if value else None


class ConditionalRequests:
    """Downloader middleware: keep each stored article's validators; ask with them on ``--refresh``."""

    def __init__(self, crawler: Crawler, memory: Memory, refresh: bool) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.memory = memory
        self.refresh = refresh

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequests:
        settings = crawler.settings
        if not settings.getbool("NEWSSPIDER_VALIDATORS") or settings.get("NEWSSPIDER_REEXTRACT_FROM"):
            raise NotConfigured
        middleware = cls(crawler, memory_of(crawler), settings.getbool("NEWSSPIDER_REFRESH"))
        crawler.signals.connect(middleware.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(middleware.item_dropped, signal=signals.item_dropped)
        return middleware

    def _failed(self, exc: StorageError) -> None:
        stop_crawl(self.crawler, exc.reason, str(exc))

    # --- asking --------------------------------------------------------------------------
    def process_request(self, request: Request) -> None:
        article_id = request.meta.get(ARTICLE_ID)
        if (not self.refresh or not article_id or request.method != "GET" or VALIDATORS in request.meta
                or any(name in request.headers for name in _CONDITIONS)):
            return
        try:
            validators = self.memory.validators(article_id)
        except StorageError as exc:
            self._failed(exc)
            return
        if validators is None or not validators.conditional:
            return
        if validators.etag:
            request.headers[b"If-None-Match"] = validators.etag
        if validators.last_modified:
            request.headers[b"If-Modified-Since"] = validators.last_modified
        request.meta[VALIDATORS] = asdict(validators)
        # the 304 reaches the spider as a page (counted received), which stores nothing from it
        request.meta[HANDLE_HTTPSTATUS_LIST] = [*request.meta.get(HANDLE_HTTPSTATUS_LIST, ()), 304]

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status == 304 and VALIDATORS in request.meta:
            self.stats.inc_value(keys.NOT_MODIFIED)
            try:
                self.memory.touch(request.meta[ARTICLE_ID], utc_now_iso())
            except StorageError as exc:
                self._failed(exc)
        return response

    # --- keeping -------------------------------------------------------------------------
    def item_scraped(self, item: Any, response: Response | None) -> None:
        self._keep(item, response)

    def item_dropped(self, item: Any, response: Response | None) -> None:
        self._keep(item, response)

    def _keep(self, item: Any, response: Response | None) -> None:
        """The validators of the 200 answer *item* came from, when what is stored is what it held (a new
        article, a new version, one found unchanged; not one dropped as invalid)."""
        if response is None or response.status != 200:
            return
        adapter = ItemAdapter(item)
        article_id = adapter.get("article_id")
        if not article_id:
            return
        source = response.meta.get(WARC_SOURCE) or {}
        try:
            stored = self.memory.get(article_id)
            if stored is None or stored.content_hash != adapter.get("content_hash"):
                return
            self.memory.set_validators(article_id, Validators(
                header(response, b"ETag"), header(response, b"Last-Modified"), source.get("record_id"),
                source.get("date"), source.get("url"), source.get("digest"), source.get("place")))
        except StorageError as exc:
            self._failed(exc)
