"""Scrapy's engine internals, read in one place (not an API: tests/test_scrapy_contract.py checks that
the installed Scrapy has them; a Scrapy without them gets no effect rather than a crash)."""

from __future__ import annotations

from time import monotonic
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler

__all__ = ["download_slot", "hold_slot", "stopping"]


def download_slot(crawler: Crawler, request: Request) -> Any | None:
    """The downloader's slot of *request* (its host's), with the ``delay`` and ``lastseen`` newsspider
    relies on; None without an engine, a slot, or those attributes."""
    engine: Any = crawler.engine
    if engine is None:
        return None
    downloader = engine.downloader
    slot = downloader.slots.get(downloader.get_slot_key(request))
    if slot is None or not (hasattr(slot, "delay") and hasattr(slot, "lastseen")):
        return None
    return slot


def hold_slot(crawler: Crawler, request: Request, wait: float | None = None) -> Any | None:
    """Hold back the next request of *request*'s download slot: the slot's delay from now, or with
    *wait*, *wait* seconds from now (the downloader holds a slot's requests until lastseen + delay).
    The slot, or None when there is none."""
    slot = download_slot(crawler, request)
    if slot is not None:
        now = monotonic()
        slot.lastseen = max(slot.lastseen, now if wait is None else now + wait - slot.delay)
    return slot


def stopping(crawler: Crawler) -> bool:
    """Whether the crawl is stopping: its engine stopped (a signal), or closing the spider (a bound, a
    fatal error; Scrapy's engine slot has ``closing`` set then)."""
    engine = crawler.engine
    if engine is None:
        return False
    if not engine.running:
        return True
    slot = getattr(engine, "_slot", None)
    return slot is not None and getattr(slot, "closing", None) is not None
