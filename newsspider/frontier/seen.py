"""What a crawl has seen, in about 10 bytes an entry, so that its memory stays flat in the site's size.

A crawl remembers, for as long as it runs, every URL it requested (the spider's
:class:`~newsspider.spiders.bannedbook.SeenUrls`), every request's fingerprint (the
dupefilter), and every article id it met and stored.  As Python sets these took 70–120 bytes an
entry, some 370 bytes an article in all: 70 MB more at 200,000 articles than at 20,000.
:class:`SeenKeys` keeps 64-bit keys in a sorted ``array`` (8 bytes each) with a small set of the
latest ones in front, merged into the array when it reaches an eighth of it.

:class:`CompactDupeFilter` is Scrapy's ``RFPDupeFilter`` over a :class:`SeenKeys` of the first 8
bytes of each fingerprint, writing ``JOBDIR/requests.seen`` in the format Scrapy documents for it
(a big-endian 2-byte length, then the fingerprint), so that a job saved by either resumes with the
other.  Two requests collide on 64 bits with a chance of about n² / 2⁶⁵: one in a million for 5
million requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.dupefilters import RFPDupeFilter
from scrapy.utils.job import job_dir

from newsspider.core.seen import SeenKeys, id_key, text_key

__all__ = ["CompactDupeFilter", "SeenKeys", "id_key", "read_fingerprints", "text_key"]

_SEEN_FILE = "requests.seen"
_LENGTH_BYTES = 2  # each fingerprint in requests.seen: its length, big-endian, then its bytes


def read_fingerprints(data: bytes) -> Iterator[bytes]:
    """The fingerprints of a ``requests.seen`` file's bytes, one at a time; a record cut short at
    the end (a crawl killed while writing it) is left out.

    >>> list(read_fingerprints(b"\\x00\\x02ab\\x00\\x01c\\x00\\x05de"))
    [b'ab', b'c']
    """
    at = 0
    while at + _LENGTH_BYTES <= len(data):
        end = at + _LENGTH_BYTES + int.from_bytes(data[at:at + _LENGTH_BYTES], "big")
        if end > len(data):
            return
        yield data[at + _LENGTH_BYTES:end]
        at = end


class CompactDupeFilter(RFPDupeFilter):
    """Scrapy's request fingerprint dupefilter over :class:`SeenKeys` (``DUPEFILTER_CLASS``)."""

    def __init__(self, path: str | None = None, debug: bool = False, *, fingerprinter: Any = None) -> None:
        super().__init__(None, debug, fingerprinter=fingerprinter)
        self.seen = SeenKeys()
        self.seen_file: IO[bytes] | None = None
        if path:
            self.seen_file = Path(path, _SEEN_FILE).open("a+b")  # noqa: SIM115 - open until close()
            self.seen_file.seek(0)
            for fingerprint in read_fingerprints(self.seen_file.read()):
                self.seen.add(int.from_bytes(fingerprint[:8], "big"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CompactDupeFilter:
        return cls(job_dir(crawler.settings), crawler.settings.getbool("DUPEFILTER_DEBUG"),
                   fingerprinter=crawler.request_fingerprinter)

    def request_seen(self, request: Request) -> bool:
        fingerprint = self.fingerprinter.fingerprint(request)
        key = int.from_bytes(fingerprint[:8], "big")
        if key in self.seen:
            return True
        self.seen.add(key)
        if self.seen_file:
            self.seen_file.write(len(fingerprint).to_bytes(_LENGTH_BYTES, "big") + fingerprint)
        return False

    def close(self, reason: str) -> None:
        if self.seen_file:
            self.seen_file.close()
