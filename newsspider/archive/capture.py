"""The Scrapy side of the web archive: archive every response, point each article at its page.

:class:`WarcCapture` is a downloader middleware next to the network (after
decompression would be too late: the archive keeps the body as it was
served): each response becomes a WARC ``response`` record with its
``request`` record.  :class:`WarcPointer` is a spider middleware that gives
each article record the pointer to the response it was extracted from
(``warc``).  A compressed response that Scrapy's decompression will refuse
(larger than ``DOWNLOAD_MAXSIZE`` decoded: a compression bomb, a failed
``too_large`` page) is not archived: the archive keeps no page the crawl
refused, so ``reextract`` never takes one for the article.  A failed write
to the archive stops the crawl with one line, as a failed write to the
dataset does; the page it was for is not stored.

Settings: ``NEWSSPIDER_WARC`` (on by default; ``--no-warc``),
``NEWSSPIDER_WARC_MAX_SIZE`` (bytes per file before the next one is started),
``NEWSSPIDER_WARC_ARTICLES_ONLY`` (leave listing pages and robots.txt out),
``NEWSSPIDER_TIMESTAMP_URLS`` (``--timestamp``: the RFC 3161 authorities that timestamp the run's
manifest when the spider closes, :mod:`newsspider.archive.evidence`).
With ``--refresh``, an article whose payload is the same as that of the capture its stored version came
from (the state keeps it with the article's validators: the archive is not read) is written as a
``revisit`` record (identical-payload-digest), and a ``304 Not Modified`` answer to a conditional
request (:mod:`newsspider.crawl.validators`) as a ``revisit`` record (server-not-modified) that refers
to the capture the request's validators came from.  Other pages (listings, images) are archived whole:
finding their earlier capture would mean reading the whole archive at every refresh.  Each archived
response's source (``request.meta[WARC_SOURCE]``: the record whose body it is,
its own or the earlier one a revisit refers to) is what the validators keep.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from newsspider.archive.evidence import RunManifest, WarcEntry, timestamp_file
from newsspider.archive.reader import (
    BodyTooLarge,
    Capture,
    content_encodings,
    decode_body,
)
from newsspider.archive.warcfile import (
    POINTER_FIELDS,
    ClosedFile,
    Fetch,
    WarcFiles,
    headers_of,
    payload_digest,
)
from newsspider.core import stats as keys
from newsspider.core.failures import stop_crawl
from newsspider.core.meta import ARTICLE_ID, VALIDATORS, WARC, WARC_SOURCE
from newsspider.core.signals import crawl_stopping
from newsspider.dataset.storage import StorageError, prepare_data_dir, release_reserve
from newsspider.extract import site
from newsspider.extract.items import Article
from newsspider.memory.extension import memory_of

__all__ = ["META", "WarcCapture", "WarcPointer", "point_at"]

#: request.meta key of the archived response's pointer
META = WARC

logger = logging.getLogger(__name__)


def point_at(article: Article, pointer: dict[str, Any]) -> Article:
    """*article* with its pointer into the archive (``warc``).

    Its ``crawled_at`` is the capture's time (the pointer's ``date``, the
    WARC-Date) when the pointer has one: the same instant in the record and in
    its archived page, whether crawled or read again from the archive.

    >>> pointer = {"file": "warc/a.warc.gz", "offset": 0, "length": 9, "record_id": "<urn:uuid:1>",
    ...            "date": "2024-05-01T10:00:00.25Z"}
    >>> a = point_at(Article(url="https://x/a.html"), pointer)
    >>> a.warc["offset"], a.crawled_at
    (0, '2024-05-01T10:00:00Z')
    """
    article.warc = {name: pointer[name] for name in POINTER_FIELDS}
    if date := pointer.get("date"):
        article.crawled_at = date[:19] + "Z"  # the capture time, to the second
    return article


def place(pointer: dict[str, Any]) -> str | None:
    """Where a record is, in one string the state keeps (``"<file> <offset> <length>"``); None when the
    pointer does not say.

    >>> place({"file": "warc/a.warc.gz", "offset": 120, "length": 3400, "record_id": "<urn:uuid:1>"})
    'warc/a.warc.gz 120 3400'
    >>> place({"record_id": "<urn:uuid:1>"}) is None
    True
    """
    if not pointer.get("file"):
        return None
    return f"{pointer['file']} {int(pointer['offset'])} {int(pointer['length'])}"


def parse_place(text: str | None) -> dict[str, Any] | None:
    """The ``file``, ``offset`` and ``length`` of a :func:`place`; None when it is none or not one.

    >>> parse_place("warc/a.warc.gz 120 3400")
    {'file': 'warc/a.warc.gz', 'offset': 120, 'length': 3400}
    >>> parse_place(None), parse_place("warc/a.warc.gz x 1"), parse_place("a b")
    (None, None, None)
    """
    parts = (text or "").rsplit(" ", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return {"file": parts[0], "offset": int(parts[1]), "length": int(parts[2])}


class WarcCapture:
    """Downloader middleware: append each response (and its request) to the crawl's WARC file."""

    def __init__(self, crawler: Crawler, files: WarcFiles, articles_only: bool = False) -> None:
        self.crawler = crawler
        self.files = files
        self.articles_only = articles_only
        #: Scrapy decodes responses (HttpCompressionMiddleware), refusing those over this size decoded
        self.decoding = crawler.settings.getbool("COMPRESSION_ENABLED")
        self.max_size = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        #: with --refresh: an article's earlier capture (the state's) is looked up for revisit records
        self.refresh = crawler.settings.getbool("NEWSSPIDER_REFRESH")
        #: a write failed somewhere (crawl_stopping): nothing more is archived
        self.stopping = False
        #: the run's manifest of the WARC files it closed (evidence/run-NNNNN.json)
        memory = self.memory = memory_of(crawler)
        self.manifest = RunManifest(files.data_dir, memory.run_id, memory.worker_id)
        files.on_close = self._file_closed
        self.authorities = crawler.settings.getlist("NEWSSPIDER_TIMESTAMP_URLS")
        self.timeout = crawler.settings.getfloat("NEWSSPIDER_TIMESTAMP_TIMEOUT")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCapture:
        settings = crawler.settings
        if not settings.getbool("NEWSSPIDER_WARC"):
            raise NotConfigured
        data_dir = prepare_data_dir(settings.get("NEWSSPIDER_DATA_DIR"))
        files = WarcFiles(data_dir, memory_of(crawler).worker_id, settings.getint("NEWSSPIDER_WARC_MAX_SIZE"))
        capture = cls(crawler, files, settings.getbool("NEWSSPIDER_WARC_ARTICLES_ONLY"))
        crawler.signals.connect(capture.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(capture.crawl_stopping, signal=crawl_stopping)
        return capture

    def crawl_stopping(self) -> None:
        self.stopping = True

    async def spider_closed(self) -> None:
        self.files.close()
        self.crawler.stats.set_value(keys.WARC_RECORDS, self.files.records)
        if self.manifest.entries and self.authorities:  # off the reactor: an HTTP request each
            await maybe_deferred_to_future(deferToThread(self._timestamp, self.manifest.path))

    def _file_closed(self, closed: ClosedFile) -> None:
        """A WARC file closed: into the run's manifest, written again now."""
        try:
            self.manifest.add(WarcEntry(str(closed.path.relative_to(self.files.data_dir)), closed.size,
                                        closed.sha256, closed.first_capture, closed.last_capture,
                                        closed.records))
        except OSError as exc:  # a full disk: the archive is whole, its manifest is not written
            logger.warning("%s: the run manifest was not written (%s)", self.manifest.path,
                           exc.strerror or exc)

    def _timestamp(self, manifest: Path) -> None:
        """Timestamp the run's manifest by each authority; one warning line for each that gave none."""
        try:
            written, problems = timestamp_file(manifest, self.authorities, self.timeout)
        except OSError as exc:
            written, problems = [], [f"{manifest}: cannot be read ({exc.strerror or exc})"]
        for problem in problems:
            logger.warning("%s; %s is kept without its timestamp: newsspider dataset timestamp %s "
                           "--timestamp URL adds it later", problem, manifest.name, self.files.data_dir)
        self.crawler.stats.set_value(keys.TIMESTAMPS, len(written))

    def process_response(self, request: Request, response: Response) -> Response:
        if (self.articles_only and site.classify(response.url) is not site.Kind.ARTICLE
                and not request.meta.get("allow_offsite")):  # images (--images) are kept
            return response
        if self.stopping:  # a write failed (crawl_stopping): nothing more is written or stored
            raise IgnoreRequest("not archived: the crawl is stopping")
        if self._refused(request, response):  # Scrapy's decompression fails it next (too_large)
            return response
        capture = Fetch(
            url=response.url, method=request.method, request_headers=headers_of(request.headers),
            request_body=request.body, status=response.status, response_headers=headers_of(response.headers),
            body=response.body, protocol=response.protocol or "HTTP/1.1",
            ip_address=str(response.ip_address) if response.ip_address else None)
        not_modified = response.status == 304 and VALIDATORS in request.meta
        earlier = self._refers_to(request) if not_modified else self._kept(request)
        try:
            pointer, revisit = self.files.write(capture, earlier, not_modified)
        except StorageError as exc:
            release_reserve(self.files.data_dir)  # room to commit the memory and record the run's end
            stop_crawl(self.crawler, exc.reason, str(exc))
            raise
        if revisit:
            self.crawler.stats.inc_value(keys.WARC_REVISITS)
        request.meta[META] = pointer.asdict()
        if revisit and earlier is not None:
            request.meta[WARC_SOURCE] = {"record_id": earlier.pointer.get("record_id"), "date": earlier.date,
                                         "url": earlier.url, "digest": earlier.digest or None,
                                         "place": place(earlier.pointer)}
        elif response.status == 200 and site.classify(response.url) is site.Kind.ARTICLE:
            request.meta[WARC_SOURCE] = {"record_id": pointer.record_id, "date": pointer.date,
                                         "url": response.url, "digest": payload_digest(response.body),
                                         "place": place(pointer.asdict())}
        return response

    def _refers_to(self, request: Request) -> Capture | None:
        """The capture a 304 answer refers to: the one the request's validators came from (kept with them,
        at whatever URL), else the one the state keeps for the article."""
        kept = request.meta.get(VALIDATORS) or {}
        if kept.get("url") and kept.get("date"):
            return Capture(kept["url"], kept["date"], kept.get("digest") or "",
                           {**(parse_place(kept.get("place")) or {}), "record_id": kept.get("record_id")})
        return self._kept(request)

    def _kept(self, request: Request) -> Capture | None:
        """With --refresh, the capture the stored version of the article *request* asks for came from, as
        the state keeps it (None: not an article, not stored, or its capture or its place not kept: the
        page is then archived whole, so that a new version never points at a revisit record)."""
        if not self.refresh or not (article_id := request.meta.get(ARTICLE_ID)):
            return None
        try:
            kept = self.memory.validators(article_id)
        except StorageError:  # the state cannot be read: archived whole (the crawl's own use of it stops it)
            return None
        if kept is None or not kept.url or not kept.date or not kept.record_id or not kept.digest:
            return None
        if (where := parse_place(kept.place)) is None:
            return None
        return Capture(kept.url, kept.date, kept.digest, {**where, "record_id": kept.record_id, "date": ""})


    def _refused(self, request: Request, response: Response) -> bool:
        """Whether Scrapy's decompression will refuse *response*: larger than DOWNLOAD_MAXSIZE (the
        request's ``download_maxsize``) once decoded.  Decoded in bounded steps, and not kept."""
        if not self.decoding or request.method == "HEAD" or (
                300 <= response.status < 400 and b"Location" in response.headers):  # redirected, not decoded
            return False
        sent = response.headers.getlist("Content-Encoding")
        encodings = content_encodings(value.decode("latin-1") for value in sent)
        if not encodings:
            return False
        try:
            decode_body(response.body, encodings, request.meta.get("download_maxsize", self.max_size))
        except BodyTooLarge:
            return True
        return False


class WarcPointer:
    """Spider middleware: an article record points at the archived response it came from."""

    @staticmethod
    def _point(response: Response, result: Any) -> Any:
        if isinstance(result, Article) and (pointer := response.meta.get(META)):
            point_at(result, pointer)
        return result

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterable[Any]:
        return (self._point(response, r) for r in result)

    async def process_spider_output_async(self, response: Response, result: AsyncIterator[Any]
                                          ) -> AsyncIterator[Any]:
        async for r in result:
            yield self._point(response, r)
