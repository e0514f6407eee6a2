"""What a crawl has seen, in about 10 bytes an entry: 64-bit keys of URLs and article ids, and the set
that holds them (pure; no Scrapy). :mod:`newsspider.frontier.seen` builds the duplicate filter on it."""

from __future__ import annotations

import hashlib
import heapq
from array import array
from bisect import bisect_left

__all__ = ["SeenKeys", "id_key", "text_key"]

#: the set in front of the sorted array is merged into it when it holds this many, or an eighth of it
_MIN_RECENT = 4096


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
