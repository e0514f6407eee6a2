"""The archived images and stylesheets of a data dir, found by URL: what replay shows an archived page with.

:class:`Assets` indexes the responses (status 200) of the data dir's WARC
files whose Content-Type is an image or a stylesheet (:func:`is_asset`), by
their canonical URL (:func:`asset_key`).  The index is built the first time it
is asked for and kept in memory; WARC files are only ever appended to, so each
later :meth:`Assets.refresh` reads only what was added since (a crawl running
while the archive is browsed) and never a file twice.  Records are read
headers only, bodies skipped; a body is read when it is served, by
:func:`~newsspider.archive.reader.archived_page` (confined to ``DATA_DIR/warc/``,
never more than the crawl's size limit).  A file that is cut short or not a WARC
is indexed up to the record where it stops, with a warning; a record cut short
at the end of a file being written is read again at the next refresh.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from w3lib.url import canonicalize_url
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from newsspider.archive.reader import _HTTP, member_end, warc_files

__all__ = ["Asset", "Assets", "asset_key", "is_asset"]

logger = logging.getLogger(__name__)


def is_asset(content_type: str | None) -> bool:
    """Whether a response of *content_type* is what replay serves: an image or a stylesheet.

    >>> [is_asset(t) for t in ("image/png", "Text/CSS; charset=UTF-8", "text/html", "image", None)]
    [True, True, False, False, False]
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "text/css" or (media.startswith("image/") and len(media) > len("image/"))


def asset_key(url: str) -> str | None:
    """*url* as the index keys it (canonical: query sorted, percent-encoding normalized, no fragment);
    None for a URL that is not http(s).

    >>> asset_key("https://Example.org/a b.css?v=2&a=1#x")
    'https://example.org/a%20b.css?a=1&v=2'
    >>> asset_key("data:image/png;base64,AA=="), asset_key("http://[::1/a")
    (None, None)
    """
    if not url.lower().startswith(("http://", "https://")):
        return None
    try:
        return canonicalize_url(url.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Asset:
    """An archived image or stylesheet: its URL, capture time, Content-Type and record pointer."""

    url: str
    date: str
    content_type: str
    pointer: dict[str, Any]


def _when(date: str) -> float:
    try:
        return datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


class Assets:
    """The archived images and stylesheets of *data_dir*, by URL (module docstring)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._lock = threading.Lock()
        self._scanned: dict[Path, int] = {}  # a file and the byte its indexed records end at
        self._index: dict[str, list[Asset]] = {}
        self._unreadable: dict[Path, int] = {}  # a file that could not be read further, at its size then

    def refresh(self) -> None:
        """Index what was appended to the WARC files since the last refresh (everything, the first time)."""
        with self._lock:
            for path in warc_files(self.data_dir):
                try:
                    size = path.stat().st_size
                except OSError:
                    continue
                if size > self._scanned.get(path, 0) and size != self._unreadable.get(path):
                    self._scan(path, size)

    def _scan(self, path: Path, size: int) -> None:
        start = self._scanned.get(path, 0)
        name = str(path.relative_to(self.data_dir))
        try:
            with path.open("rb") as handle:
                handle.seek(start)
                records = ArchiveIterator(handle, no_record_parse=True)
                for record in records:
                    asset = None
                    if record.rec_type == "response":
                        http = _HTTP.parse(record.raw_stream)
                        content_type = http.get_header("Content-Type") or ""
                        if http.get_statuscode() == "200" and is_asset(content_type):
                            asset = (record.rec_headers.get_header("WARC-Target-URI") or "", content_type,
                                     record.rec_headers.get_header("WARC-Date") or "",
                                     record.rec_headers.get_header("WARC-Record-ID") or "")
                    offset = records.get_record_offset()  # reads to the record's end
                    length = records.get_record_length()
                    if offset + length >= size:  # the file's last record: whole, or being written?
                        handle.seek(offset)
                        if member_end(handle.read(size - offset), 0) is None:
                            break
                    self._scanned[path] = offset + length
                    if asset is not None and (key := asset_key(asset[0])):
                        url, content_type, date, record_id = asset
                        self._index.setdefault(key, []).append(Asset(url, date, content_type, {
                            "file": name, "offset": offset, "length": length, "record_id": record_id}))
                    if offset + length >= size:
                        break
        except (ArchiveLoadFailed, ValueError, EOFError, OSError) as exc:
            logger.warning("%s: not readable as WARC past byte %d (%s); its images and stylesheets before "
                           "that are shown", path, self._scanned.get(path, start), exc)
            self._unreadable[path] = size  # not tried again until it grows

    def find(self, url: str, at: str | None = None) -> Asset | None:
        """The archived capture of *url* nearest in time to *at* (a WARC-Date: the page's), else the newest;
        None when it was not archived (as an image or a stylesheet)."""
        key = asset_key(url)
        captures = self._index.get(key, []) if key else []
        if not captures:
            return None
        if at:
            when = _when(at)
            return min(reversed(captures), key=lambda a: abs(_when(a.date) - when))
        return max(reversed(captures), key=lambda a: _when(a.date))
