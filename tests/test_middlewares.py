"""The downloader middlewares, each built by ``from_crawler`` on a crawler of Scrapy's test helper
(``get_crawler``) and handed real requests and responses; the crawls of tests/test_crawl.py and
tests/test_faults.py show them at work in a whole crawl."""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Callable
from time import monotonic
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy.core.downloader import Downloader, Slot
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Request, Response, TextResponse
from scrapy.utils.test import get_crawler

from newsspider.core import stats as keys
from newsspider.crawl.middlewares import CharsetFix, MetaRefresh, RetryAfter
from newsspider.extract.loaders import load_article

PAGE = "<html><head><meta charset='gbk'></head><body><p>中国</p></body></html>"


def crawler(**settings: Any) -> Crawler:
    made = get_crawler(settings_dict=settings)
    made.stats.open_spider()
    return made


def test_charset_fix_decodes_a_page_by_what_its_bytes_are_when_the_header_lies() -> None:
    made = crawler()
    middleware = CharsetFix.from_crawler(made)
    request = Request("http://example.org/a")
    lying = HtmlResponse(request.url, body=PAGE.encode("gbk"), request=request,
                         headers={"Content-Type": "text/html; charset=utf-8"})
    fixed = middleware.process_response(request, lying)
    assert isinstance(fixed, TextResponse) and fixed.encoding == "gb18030" and "中国" in fixed.text
    assert made.stats.get_value(keys.CHARSET_FIXED) == 1


ENTRY = ('<html><head><meta charset="{charset}"><title>标题</title></head>'
         "<body><div class='entry'><p>中国</p></div></body></html>")


@pytest.mark.parametrize(("body", "header"), [
    # UTF-8 with a byte order mark, the header and the <meta> both wrong (the bytes decode with the
    # <meta>'s charset, so that a charset fix would take it)
    (codecs.BOM_UTF8 + ENTRY.format(charset="windows-1252").encode(), "gbk"),
    # UTF-16 with a byte order mark, sent as UTF-8
    (codecs.BOM_UTF16_LE + ENTRY.format(charset="utf-8").encode("utf-16-le"), "utf-8"),
    (codecs.BOM_UTF16_BE + ENTRY.format(charset="utf-8").encode("utf-16-be"), "utf-8"),
])
def test_a_byte_order_mark_decides_the_encoding_and_the_page_is_read(body: bytes, header: str) -> None:
    made = crawler()
    middleware = CharsetFix.from_crawler(made)
    request = Request("http://127.0.0.1/bnews/cnnews/20240101/1.html")
    page = HtmlResponse(request.url, body=body, request=request,
                        headers={"Content-Type": f"text/html; charset={header}"})
    read = middleware.process_response(request, page)
    assert isinstance(read, TextResponse) and "<p>中国</p>" in read.text
    article = load_article(read)
    assert (article.title, article.body) == ("标题", "中国")


def test_charset_fix_leaves_a_right_header_and_bytes_that_are_not_text_alone() -> None:
    made = crawler()
    middleware = CharsetFix.from_crawler(made)
    request = Request("http://example.org/a")
    right = HtmlResponse(request.url, body=PAGE.encode("gbk"), request=request,
                         headers={"Content-Type": "text/html; charset=gbk"})
    image = Response(request.url, body=b"\xff\xd8\xff", request=request,
                     headers={"Content-Type": "image/jpeg; charset=utf-8"})
    assert middleware.process_response(request, right) is right
    assert middleware.process_response(request, image) is image
    assert made.stats.get_value(keys.CHARSET_FIXED) is None


@pytest.mark.parametrize("settings", [{"RETRY_ENABLED": False}, {"NEWSSPIDER_MAX_RETRY_AFTER": 0}])
def test_retry_after_is_off_without_retries_or_a_wait(settings: dict[str, Any]) -> None:
    with pytest.raises(NotConfigured):
        RetryAfter.from_crawler(crawler(**{"NEWSSPIDER_MAX_RETRY_AFTER": 600, **settings}))


def _slot_of(made: Crawler, request: Request) -> Slot:
    """The download slot of *request*'s host in a real Downloader, as the engine would hold it."""
    downloader = Downloader(made)
    slot = Slot(concurrency=8, delay=0.0)
    downloader.slots[downloader.get_slot_key(request)] = slot
    made.engine = SimpleNamespace(downloader=downloader)  # type: ignore[assignment]  (only its downloader)
    return slot


def busy(status: int, retry_after: str, request: Request) -> Response:
    return HtmlResponse(request.url, status=status, headers={"Retry-After": retry_after}, request=request)


def in_a_loop(test: Callable[[], None]) -> None:
    """Run *test* inside a running asyncio loop, as the crawl's middlewares run (the pause's timer
    and the downloader's handlers need one)."""
    async def run() -> None:
        test()

    asyncio.run(run())


def test_retry_after_holds_back_the_whole_host_for_the_wait_up_to_the_most_allowed() -> None:
    in_a_loop(_holds_back)


def _holds_back() -> None:
    made = crawler(NEWSSPIDER_MAX_RETRY_AFTER=60, RETRY_TIMES=2)
    middleware = RetryAfter.from_crawler(made)
    request = Request("http://example.org/bnews/a.html")
    slot = _slot_of(made, request)
    response = busy(503, "30", request)
    assert middleware.process_response(request, response) is response  # Scrapy's retry takes it
    # the slot (every request to this host) waits until 30 s from now
    assert slot.delay == RetryAfter.MIN_DELAY
    assert monotonic() + 29 < slot.lastseen + slot.delay <= monotonic() + 30
    assert made.stats.get_value(keys.RETRY_AFTER_WAITS) == 1
    middleware.process_response(request, busy(429, "3600", request))  # an hour asked: the most allowed
    assert slot.lastseen + slot.delay <= monotonic() + 60


@pytest.mark.parametrize(("status", "retry_after", "meta"), [
    (503, "30", {"retry_times": 2}),  # the last retry was made: nothing left to wait for
    (503, "soon", {}),  # not a number of seconds nor a date
    (500, "30", {}),  # not a "come back later" status
])
def test_retry_after_does_not_wait_for_nothing(status: int, retry_after: str, meta: dict[str, Any]) -> None:
    in_a_loop(lambda: _does_not_wait(status, retry_after, meta))


def _does_not_wait(status: int, retry_after: str, meta: dict[str, Any]) -> None:
    made = crawler(NEWSSPIDER_MAX_RETRY_AFTER=60, RETRY_TIMES=2)
    middleware = RetryAfter.from_crawler(made)
    request = Request("http://example.org/bnews/a.html", meta=meta)
    slot = _slot_of(made, request)
    before = slot.lastseen
    middleware.process_response(request, busy(status, retry_after, request))
    assert (slot.delay, slot.lastseen) == (0.0, before)
    assert made.stats.get_value(keys.RETRY_AFTER_WAITS) is None


def test_meta_refresh_follows_a_good_refresh_and_keeps_a_page_whose_base_is_broken() -> None:
    made = crawler()
    middleware = MetaRefresh.from_crawler(made)
    request = Request("http://example.org/a")
    good = HtmlResponse(request.url, request=request,
                        body=b'<html><head><meta http-equiv="refresh" content="0;url=/b"></head></html>')
    followed = middleware.process_response(request, good)
    assert isinstance(followed, Request) and followed.url == "http://example.org/b"
    broken = HtmlResponse(request.url, request=request, body=b'<html><head><base href="http://[bad">'
                          b'<meta http-equiv="refresh" content="0;url=/b"></head></html>')
    assert middleware.process_response(request, broken) is broken  # kept, not a failed download
    assert made.stats.get_value(keys.skipped("bad_url")) == 1
