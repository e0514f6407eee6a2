"""Writing WARC files: request and response records, one gzip member each, appended whole.

Files are named ``newsspider-<UTC start>-<worker>-<n>.warc.gz`` in
``<data dir>/warc/`` and rotated at a size; each crawl starts a new file, so
a file left with a damaged tail by a crawl that was killed is never appended
to.  A record pair is built in memory and appended in one write
(:class:`~newsspider.dataset.storage.AppendFile`): a crash leaves whole records only,
and a failed write (a full disk) is undone and raised as
:class:`~newsspider.dataset.storage.StorageError`.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import logging
import re
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsspider import __version__
from newsspider.archive.reader import Capture, member_end
from newsspider.dataset.layout import WARC_DIR
from newsspider.dataset.storage import AppendFile

__all__ = ["NOT_MODIFIED_PROFILE", "POINTER_FIELDS", "ClosedFile", "Fetch", "Pointer", "WarcFiles",
           "headers_of", "payload_digest"]

POINTER_FIELDS = ("file", "offset", "length", "record_id")
#: the WARC 1.1 profile of a revisit record that keeps a ``304 Not Modified`` answer to a conditional request
NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"

logger = logging.getLogger(__name__)
_SKIPPED_HEADERS = frozenset({b"transfer-encoding"})  # the body is kept dechunked


#: zlib's level for each record's gzip member: warcio's own, 9, took 40% more CPU than 6 on the
#: site's pages for files 0.7% smaller (benchmarks/HISTORY.md, issue 41)
GZIP_LEVEL = 6


class _Writer(WARCWriter):  # type: ignore[misc]
    """warcio's WARC writer, each record one gzip member at :data:`GZIP_LEVEL`.

    >>> import gzip
    >>> out = BytesIO(); writer = _Writer(out, warc_version="1.1")
    >>> writer.write_record(writer.create_warcinfo_record("a.warc.gz", {"software": "x"}))
    >>> data = out.getvalue(); data[:2], data[8], gzip.decompress(data).startswith(b"WARC/1.1")
    (b'\\x1f\\x8b', 0, True)
    """

    def __init__(self, out: BytesIO, **kwargs: Any) -> None:
        super().__init__(out, gzip=False, **kwargs)

    def write_record(self, record: Any, params: Any = None) -> None:
        raw = BytesIO()
        self._write_warc_record(raw, record)
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        self.out.write(compressor.compress(raw.getvalue()) + compressor.flush())


@dataclass(frozen=True)
class Pointer:
    """Where a response record is: its file (relative to the data dir), offset, length and id.

    ``date`` is the WARC-Date of a record just written, the time the page was
    fetched (empty for a revisit's pointer to the earlier record).
    """

    file: str
    offset: int
    length: int
    record_id: str
    date: str = ""

    def asdict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ClosedFile:
    """A WARC file a crawl closed: its path, size and SHA-256 (counted as written), the first and last
    capture time (WARC-Date) of its records, and how many pages it holds."""

    path: Path
    size: int
    sha256: str
    first_capture: str
    last_capture: str
    records: int


@dataclass(frozen=True)
class Fetch:
    """One fetch as it went over the wire (the body as received, before decompression)."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    response_headers: list[tuple[str, str]]
    body: bytes
    protocol: str = "HTTP/1.1"
    ip_address: str | None = None


def _http_headers(headers: list[tuple[bytes, list[bytes]]]) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, values in headers
            if name.lower() not in _SKIPPED_HEADERS for value in values]


def headers_of(headers: Any) -> list[tuple[str, str]]:
    """A Scrapy ``Headers`` object as (name, value) pairs, one per value."""
    return _http_headers(list(headers.items()))


def payload_digest(body: bytes) -> str:
    """The WARC-Payload-Digest warcio writes for *body*: SHA-1, base32.

    >>> payload_digest(b"")
    'sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ'
    """
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


_GZIP_MEMBER = b"\x1f\x8b\x08"
#: how far from its end a file is searched for the start of its last record (a record is at most
#: DOWNLOAD_MAXSIZE of body, compressed)
_TAIL = 16 * 1024 * 1024


def cut_short_tail(path: Path) -> int | None:
    """The offset of a last record cut short in the WARC file *path*, or None when it ends whole.

    A SIGKILL can stop a write between two pages (the kernel checks for it
    there), leaving the start of a record at the end of the file.  Only the
    file's tail is read.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        base = max(0, size - _TAIL)
        handle.seek(base)
        data = handle.read()
    starts = [m.start() for m in re.finditer(re.escape(_GZIP_MEMBER), data)]
    for start in reversed(starts):
        end = member_end(data, start)
        if end == len(data):
            return None  # a whole record ends the file
        if end is not None and end in starts:  # a whole record followed by one cut short
            return base + end
    return None


_NAME = re.compile(r"newsspider-\d{14}-(?:(?P<worker>.+)-)?\d{5}\.warc\.gz")


def own_files(directory: Path, worker: str) -> list[Path]:
    """The WARC files *worker* (``""``: a single-machine crawl) wrote in *directory*, oldest first.

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> for name in ("newsspider-20260101000000-00001.warc.gz", "newsspider-20260102000000-w1-00001.warc.gz"):
    ...     _ = (d / name).write_bytes(b"")
    >>> [p.name for p in own_files(d, "w1")], [p.name for p in own_files(d, "")]
    (['newsspider-20260102000000-w1-00001.warc.gz'], ['newsspider-20260101000000-00001.warc.gz'])
    """
    return sorted(p for p in directory.glob("newsspider-*.warc.gz")
                  if (match := _NAME.fullmatch(p.name)) and (match["worker"] or "") == worker)


def repair(path: Path) -> int:
    """Remove a last record cut short (our own append, unreadable) from *path*; return the bytes removed."""
    offset = cut_short_tail(path)
    if offset is None:
        return 0
    removed = path.stat().st_size - offset
    with path.open("r+b") as handle:
        handle.truncate(offset)
    logger.warning("%s: its last record was cut short by a crawl that was killed while writing it; "
                   "removed it (%d bytes), the %d bytes before it are whole records", path, removed, offset)
    return removed


class WarcFiles:
    """The WARC files of one crawl (one worker): the current file, rotated at *max_size* bytes."""

    def __init__(self, data_dir: Path, worker: str = "", max_size: int = 1024**3) -> None:
        self.dir = data_dir / WARC_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        # the last one may be the file of a killed crawl; one linked here from another data dir (by
        # reextract --out) is that dir's to repair
        if earlier := [p for p in own_files(self.dir, worker) if p.stat().st_nlink == 1]:
            repair(earlier[-1])
        self.data_dir = data_dir
        self.stem = "-".join(filter(None, ("newsspider", datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S"),
                                           worker)))
        self.max_size = max_size
        self.number = 0
        self.file: AppendFile | None = None
        self.records = 0
        #: called with each file this crawl closes (rotated, or at the end): the run manifest's
        self.on_close: Callable[[ClosedFile], None] | None = None
        self._sha256 = hashlib.sha256()
        self._size = 0
        self._dates: list[str] = []  # the first and last capture time of the current file
        self._file_records = 0

    def _append(self, file: AppendFile, data: bytes) -> int:
        offset = file.append(data)
        self._sha256.update(data)  # the file's SHA-256, counted as it is written (appended whole)
        self._size += len(data)
        return offset

    def _closed(self) -> None:
        if self.file is None:
            return
        self.file.close()
        closed = ClosedFile(self.file.path, self._size, self._sha256.hexdigest(),
                            self._dates[0] if self._dates else "", self._dates[-1] if self._dates else "",
                            self._file_records)
        self.file = None
        self._sha256, self._size, self._dates, self._file_records = hashlib.sha256(), 0, [], 0
        if self.on_close is not None:
            self.on_close(closed)

    def _next_file(self) -> AppendFile:
        self._closed()
        self.number += 1
        path = self.dir / f"{self.stem}-{self.number:05d}.warc.gz"
        while path.exists():  # a crawl that started in the same second: never append to its file
            self.number += 1
            path = self.dir / f"{self.stem}-{self.number:05d}.warc.gz"
        self.file = AppendFile(path)
        buffer = BytesIO()
        writer = _Writer(buffer, warc_version="1.1")
        writer.write_record(writer.create_warcinfo_record(path.name, {
            "software": f"newsspider/{__version__} (Scrapy; warcio)",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        }))
        self._append(self.file, buffer.getvalue())
        return self.file

    def write(self, capture: Fetch, earlier: Capture | None = None, not_modified: bool = False
              ) -> tuple[Pointer, bool]:
        """Append the response and request records of *capture*; return the pointer to its body
        and whether it was a revisit.

        When *earlier* (an earlier capture of the same page) has the same
        payload digest, a ``revisit`` record (profile identical-payload-digest)
        takes the response's place, as Heritrix writes it, and the pointer is the
        earlier record's when its place is known, else the revisit record's (which
        reads back as the earlier response: :func:`~newsspider.archive.reader.archived_page`).
        A ``304 Not Modified`` answer to a conditional request
        (*not_modified*) whose *earlier* capture (the one the request's validators
        came from, at any URL) is known is a ``revisit`` record of profile
        server-not-modified that refers to it (WARC-Refers-To-Target-URI,
        -Date and WARC-Refers-To; the earlier payload's digest when known), with
        the 304's own headers; the pointer is the revisit record's.
        """
        file = self.file
        if file is None or file.size >= self.max_size:
            file = self._next_file()
        buffer = BytesIO()
        writer = _Writer(buffer, warc_version="1.1")
        warc_headers = {"WARC-IP-Address": capture.ip_address} if capture.ip_address else {}
        reason = http.client.responses.get(capture.status, "")
        http_headers = StatusAndHeaders(f"{capture.status} {reason}".strip(), capture.response_headers,
                                        protocol=capture.protocol)
        unmodified = not_modified and capture.status == 304 and earlier is not None
        revisit = earlier is not None and (unmodified or earlier.digest == payload_digest(capture.body))
        if earlier is not None and unmodified:
            response = writer.create_warc_record(capture.url, "revisit", http_headers=http_headers,
                                                 warc_headers_dict=warc_headers)
            response.rec_headers.add_header("WARC-Profile", NOT_MODIFIED_PROFILE)
            response.rec_headers.add_header("WARC-Refers-To-Target-URI", earlier.url)
            response.rec_headers.add_header("WARC-Refers-To-Date", earlier.date)
            if record_id := earlier.pointer.get("record_id"):
                response.rec_headers.add_header("WARC-Refers-To", record_id)
            if earlier.digest:  # the payload the server says is still current
                response.rec_headers.add_header("WARC-Payload-Digest", earlier.digest)
        elif earlier is not None and revisit:
            response = writer.create_revisit_record(capture.url, earlier.digest, earlier.url, earlier.date,
                                                    http_headers=http_headers,
                                                    warc_headers_dict=warc_headers)
            response.rec_headers.add_header("WARC-Refers-To", earlier.pointer["record_id"])
        else:
            response = writer.create_warc_record(
                capture.url, "response", payload=BytesIO(capture.body), length=len(capture.body),
                http_headers=http_headers, warc_headers_dict=warc_headers)
        parts = urlsplit(capture.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request_headers = [("Host", parts.netloc), *((k, v) for k, v in capture.request_headers
                                                    if k.lower() != "host")]
        request = writer.create_warc_record(
            capture.url, "request", payload=BytesIO(capture.request_body), length=len(capture.request_body),
            http_headers=StatusAndHeaders(f"{capture.method} {target} {capture.protocol}", request_headers,
                                          is_http_request=True))
        record_id = response.rec_headers.get_header("WARC-Record-ID")
        request.rec_headers.add_header("WARC-Concurrent-To", record_id)
        writer.write_record(response)
        length = buffer.tell()
        writer.write_record(request)
        offset = self._append(file, buffer.getvalue())
        self.records += 1
        self._file_records += 1
        date = response.rec_headers.get_header("WARC-Date")
        self._dates = [self._dates[0] if self._dates else date, date]
        if earlier is not None and revisit and not unmodified and "file" in earlier.pointer:
            return Pointer(**earlier.pointer), True
        return Pointer(str(file.path.relative_to(self.data_dir)), offset, length, record_id,
                       response.rec_headers.get_header("WARC-Date")), revisit

    def close(self) -> None:
        self._closed()
