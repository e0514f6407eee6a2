"""Writing WARC files: request and response records, one gzip member each, appended whole.

Files are named ``newsspider-<UTC start>-<worker>-<n>.warc.gz`` in
``<data dir>/warc/`` and rotated at a size; each crawl starts a new file, so
a file left with a damaged tail by a crawl that was killed is never appended
to.  A record pair is built in memory and appended in one write
(:class:`~newsspider.storage.AppendFile`): a crash leaves whole records only,
and a failed write (a full disk) is undone and raised as
:class:`~newsspider.storage.StorageError`.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsspider import __version__
from newsspider.archive.reader import WARC_DIR, Capture
from newsspider.storage import AppendFile

__all__ = ["POINTER_FIELDS", "Fetch", "Pointer", "WarcFiles", "headers_of", "payload_digest"]

POINTER_FIELDS = ("file", "offset", "length", "record_id")
_SKIPPED_HEADERS = frozenset({b"transfer-encoding"})  # the body is kept dechunked


@dataclass(frozen=True)
class Pointer:
    """Where a response record is: its file (relative to the data dir), offset, length and id."""

    file: str
    offset: int
    length: int
    record_id: str

    def asdict(self) -> dict[str, Any]:
        return asdict(self)


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


class WarcFiles:
    """The WARC files of one crawl (one worker): the current file, rotated at *max_size* bytes."""

    def __init__(self, data_dir: Path, worker: str = "", max_size: int = 1024**3) -> None:
        self.dir = data_dir / WARC_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.stem = "-".join(filter(None, ("newsspider", datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S"),
                                           worker)))
        self.max_size = max_size
        self.number = 0
        self.file: AppendFile | None = None
        self.records = 0

    def _next_file(self) -> AppendFile:
        if self.file is not None:
            self.file.close()
        self.number += 1
        path = self.dir / f"{self.stem}-{self.number:05d}.warc.gz"
        self.file = AppendFile(path)
        buffer = BytesIO()
        writer = WARCWriter(buffer, gzip=True, warc_version="1.1")
        writer.write_record(writer.create_warcinfo_record(path.name, {
            "software": f"newsspider/{__version__} (Scrapy; warcio)",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        }))
        self.file.append(buffer.getvalue())
        return self.file

    def write(self, capture: Fetch, earlier: Capture | None = None) -> tuple[Pointer, bool]:
        """Append the response and request records of *capture*; return the pointer to its body
        and whether it was a revisit.

        When *earlier* (the newest archived capture of the same URL) has the same
        payload digest, a ``revisit`` record (profile identical-payload-digest)
        takes the response's place, as Heritrix writes it, and the pointer is the
        earlier record's.
        """
        file = self.file
        if file is None or file.size >= self.max_size:
            file = self._next_file()
        buffer = BytesIO()
        writer = WARCWriter(buffer, gzip=True, warc_version="1.1")
        warc_headers = {"WARC-IP-Address": capture.ip_address} if capture.ip_address else {}
        reason = http.client.responses.get(capture.status, "")
        http_headers = StatusAndHeaders(f"{capture.status} {reason}".strip(), capture.response_headers,
                                        protocol=capture.protocol)
        revisit = earlier is not None and earlier.digest == payload_digest(capture.body)
        if earlier is not None and revisit:
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
        offset = file.append(buffer.getvalue())
        self.records += 1
        if earlier is not None and revisit:
            return Pointer(**earlier.pointer), True
        return Pointer(str(file.path.relative_to(self.data_dir)), offset, length, record_id), False

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
