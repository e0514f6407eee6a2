"""Reading the web archive back: the page an article record points at, every archived response.

Uses warcio's :class:`~warcio.archiveiterator.ArchiveIterator` for the
records; a body is dechunked and decoded of its Content-Encoding here, as the
crawl decoded it, in bounded steps and never beyond the crawl's size limit
(``DOWNLOAD_MAXSIZE``): a page that inflates past it (a compression bomb) is
:class:`BodyTooLarge`, not read.  A file that is cut short or not a WARC is an
:class:`ArchiveError` with one line saying where.
"""

from __future__ import annotations

import importlib
import logging
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParser

from newsspider.core.errors import NewsspiderError
from newsspider.dataset.layout import WARC_DIR
from newsspider.dataset.reader import Errors, display_path, iter_articles

__all__ = ["MAX_BODY", "ArchiveError", "ArchivedPage", "BodyTooLarge", "Capture", "archived_page",
           "decode_body", "iter_responses", "latest_captures", "page_of", "referred_page", "warc_files",
           "warc_path"]

logger = logging.getLogger(__name__)

#: the web archive's directory in a data dir

_HTTP = StatusAndHeadersParser(["HTTP/1.0", "HTTP/1.1"], verify=False)


class ArchiveError(NewsspiderError, ValueError):
    """A web archive that cannot be read (its message says what and where)."""


class BodyTooLarge(ArchiveError):
    """An archived body larger than the size limit once decoded (a compression bomb): not read."""


#: the crawl's DOWNLOAD_MAXSIZE (its default): the largest body, decoded, a page is read back with
MAX_BODY = 8 * 1024 * 1024
#: bytes decoded at a time
_CHUNK = 64 * 1024
#: the Content-Encodings decoded, as the crawl (Scrapy's HttpCompressionMiddleware) decodes them
_DECODED = ("gzip", "x-gzip", "deflate", "br", "zstd")


def content_encodings(values: Iterable[str]) -> list[str]:
    """The encodings of Content-Encoding header *values* to undo, the last applied first, up to one this
    reader cannot undo.

    >>> content_encodings(["gzip"]), content_encodings(["deflate, GZIP"]), content_encodings(["gzip, x-foo"])
    (['gzip'], ['gzip', 'deflate'], [])
    """
    applied = [e.strip().lower() for value in values for e in value.split(",") if e.strip()]
    undo = []
    for encoding in reversed(applied):
        if encoding not in _DECODED:
            break
        undo.append(encoding)
    return undo


def _check(size: int, max_size: int) -> None:
    if max_size and size > max_size:
        raise BodyTooLarge(f"exceeded DOWNLOAD_MAXSIZE ({max_size} B) decoded")


def _inflate(data: bytes, wbits: int, max_size: int) -> bytes:
    """zlib's inflate, *max_size* at most, :data:`_CHUNK` at a time; each gzip member in turn."""
    out = bytearray()
    while data:
        inflate = zlib.decompressobj(wbits)
        pending = data
        while not inflate.eof:
            chunk = inflate.decompress(pending, _CHUNK)
            out += chunk
            _check(len(out), max_size)
            pending = inflate.unconsumed_tail
            if not chunk and not pending:
                break
        if not inflate.eof:
            break  # cut short: what there is
        data = inflate.unused_data if wbits == 31 else b""
    return bytes(out)


def _unbrotli(data: bytes, max_size: int) -> bytes:
    brotli: Any = importlib.import_module("brotli")
    decompressor = brotli.Decompressor()
    out = bytearray(decompressor.process(data, output_buffer_limit=_CHUNK))
    _check(len(out), max_size)
    while not decompressor.is_finished():
        chunk = decompressor.process(b"", output_buffer_limit=_CHUNK)
        if not chunk:
            break
        out += chunk
        _check(len(out), max_size)
    return bytes(out)


def _unzstd(data: bytes, max_size: int) -> bytes:
    try:
        zstd: Any = importlib.import_module("compression.zstd")  # Python 3.14
    except ImportError:
        zstd = importlib.import_module("backports.zstd")
    out = bytearray()
    while data:
        decompressor = zstd.ZstdDecompressor()
        pending = data
        while not decompressor.eof:
            chunk = decompressor.decompress(pending, max_length=_CHUNK)
            pending = b""
            out += chunk
            _check(len(out), max_size)
            if not chunk and decompressor.needs_input:
                break
        if not decompressor.eof:
            break
        data = decompressor.unused_data
    return bytes(out)


def decode_body(body: bytes, encodings: list[str], max_size: int = MAX_BODY) -> bytes:
    """*body* undone of *encodings* (:func:`content_encodings`), :data:`_CHUNK` bytes at a time.

    Raises :class:`BodyTooLarge` as soon as a step gives more than *max_size*
    bytes (0: no limit).  A body that is not what its encoding says is left
    as it is, as warcio and browsers leave it; raw deflate is taken for deflate.

    >>> import gzip
    >>> decode_body(gzip.compress(zlib.compress(b"abc")), ["gzip", "deflate"])
    b'abc'
    >>> decode_body(zlib.compress(b"abc")[2:-4], ["deflate"]), decode_body(b"plain", ["gzip"])
    (b'abc', b'plain')
    >>> decode_body(gzip.compress(b"a" * 100), ["gzip"], 64)
    Traceback (most recent call last):
    ...
    newsspider.archive.reader.BodyTooLarge: exceeded DOWNLOAD_MAXSIZE (64 B) decoded
    """
    for encoding in encodings:
        try:
            if encoding in ("gzip", "x-gzip"):
                body = _inflate(body, 31, max_size)
            elif encoding == "deflate":
                try:
                    body = _inflate(body, 15, max_size)
                except zlib.error:
                    body = _inflate(body, -15, max_size)
            elif encoding == "br":
                body = _unbrotli(body, max_size)
            elif encoding == "zstd":
                body = _unzstd(body, max_size)
        except BodyTooLarge:
            raise
        except Exception:  # not what it says it is (zlib.error, brotli.error, ZstdError): as it is
            return body
    return body


@dataclass(frozen=True)
class ArchivedPage:
    """An archived response: its URL, capture time, HTTP status line and headers, decoded body."""

    url: str
    date: str
    status_line: str
    headers: list[tuple[str, str]]
    body: bytes
    record_id: str

    def header_text(self) -> str:
        return "\n".join([self.status_line, *(f"{name}: {value}" for name, value in self.headers)])

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def _body(record: Any, max_size: int) -> bytes:
    """The record's HTTP body, dechunked and decoded, *max_size* bytes at most (0: no limit)."""
    http = record.http_headers
    stream = record.raw_stream
    if (http.get_header("Transfer-Encoding") or "").lower() == "chunked":
        stream = ChunkedDataReader(stream)
    raw = stream.read(max_size + 1) if max_size else stream.read()
    _check(len(raw), max_size)
    encodings = content_encodings(v for k, v in http.headers if k.lower() == "content-encoding")
    return decode_body(raw, encodings, max_size)


def _page(record: Any, max_size: int = MAX_BODY) -> ArchivedPage:
    http = record.http_headers
    return ArchivedPage(
        url=record.rec_headers.get_header("WARC-Target-URI"),
        date=record.rec_headers.get_header("WARC-Date"),
        status_line=f"{http.protocol} {http.statusline}",
        headers=list(http.headers),
        body=_body(record, max_size),
        record_id=record.rec_headers.get_header("WARC-Record-ID"))


def warc_path(data_dir: Path, file: Any) -> Path:
    """The WARC file a pointer names (``warc/NAME``, relative to *data_dir*), which must be in
    ``DATA_DIR/warc/`` once every link is followed: a dataset from elsewhere may point anywhere.

    >>> import tempfile; d = Path(tempfile.mkdtemp()); (d / "warc").mkdir()
    >>> warc_path(d, "warc/a.warc.gz") == (d / "warc/a.warc.gz").resolve()
    True
    >>> for file in ("/etc/passwd", "warc/../../x.warc.gz", "warc", 5, "warc/\\0.warc"):
    ...     try:
    ...         warc_path(d, file)
    ...     except ArchiveError as exc:
    ...         print(str(exc).replace(str(d), "DIR"))
    '/etc/passwd' is not a file of DIR/warc: not read
    'warc/../../x.warc.gz' is not a file of DIR/warc: not read
    'warc' is not a file of DIR/warc: not read
    5 is not a file of DIR/warc: not read
    'warc/\\x00.warc' is not a file of DIR/warc: not read
    """
    base = (data_dir / WARC_DIR).resolve()
    try:
        path = (data_dir / file).resolve() if isinstance(file, str) and file else base
    except (OSError, ValueError):  # a NUL byte, a loop of links
        path = base
    if path == base or not path.is_relative_to(base):
        raise ArchiveError(f"{file!r} is not a file of {display_path(data_dir / WARC_DIR)}: not read")
    return path


def archived_page(data_dir: Path, pointer: dict[str, Any], max_size: int = MAX_BODY) -> ArchivedPage:
    """The response record at *pointer* (``file``, ``offset``, ``length``) under *data_dir*; for a
    ``revisit`` record there (an unchanged payload, a 304), the response it refers to
    (:func:`referred_page`).

    The file must be one of ``DATA_DIR/warc/`` (:func:`warc_path`); what is
    there is read as WARC, and none of it is quoted in an error.  A body
    larger than *max_size* decoded is :class:`BodyTooLarge`.
    """
    path = warc_path(data_dir, pointer.get("file"))
    where = f"{display_path(data_dir / pointer['file'])}, byte {pointer.get('offset')}"
    try:
        with path.open("rb") as handle:
            handle.seek(int(pointer["offset"]))
            for record in ArchiveIterator(handle):
                if record.rec_type == "revisit":
                    headers = record.rec_headers
                    page = referred_page(data_dir, headers.get_header("WARC-Refers-To"),
                                         headers.get_header("WARC-Refers-To-Target-URI"),
                                         headers.get_header("WARC-Refers-To-Date"), max_size)
                    if page is None:
                        raise ArchiveError(f"{where}: a revisit record whose earlier capture is not in "
                                           f"{display_path(data_dir / WARC_DIR)}")
                    return page
                if record.rec_type != "response":
                    break
                return _page(record, max_size)
    except BodyTooLarge as exc:
        raise BodyTooLarge(f"{where}: its body {exc}; not read") from exc
    except ArchiveLoadFailed as exc:
        raise ArchiveError(f"{where}: cannot be read (not a WARC record)") from exc
    except OSError as exc:
        raise ArchiveError(f"{where}: cannot be read ({exc.strerror or type(exc).__name__})") from exc
    except (ValueError, EOFError, OverflowError) as exc:
        raise ArchiveError(f"{where}: cannot be read ({type(exc).__name__})") from exc
    raise ArchiveError(f"{where}: no response record there")


def referred_page(data_dir: Path, record_id: str | None, url: str | None, date: str | None,
                  max_size: int = MAX_BODY) -> ArchivedPage | None:
    """The response a revisit record refers to: by its WARC-Record-ID (WARC-Refers-To), else by its URL
    and time (WARC-Refers-To-Target-URI and -Date); None when the data dir's WARC files hold neither.
    Reads every file, headers only, up to the one it finds."""
    for path in warc_files(data_dir):
        try:
            with path.open("rb") as handle:
                for record in ArchiveIterator(handle, no_record_parse=True):
                    if record.rec_type != "response":
                        continue
                    headers = record.rec_headers
                    if (record_id and headers.get_header("WARC-Record-ID") == record_id) or (
                            not record_id and url and headers.get_header("WARC-Target-URI") == url
                            and headers.get_header("WARC-Date") == date):
                        record.http_headers = _HTTP.parse(record.raw_stream)
                        return _page(record, max_size)
        except (ArchiveLoadFailed, ValueError, EOFError) as exc:
            raise ArchiveError(f"{path}: not a readable WARC file ({exc})") from exc
    return None


def page_of(data_dir: Path, article_id: str, errors: Errors = "raise", max_size: int = MAX_BODY
            ) -> ArchivedPage:
    """The archived page of the newest stored version of *article_id*."""
    record = next((r for r in iter_articles(data_dir, errors=errors) if r["article_id"] == article_id), None)
    if record is None:
        raise ArchiveError(f"article {article_id} is not in {data_dir}")
    if not record.get("warc"):
        raise ArchiveError(f"article {article_id} was stored without its page (a crawl with the archive "
                           "off, or a schema version 1 record)")
    try:
        return archived_page(data_dir, record["warc"], max_size)
    except ArchiveError as exc:
        raise ArchiveError(f"article {article_id}: its archived page {exc}") from exc


def warc_files(data_dir: Path) -> list[Path]:
    """The WARC files of a data dir, oldest first."""
    return sorted((data_dir / WARC_DIR).glob("*.warc.gz")) + sorted((data_dir / WARC_DIR).glob("*.warc"))


@dataclass(frozen=True)
class Capture:
    """Where the newest archived response of a URL is, and what it held (its payload digest)."""

    url: str
    date: str
    digest: str
    pointer: dict[str, Any]


def latest_captures(data_dir: Path, want: Callable[[str], bool] | None = None, html_only: bool = False
                    ) -> dict[str, Capture]:
    """The newest response record (status 200) of each URL (that *want* keeps; HTML only if *html_only*).

    Reads every WARC file of *data_dir* once, headers only.  A file cut short
    (a crawl killed mid-write by something that defeated the whole-record
    append, a copy interrupted) is read up to the record it was cut in, with
    a warning naming it.
    """
    files = warc_files(data_dir)
    if not files:
        raise ArchiveError(f"{data_dir}: no WARC files in {data_dir / WARC_DIR} (crawled with --no-warc?)")
    newest: dict[str, Capture] = {}
    for path in files:
        size = path.stat().st_size
        try:
            with path.open("rb") as handle:
                # HTTP headers are parsed only for the responses whose URL is a candidate (a third of
                # the scan's time otherwise); bodies are skipped, never decoded.
                records = ArchiveIterator(handle, no_record_parse=True)
                for record in records:
                    url = record.rec_headers.get_header("WARC-Target-URI") or ""
                    if record.rec_type != "response" or (want is not None and not want(url)):
                        continue
                    http = _HTTP.parse(record.raw_stream)
                    content_type = (http.get_header("Content-Type") or "html").lower()
                    if http.get_statuscode() != "200" or (html_only and "html" not in content_type):
                        continue
                    offset = records.get_record_offset()  # reads to the record's end, for its length
                    length = records.get_record_length()
                    if offset + length >= size and not _whole(path, offset):
                        logger.warning("%s: cut short in the record at byte %d (%s); the records before "
                                       "it are used", path, offset, url)
                        break
                    date = record.rec_headers.get_header("WARC-Date")
                    capture = Capture(url, date, record.rec_headers.get_header("WARC-Payload-Digest") or "", {
                        "file": str(path.relative_to(data_dir)), "offset": offset, "length": length,
                        "record_id": record.rec_headers.get_header("WARC-Record-ID")})
                    if url not in newest or newest[url].date <= date:
                        newest[url] = capture
        except (ArchiveLoadFailed, ValueError, EOFError, OSError) as exc:
            raise ArchiveError(f"{path}: not a readable WARC file ({exc})") from exc
    return newest


def member_end(data: bytes, start: int) -> int | None:
    """Where the gzip member starting at *start* of *data* ends, or None if it does not end (cut
    short, or not gzip).

    >>> import gzip
    >>> first = gzip.compress(b"a")
    >>> data = first + gzip.compress(b"b")
    >>> member_end(data, 0) == len(first), member_end(data, len(first)) == len(data)
    (True, True)
    >>> member_end(data[:-3], len(first)), member_end(b"not gzip", 0)
    (None, None)
    """
    inflate = zlib.decompressobj(wbits=31)
    pending = data[start:]
    try:  # what it inflates to is not kept: a record's gzip member may be a bomb too
        while not inflate.eof:
            chunk = inflate.decompress(pending, _CHUNK)
            pending = inflate.unconsumed_tail
            if not chunk and not pending:
                break
    except zlib.error:
        return None
    return len(data) - len(inflate.unused_data) if inflate.eof else None


def _whole(path: Path, offset: int) -> bool:
    """Whether the gzip member at *offset* (the file's last: a record, at most DOWNLOAD_MAXSIZE of
    body) ends as a gzip member must."""
    with path.open("rb") as handle:
        handle.seek(offset)
        return member_end(handle.read(), 0) is not None


def iter_responses(path: Path, max_size: int = MAX_BODY) -> Iterator[ArchivedPage]:
    """Every response record of one WARC file, in order (:class:`BodyTooLarge` for a body larger than
    *max_size* decoded)."""
    try:
        with path.open("rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "response":
                    yield _page(record, max_size)
    except BodyTooLarge as exc:
        raise BodyTooLarge(f"{path}: a body {exc}; not read") from exc
    except (ArchiveLoadFailed, ValueError, EOFError) as exc:
        raise ArchiveError(f"{path}: not a readable WARC file ({exc})") from exc
