"""What the crawl's components may ask of its spider, declared once: the hosts it keeps to, and
what its listings led to.  A spider without them (a test's, Scrapy's own) is answered for.

>>> class Plain: ...
>>> allowed_hosts(Plain()), listed_not_reached(Plain())
(frozenset(), set())
>>> from newsspider.spiders.bannedbook import BannedbookSpider
>>> spider = BannedbookSpider(start_urls="https://www.bannedbook.org/")
>>> isinstance(spider, Scoped) and isinstance(spider, Listings)
True
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Listings", "Scoped", "allowed_hosts", "listed_not_reached"]


@runtime_checkable
class Scoped(Protocol):
    """A spider that keeps to the hosts of its start URLs (a redirect elsewhere leaves the crawl)."""

    allowed_hosts: frozenset[str]


@runtime_checkable
class Listings(Protocol):
    """A spider that remembers which articles its listings showed, while the crawl has stored nothing."""

    #: ids the listings showed that the memory had not stored
    listed_new: set[str]
    #: ids whose page could not be fetched (failed, or forbidden by robots.txt)
    unreachable: set[str]


def allowed_hosts(spider: object) -> frozenset[str]:
    """The hosts (``host:port``) *spider* keeps to; empty when it says nothing of them."""
    return spider.allowed_hosts if isinstance(spider, Scoped) else frozenset()


def listed_not_reached(spider: object) -> set[str]:
    """The ids the listings showed, not stored before, whose page did not fail: should have been stored."""
    return spider.listed_new - spider.unreachable if isinstance(spider, Listings) else set()
