"""Downloader middleware: decode pages whose HTTP charset is wrong with the charset they declare."""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler
from scrapy.http import Request, Response, TextResponse
from scrapy.statscollectors import StatsCollector
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, resolve_encoding

__all__ = ["CharsetFix", "choose_encoding"]

logger = logging.getLogger(__name__)

# Charsets a server sends by default that decode any bytes, so they cannot be caught by decoding.
_ANY_BYTES = {"cp1252", "latin_1", "iso8859-1", "ascii"}


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def choose_encoding(body: bytes, header: str | None) -> str | None:
    """The encoding to decode *body* with when the HTTP header's *header* is wrong, else ``None``.

    A header is wrong when the body does not decode with it, or when it names a
    catch-all Western charset but the body is valid UTF-8 beyond ASCII.  Then
    the charset the page declares (``<meta>``) wins if the body decodes with
    it, else UTF-8 if it decodes.

    >>> page = '<meta charset="gbk"><p>中国</p>'.encode("gbk")
    >>> choose_encoding(page, "utf-8")
    'gb18030'
    >>> choose_encoding("<p>中国</p>".encode(), "iso-8859-1")
    'utf-8'
    >>> choose_encoding("<p>中国</p>".encode(), "utf-8") is None
    True
    """
    if not header:
        return None
    header = resolve_encoding(header) or header
    wrong = not _decodes(body, header) or (
        header in _ANY_BYTES and not body.isascii() and _decodes(body, "utf-8")
    )
    if not wrong:
        return None
    declared = html_body_declared_encoding(body)
    declared = resolve_encoding(declared) if declared else None
    if declared and declared != header and _decodes(body, declared):
        return declared
    return "utf-8" if header != "utf-8" and _decodes(body, "utf-8") else None


class CharsetFix:
    """Re-decode text responses whose ``Content-Type`` charset does not fit their bytes."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CharsetFix:
        return cls(crawler.stats)

    def process_response(self, request: Request, response: Response) -> Response:
        if not isinstance(response, TextResponse):
            return response
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        header = http_content_type_encoding(content_type)
        encoding = choose_encoding(response.body, header)
        if encoding is None:
            return response
        self.stats.inc_value("newsspider/charset_fixed")
        logger.info("decoding %s as %s: its HTTP header says %s", response.url, encoding, header)
        return response.replace(encoding=encoding)
