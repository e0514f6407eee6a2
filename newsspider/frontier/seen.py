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

import hashlib
import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.dupefilters import RFPDupeFilter
from scrapy.utils.job import job_dir

#: the set in front of the sorted array is merged into it when it holds this many, or an eighth of it
_MIN_RECENT = 4096
_SEEN_FILE = "requests.seen"
_LENGTH_BYTES = 2  # each fingerprint in requests.seen: its length, big-endian, then its bytes


def text_key(text: str) -> int:
    """A 64-bit key for *text* (its BLAKE2b digest of 8 bytes).

    >>> text_key("http://a/1") == text_key("http://a/1") != text_key("http://a/2")
    True
    >>> 0 <= text_key("") < 2 ** 64
    True
    """
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def id_key(article_id: str) -> int:
    """A 64-bit key for an article id: the id itself when it is a number that fits (the site's
    ids are), else its digest.

    >>> id_key("2054368"), id_key("2054368") == id_key("x1"), id_key("x1") == id_key("x1")
    (2054368, False, True)
    """
    if article_id.isdigit() and len(article_id) < 19:
        return int(article_id)
    return text_key(article_id)


class SeenKeys:
    """A set of keys in ``[0, 2⁶⁴)``: ``add``, ``in`` and ``len``, at about 10 bytes an entry.

    >>> seen = SeenKeys()
    >>> for key in range(10_000, 0, -1): seen.add(key * 7)
    >>> seen.add(7); (len(seen), 7 in seen, 8 in seen, 70_000 in seen, 70_007 in seen)
    (10000, True, False, True, False)
    """

    def __init__(self) -> None:
        self._sorted = array("Q")
        self._recent: set[int] = set()

    def __contains__(self, key: object) -> bool:
        if key in self._recent:
            return True
        if not isinstance(key, int):
            return False
        at = bisect_left(self._sorted, key)
        return at < len(self._sorted) and self._sorted[at] == key

    def add(self, key: int) -> None:
        if key in self:
            return
        self._recent.add(key)
        if len(self._recent) >= max(_MIN_RECENT, len(self._sorted) >> 3):
            self._sorted = array("Q", heapq.merge(self._sorted, sorted(self._recent)))
            self._recent = set()

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)


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
