"""Reading a site's feeds (RSS 0.9x, 1.0 and 2.0, Atom) with feedparser.

:func:`items` gives what a feed lists, in its order (newest first, as WordPress writes them): each
item's link (its ``<guid>``/``<id>`` when it has none) and its publication time in UTC.  A feed that
is not well-formed XML is refused rather than read as far as it goes (feedparser's loose reading): it
may have been cut short, and what is missing from it would be missed.  feedparser resolves no external
entity and fetches nothing: it is given the bytes (as a stream: given bytes, feedparser would take them
for a file name to open first).
Nothing here fetches anything: the crawl's reading of its feeds (:mod:`newsspider.spiders.feeds`) does.

>>> body = '''<?xml version="1.0" encoding="UTF-8"?>
... <rss version="2.0"><channel><title>禁闻网</title><link>https://a.example/bnews</link>
...  <item><title>新文章</title><link>https://a.example/bnews/x/20240102/2.html</link>
...   <pubDate>Tue, 02 Jan 2024 10:00:00 +0800</pubDate><guid isPermaLink="false">https://a.example/?p=2</guid>
...  </item>
...  <item><title>没有链接</title><guid isPermaLink="false">https://a.example/?p=1</guid></item>
...  <item><title>什么也没有</title></item>
... </channel></rss>'''.encode()
>>> for item in items(body): print(item)
FeedItem(url='https://a.example/bnews/x/20240102/2.html', published='2024-01-02T02:00:00+00:00')
FeedItem(url='https://a.example/?p=1', published=None)
>>> atom = b'''<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
... <entry><title>a</title><link rel="alternate" href="https://a.example/bnews/x/20240103/3.html"/>
... <id>tag:a.example,2024:3</id><updated>2024-01-03T08:00:00Z</updated></entry></feed>'''
>>> items(atom)
[FeedItem(url='https://a.example/bnews/x/20240103/3.html', published='2024-01-03T08:00:00+00:00')]
>>> items(b"<html><body>not a feed</body></html>")
Traceback (most recent call last):
...
newsspider.extract.feeds.FeedError: not a feed
>>> items(b"/etc/passwd")  # not a file name to read: bytes that are no feed
Traceback (most recent call last):
...
newsspider.extract.feeds.FeedError: not a feed
>>> items(b" " * 2000, max_size=1000)
Traceback (most recent call last):
...
newsspider.extract.feeds.FeedError: over 1000 bytes
>>> items(body[:300])  # cut short (a server error half-way): not read as far as it goes
Traceback (most recent call last):
...
newsspider.extract.feeds.FeedError: not well-formed: <unknown>:4:86: no element found
>>> entity = b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><rss version="2.0"><channel><item>' \\
...          b'<link>&e;</link></item></channel></rss>'
>>> items(entity)  # the entity is not resolved: no file is read
Traceback (most recent call last):
...
newsspider.extract.feeds.FeedError: not well-formed: <unknown>:2:0: syntax error
"""

from __future__ import annotations

import calendar
import io
import time
import xml.sax
from dataclasses import dataclass
from datetime import datetime, timezone

import feedparser

__all__ = ["MAX_ITEMS", "FeedError", "FeedItem", "items"]

#: the items of a feed that are read (WordPress lists 10; a feed is no sitemap)
MAX_ITEMS = 1_000


class FeedError(ValueError):
    """A feed that cannot be read; *what* says why in a word (``not_feed``, ``malformed``, ``too_large``)."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(message)
        self.what = what


@dataclass(frozen=True)
class FeedItem:
    """One item of a feed."""

    url: str
    #: when it was published (or else updated), ISO 8601 in UTC; None when the feed does not say
    published: str | None


def _utc(parsed: time.struct_time | None) -> str | None:
    """feedparser's time (a struct_time in UTC) in ISO 8601.

    >>> _utc(time.gmtime(0)), _utc(None)
    ('1970-01-01T00:00:00+00:00', None)
    """
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), timezone.utc).isoformat(timespec="seconds")
    except (OverflowError, ValueError, OSError):  # a year the platform cannot hold
        return None


def items(body: bytes, max_size: int = 0) -> list[FeedItem]:
    """The items of the feed *body*, in its order (see the module's examples); at most :data:`MAX_ITEMS`.

    Raises :class:`FeedError` when *body* is larger than *max_size* (0: no limit), is no feed or is not
    well-formed.
    An item with neither a link nor a URL for its id is left out.
    """
    if max_size and len(body) > max_size:
        raise FeedError("too_large", f"over {max_size} bytes")
    parsed = feedparser.parse(io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False)
    if not parsed.get("version") and not parsed.entries:
        raise FeedError("not_feed", "not a feed")
    if isinstance(problem := parsed.get("bozo_exception"), xml.sax.SAXException):
        raise FeedError("malformed", f"not well-formed: {problem}")
    found: list[FeedItem] = []
    for entry in parsed.entries[:MAX_ITEMS]:
        url = str(entry.get("link") or "").strip()
        if not url and str(entry.get("id") or "").startswith(("http://", "https://")):
            url = str(entry["id"]).strip()
        if url:
            found.append(FeedItem(url, _utc(entry.get("published_parsed") or entry.get("updated_parsed"))))
    return found
