"""What newsspider relies on in Scrapy beyond its documented API, checked against the installed Scrapy:
an upgrade that changes one of these fails here, by name, instead of somewhere in a crawl."""

from __future__ import annotations

import inspect

import pytest
import scrapy.downloadermiddlewares.robotstxt
from scrapy.core.downloader import Downloader, Slot
from scrapy.core.engine import ExecutionEngine, _Slot
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from newsspider.core.failures import failure_reason


def test_a_download_slot_has_the_delay_and_lastseen_retry_after_moves() -> None:
    # newsspider.core.engine.hold_slot (RetryAfter.pause, the clearance) holds requests back through these
    slot = Slot(1, 0.0)
    assert isinstance(slot.delay, float) and isinstance(slot.lastseen, (int, float))
    assert callable(Downloader.get_slot_key) and "self.slots" in inspect.getsource(Downloader.__init__)


def test_the_redirect_limit_is_the_reason_newsspider_names() -> None:
    middleware = RedirectMiddleware.from_crawler(get_crawler(settings_dict={"REDIRECT_MAX_TIMES": 1}))
    request = Request("http://example.org/a", meta={"redirect_times": 1})
    response = HtmlResponse("http://example.org/a", status=302, headers={"Location": "/b"}, request=request)
    with pytest.raises(IgnoreRequest) as raised:
        middleware.process_response(request, response)
    assert failure_reason(raised.value) == "redirect_limit"


def test_robots_txt_refusals_say_what_newsspider_matches() -> None:
    assert '"Forbidden by robots.txt"' in inspect.getsource(scrapy.downloadermiddlewares.robotstxt)
    assert failure_reason(IgnoreRequest("Forbidden by robots.txt")) == "robots_txt"


def test_the_engine_slot_says_when_the_spider_is_closing() -> None:
    # newsspider.core.engine.stopping reads it: a stopping crawl's hung downloads are cancelled
    assert "self.closing = Deferred()" in inspect.getsource(_Slot.close)
    assert "self._slot.close()" in inspect.getsource(ExecutionEngine.close_spider_async)
