"""Reading sitemaps (sitemaps.org's ``urlset`` and ``sitemapindex``, Google's news sitemaps), streaming.

:func:`entries` reads a sitemap's bytes (gzip-compressed or not: told by its magic bytes) with
lxml's ``iterparse``, clearing each entry once read, so that a 50,000-URL file costs no more memory
than a small one beside its bytes (Scrapy's :mod:`scrapy.utils.sitemap` builds the whole tree).
Entities are not resolved, no DTD is loaded and nothing is fetched.  Nothing here fetches anything:
the crawl's discovery (:mod:`newsspider.spiders.sitemaps`) does.

>>> body = b'''<?xml version="1.0" encoding="UTF-8"?>
... <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
...         xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
...  <url><loc> http://a.example/bnews/x/20240101/1.html </loc>
...   <lastmod>2024-01-02T10:00:00+08:00</lastmod></url>
...  <url><loc>http://a.example/bnews/x/20240103/2.html</loc>
...   <news:news><news:publication_date>2024-01-03</news:publication_date></news:news></url>
...  <url><lastmod>2024-01-01</lastmod></url>
... </urlset>'''
>>> for entry in entries(body): print(entry)
Entry(loc='http://a.example/bnews/x/20240101/1.html', lastmod='2024-01-02T02:00:00+00:00', index=False)
Entry(loc='http://a.example/bnews/x/20240103/2.html', lastmod='2024-01-03', index=False)
>>> index = b'''<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
... <sitemap><loc>http://a.example/post-sitemap1.xml</loc><lastmod>2024-05-01T00:00:00Z</lastmod></sitemap>
... </sitemapindex>'''
>>> list(entries(index))
[Entry(loc='http://a.example/post-sitemap1.xml', lastmod='2024-05-01T00:00:00+00:00', index=True)]
>>> import gzip; list(entries(gzip.compress(index))) == list(entries(index))
True
>>> list(entries(b"<html><body>not a sitemap</body></html>"))
Traceback (most recent call last):
...
newsspider.extract.sitemaps.SitemapError: not a sitemap: <html>
>>> list(entries(b"User-agent: *"))
Traceback (most recent call last):
...
newsspider.extract.sitemaps.SitemapError: not XML: Start tag expected, '<' not found, line 1, column 1
>>> list(entries(b"\\x1f\\x8b not really gzip"))
Traceback (most recent call last):
...
newsspider.extract.sitemaps.SitemapError: not gzip: Unknown compression method
>>> list(entries(gzip.compress(b" " * 2000 + index), max_size=1000))
Traceback (most recent call last):
...
newsspider.extract.sitemaps.SitemapError: over 1000 bytes once decompressed
>>> entity = b'<!DOCTYPE u [<!ENTITY e SYSTEM "file:///etc/passwd">]><urlset><url><loc>&e;</loc></url></urlset>'
>>> list(entries(entity))  # an entity is not resolved: no file is read, no URL made of it
[]
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone

from lxml import etree
from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from scrapy.utils.gz import gunzip

__all__ = ["MAX_ENTRIES", "Entry", "SitemapError", "changed_since", "entries", "lastmod_day"]

#: the entries a sitemap may hold (sitemaps.org's limit); those past it are not read
MAX_ENTRIES = 50_000
_GZIP_MAGIC = b"\x1f\x8b"
_ENTRY_TAGS = {"urlset": "url", "sitemapindex": "sitemap"}


class SitemapError(ValueError):
    """A sitemap that cannot be read; *what* says why in a word (``not_xml``, ``not_sitemap``,
    ``not_gzip``, ``too_large``)."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(message)
        self.what = what


@dataclass(frozen=True)
class Entry:
    """One ``<url>`` of a urlset, or one ``<sitemap>`` of an index (*index*)."""

    loc: str
    #: ``YYYY-MM-DD``, or a time in UTC (ISO 8601); None when absent or not a date
    lastmod: str | None
    index: bool


def _local(tag: object) -> str:
    """An element's name without its namespace (sitemaps come with and without one)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def normal_lastmod(text: str | None) -> str | None:
    """A W3C datetime as ``YYYY-MM-DD`` (a day) or an ISO 8601 time in UTC; None when it is none.

    >>> normal_lastmod("2024-07-01"), normal_lastmod(" 2024-07-01T09:30:00+08:00 ")
    ('2024-07-01', '2024-07-01T01:30:00+00:00')
    >>> normal_lastmod("2024-07-01T09:30Z"), normal_lastmod("2024-07-01T09:30:00")  # no zone: UTC
    ('2024-07-01T09:30:00+00:00', '2024-07-01T09:30:00+00:00')
    >>> normal_lastmod("yesterday"), normal_lastmod(""), normal_lastmod(None)
    (None, None, None)
    """
    text = (text or "").strip()
    if len(text) == 10:
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    when = when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    return when.isoformat(timespec="seconds")


def lastmod_day(lastmod: str | None) -> str:
    """The day (``YYYY-MM-DD``, UTC) of a normal lastmod; ``""`` when none.

    >>> lastmod_day("2024-07-01T01:30:00+00:00"), lastmod_day("2024-07-01"), lastmod_day(None)
    ('2024-07-01', '2024-07-01', '')
    """
    return (lastmod or "")[:10]


def changed_since(lastmod: str | None, captured: str | None) -> bool:
    """Whether an entry whose lastmod is *lastmod* may have changed since its capture at *captured*
    (an ISO 8601 time): yes when either is unknown, or when it is the capture's second (times are to the
    second: the edit may have followed it); a day's lastmod is compared by day (an edit later that day
    is not missed).

    >>> changed_since("2024-07-01T01:30:00+00:00", "2024-07-02T00:00:00+00:00")
    False
    >>> changed_since("2024-07-03T01:30:00+00:00", "2024-07-02T00:00:00Z")
    True
    >>> changed_since("2024-07-02T00:00:00+00:00", "2024-07-02T00:00:00Z")  # the same second: maybe after
    True
    >>> late = "2024-07-02T23:00:00+00:00"
    >>> changed_since("2024-07-02", late), changed_since("2024-07-01", late)
    (True, False)
    >>> changed_since(None, late), changed_since("2024-07-01", None), changed_since("2024-07-01", "?")
    (True, True, True)
    """
    if not lastmod or not captured or (when := normal_lastmod(captured)) is None:
        return True
    if len(lastmod) == 10:
        return lastmod >= when[:10]
    return datetime.fromisoformat(lastmod) >= datetime.fromisoformat(when)


def entries(body: bytes, max_size: int = 0) -> Iterator[Entry]:
    """The entries of a sitemap or a sitemap index, as they are read (see the module's examples).

    A gzip body is decompressed first, to at most *max_size* bytes (0: no limit).  Raises
    :class:`SitemapError` (with what was read before it yielded) when the body is not a sitemap.
    An entry without ``<loc>`` is left out; a news sitemap's ``publication_date`` stands for the
    lastmod an entry lacks; past :data:`MAX_ENTRIES` entries, the rest is not read.
    """
    if body[:2] == _GZIP_MAGIC:
        try:
            body = gunzip(body, max_size=max_size)
        except _DecompressionMaxSizeExceeded:
            raise SitemapError("too_large", f"over {max_size} bytes once decompressed") from None
        except (OSError, EOFError, zlib.error) as exc:
            raise SitemapError("not_gzip", f"not gzip: {exc}") from None
    elif max_size and len(body) > max_size:
        raise SitemapError("too_large", f"over {max_size} bytes")
    parser = etree.iterparse(io.BytesIO(body), events=("start", "end"), resolve_entities=False,
                             no_network=True, load_dtd=False, huge_tree=False, remove_comments=True,
                             remove_pis=True)
    entry_tag = ""
    count = 0
    try:
        for event, element in parser:
            name = _local(element.tag)
            if not entry_tag:  # the root
                if name not in _ENTRY_TAGS:
                    raise SitemapError("not_sitemap", f"not a sitemap: <{name}>")
                entry_tag = _ENTRY_TAGS[name]
                continue
            if event != "end" or name != entry_tag or element.getparent() is None \
                    or element.getparent().getparent() is not None:
                continue
            entry = _entry(element, entry_tag == "sitemap")
            element.clear()
            while element.getprevious() is not None:  # what was read before it
                del element.getparent()[0]
            if entry is not None:
                yield entry
                count += 1
                if count >= MAX_ENTRIES:
                    return
    except etree.XMLSyntaxError as exc:
        raise SitemapError("not_xml", f"not XML: {exc.msg}") from None


def _entry(element: etree._Element, index: bool) -> Entry | None:
    loc = lastmod = published = None
    for child in element.iter():
        name = _local(child.tag)
        if name == "loc" and child.getparent() is element:
            loc = (child.text or "").strip()
        elif name == "lastmod" and child.getparent() is element:
            lastmod = child.text
        elif name == "publication_date":
            published = child.text
    if not loc:
        return None
    return Entry(loc, normal_lastmod(lastmod) or normal_lastmod(published), index)
