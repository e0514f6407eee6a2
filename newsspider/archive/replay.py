"""Re-extraction from the web archive: today's extraction and pipelines over archived pages.

``newsspider reextract`` runs a crawl whose pages come from the WARC files,
not the network: :func:`archived_articles` lists the newest capture of each
article page (status 200), the ``reextract`` spider asks for them,
:class:`WarcReplay` (a downloader middleware, first in line) answers each
request with its archived response, and the usual extraction, validation and
storage follow.  :class:`Reextracted` takes the deduplicating pipeline's
place: a record whose extracted fields are the same as the stored version's is
dropped (``newsspider/unchanged``); one that differs is stored as the next
version, as ``--refresh`` does, so a changed selector changes exactly the
fields it reads.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse, Response

from newsspider import site
from newsspider.archive.capture import META
from newsspider.archive.reader import Capture, archived_page, latest_captures
from newsspider.dataset import iter_articles
from newsspider.pipelines import as_record

__all__ = ["REPLAY", "Reextracted", "WarcReplay", "archived_articles", "extracted_digest"]

#: request.meta key of the archived response a request is answered with
REPLAY = "newsspider_replay"
#: what re-extraction does not compare: when and where, not what
_VOLATILE = frozenset({"crawled_at", "warc", "version", "schema_version"})
# Headers that described the body as it was sent; the replayed body is decoded.
_SENT_AS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def archived_articles(data_dir: Path) -> list[Capture]:
    """The newest archived capture (status 200, HTML) of each article page, in archive order.

    Raises :class:`ArchiveError` when the data dir has no WARC files or one
    cannot be read; a file cut short is read up to the record it was cut in.
    """
    def article(url: str) -> bool:
        return site.classify(url) is site.Kind.ARTICLE

    captures = latest_captures(data_dir, article, html_only=True).values()
    return sorted(captures, key=lambda c: (c.pointer["file"], c.pointer["offset"]))


class WarcReplay:
    """Downloader middleware: answer every request from the archive; nothing goes to the network."""

    def __init__(self, source: Path, data_dir: Path) -> None:
        self.source = source
        self.data_dir = data_dir

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcReplay:
        settings = crawler.settings
        if not (source := settings.get("NEWSSPIDER_REEXTRACT_FROM")):
            raise NotConfigured
        return cls(Path(source), Path(settings.get("NEWSSPIDER_DATA_DIR")))

    def process_request(self, request: Request) -> Response:
        pointer = request.meta.get(REPLAY)
        if pointer is None:
            raise IgnoreRequest("not in the archive")
        page = archived_page(self.source, pointer)
        headers = [(k, v) for k, v in page.headers if k.lower() not in _SENT_AS]
        # the record's pointer, relative to the dataset being written (it may be another dir)
        file = os.path.relpath(self.source / pointer["file"], self.data_dir)
        request.meta[META] = {**pointer, "file": file, "date": page.date}
        return HtmlResponse(page.url, status=int(page.status_line.split()[1]), body=page.body,
                            headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
                            request=request)


def extracted_digest(record: dict[str, Any]) -> str:
    """A digest of what extraction took from a page (not when, where, or which version).

    >>> a = {"title": "标题", "body": "正文", "crawled_at": "2024-01-01T00:00:00Z", "version": 1}
    >>> extracted_digest(a) == extracted_digest({**a, "crawled_at": "2025-01-01T00:00:00Z", "version": 3})
    True
    >>> extracted_digest(a) == extracted_digest({**a, "body": "正文。"})
    False
    """
    fields = {k: v for k, v in record.items() if k not in _VOLATILE}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class Reextracted:
    """Item pipeline (in place of the deduplicating one): store what re-extraction changed.

    Compares each record with the newest stored version of its article in
    the dataset being written: the same extracted fields are dropped as
    ``unchanged``; different ones are stored as the next version.
    """

    def __init__(self, crawler: Crawler, stored: dict[str, tuple[int, str]]) -> None:
        self.stats = crawler.stats
        self.stored = stored

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Reextracted:
        if not crawler.settings.get("NEWSSPIDER_REEXTRACT_FROM"):
            raise NotConfigured
        data_dir = Path(crawler.settings.get("NEWSSPIDER_DATA_DIR"))
        stored = {r["article_id"]: (int(r["version"]), extracted_digest(r))
                  for r in iter_articles(data_dir, errors="skip")}
        return cls(crawler, stored)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        article_id = adapter["article_id"]
        version, digest = self.stored.get(article_id, (0, ""))
        new_digest = extracted_digest(as_record(item))
        if new_digest == digest:
            self.stats.inc_value("newsspider/unchanged")
            raise DropItem(f"article {article_id} is unchanged", log_level="DEBUG")
        if version:
            adapter["version"] = version + 1
            self.stats.inc_value("newsspider/updated")
        self.stored[article_id] = (version + 1, new_digest)
        return item
