"""The crawl policy for bannedbook.org: what to follow, in what order.

Every page is read for links; a link is followed when its URL has the shape of
an article, a shortlink, a tag page or a listing page on one of the start
URLs' hosts.  Each URL is canonicalised (tracking parameters and fragment
removed) and turned into a request at most once per crawl; an article id is
requested at most once, whatever URL leads to it.  Article requests carry
their id (``meta["article_id"]``): :class:`~newsspider.crawl.skipstored.SkipStored`
drops those of stored articles.  A listing's pagination is followed as far as
it lists articles that are new (the crawl's memory says which are old news),
and not past pages that only repeat what the listing showed (a trap).  Across listings, a listing
page that lists no article new to the crawl's listings (a barren page) counts against the last page
before it that did (its root); past ``NEWSSPIDER_MAX_BARREN_LISTINGS`` such pages under one root,
barren pages lead to no other listing (a trap of ever-new sub-listings; the crawl says at its
end how many listings it left unfollowed), and category paths deeper
than the site's are never listings (:data:`~newsspider.extract.site.MAX_CATEGORY_DEPTH`).

With a window of time (:mod:`newsspider.core.window`), an article URL outside it is
never requested; a listing page that lists only older articles ends its
listing's pagination, and a first page that lists only newer ones sends the
crawl ahead through its page numbers (doubling, then halving the gap) to the
first page that reaches the window.

With ``NEWSSPIDER_SITEMAPS`` (on by default), the site's sitemaps are read before the start URLs
are queued (:mod:`newsspider.spiders.sitemaps`): the articles they list seed the frontier, and a
listing page whose articles in the window the sitemaps all gave does not lead on to its next page
(``skipped("sitemap_listed_pages")``), and an article page the sitemaps led to leads nowhere (what
it links to is listed in the sitemaps, or reached by the listings: the crawl does not depend on which
pages happened to be fetched before the sitemaps were all read).  A ``--refresh`` with
sitemaps that list articles walks no listing and follows no link: it fetches the articles whose
``lastmod`` is newer than their last capture, and the stored articles the sitemaps do not list.

With ``NEWSSPIDER_FEEDS`` (on by default), a recurring crawl reads the site's feed first
(:mod:`newsspider.spiders.feeds`): the new articles it lists are requested; when it reaches back to
articles stored by a run that walked the whole site, the start pages are fetched to check it, and a
start page that lists nothing new beyond it leads nowhere: the crawl walks no listing and follows no
link.  A start page that lists a new article the feed did not (a stale feed) sends the crawl through
the listings as without the feed, the start pages checked before it fetched again.  The feeds the
start pages name in ``<link rel="alternate">`` are remembered for the next run.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from parsel import Selector
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from newsspider.core import stats as keys
from newsspider.core.errors import NewsspiderError
from newsspider.core.failures import count_failure, count_left_out, failure_reason, stop_crawl
from newsspider.core.meta import ARTICLE_ID, LISTING_ROOT, SITEMAP, START
from newsspider.core.removals import ArticleGone
from newsspider.core.seen import SeenKeys, id_key, text_key
from newsspider.core.signals import request_failed
from newsspider.core.window import Window
from newsspider.extract import site
from newsspider.extract.items import Article
from newsspider.extract.loaders import (
    Problems,
    absolute_links,
    is_html,
    load_article,
    page_base,
    page_selector,
    parse_listing,
    select,
    web_urls,
)
from newsspider.extract.processors import canonical_url
from newsspider.memory import Memory
from newsspider.memory.extension import memory_of
from newsspider.spiders.feeds import FeedReader
from newsspider.spiders.sitemaps import SitemapDiscovery

# Request priorities: articles first, so that pages finish and the frontier stays small.
PRIORITY = {site.Kind.ARTICLE: 10, site.Kind.SHORTLINK: 10, site.Kind.TAG: 0, site.Kind.LISTING: 0}
# Images wait for the pages: they add to the archive, not to the crawl's reach.
PRIORITY_IMAGE = -10
_PAGE_NUMBER = re.compile(r"/page/(\d+)/?$")
#: article ids a listing's request carries from the pages before it (to tell a page that repeats them)
RECENT_IDS = 120
#: a listing whose window seems to start this many pages in or further is entered by page numbers
#: (about 2 log2(N) pages) rather than walked to it page by page
SEEK_FROM = 12
_LISTINGS = (site.Kind.LISTING, site.Kind.TAG)
#: the start pages that check the feeds come before the articles the feeds gave
PRIORITY_FEED_CHECK = 20


@dataclass(frozen=True)
class Paging:
    """What a listing's pagination has met so far (see :meth:`BannedbookSpider.parse`)."""

    old_pages: int
    stale_pages: int
    #: the ids the last pages of this listing showed, newest last (at most :data:`RECENT_IDS`)
    recent: tuple[str, ...] = ()

    def after(self, ids: list[str], old_pages: int | None = None) -> Paging:
        """The paging of the page after one that listed *ids*: stale when none is new to the listing.

        >>> p = Paging(0, 0).after(["1", "2"]); p
        Paging(old_pages=0, stale_pages=0, recent=('1', '2'))
        >>> p.after(["2", "1"]).stale_pages, p.after([]).stale_pages, p.after(["2", "3"]).stale_pages
        (1, 1, 0)
        """
        recent = set(self.recent)
        stale = 0 if any(i not in recent for i in ids) else self.stale_pages + 1
        kept = tuple(dict.fromkeys((*self.recent, *ids)))[-RECENT_IDS:]
        return Paging(self.old_pages if old_pages is None else old_pages, stale, kept)

    def kwargs(self) -> dict[str, Any]:
        return {"old_pages": self.old_pages, "stale_pages": self.stale_pages, "recent": self.recent}


@dataclass(frozen=True)
class Seek:
    """Going ahead through a listing's page numbers to the first page that reaches ``--until``.

    Page *low* lists only newer articles (the oldest of day *low_day*), page *high* (once known)
    does not (the newest of day *high_day*; None: past the end).  Days are ordinals; *newest* is
    the newest day of page 1.  The next page is guessed from the days (a listing grows at a fairly
    steady pace), every third guess halving the gap instead, so that an uneven listing costs at
    most about three binary searches.

    >>> s = Seek.start(["2026-01-10", "2026-01-01"], "2025-12-01"); s.probe()  # 9 days a page
    5
    >>> s = s.met(5, ["2025-12-05", "2025-11-28"], newer=False); (s.low, s.high, s.probe())
    (1, 5, 4)
    >>> s = s.met(4, ["2025-12-12", "2025-12-03"], newer=True); (s.low, s.high)
    (4, 5)
    """

    newest: int
    low: int
    low_day: int
    until: int
    high: int | None = None
    high_day: int | None = None
    steps: int = 0

    @classmethod
    def start(cls, first_page_days: list[str], until: str) -> Seek:
        ordinals = [date.fromisoformat(d).toordinal() for d in first_page_days]
        return cls(max(ordinals), 1, min(ordinals), date.fromisoformat(until).toordinal())

    def probe(self) -> int:
        """The page to look at next."""
        gap = max(self.low_day - self.until, 0)
        if self.high is None:
            per_page = (self.newest - self.low_day) / self.low
            guess = self.low + max(1, math.ceil(gap / per_page)) if per_page else self.low * 2
            return min(guess, self.low * 16)
        if self.high_day is None or self.steps % 3 == 2 or self.low_day <= self.high_day:
            return (self.low + self.high) // 2
        share = gap / (self.low_day - self.high_day)
        return min(max(self.low + math.ceil(share * (self.high - self.low)), self.low + 1), self.high - 1)

    def met(self, page: int, days: list[str], newer: bool) -> Seek:
        """What page *page*, listing articles of *days*, tells (*newer*: all newer than the window)."""
        ordinals = [date.fromisoformat(d).toordinal() for d in days]
        if newer:
            return replace(self, low=page, low_day=min(ordinals), steps=self.steps + 1)
        return replace(self, high=page, high_day=max(ordinals) if ordinals else None, steps=self.steps + 1)


@dataclass(frozen=True)
class Root:
    """The listing page whose listings a listing page was found through, and whether the barren pages
    under it have spent their budget (see :meth:`BannedbookSpider._root`)."""

    url: str
    spent: bool = False


class SeenUrls:
    """The URLs a crawl has requested, 8 bytes of hash each (:mod:`newsspider.frontier.seen`; a set
    of the strings took ~130 bytes a URL more: the crawl's memory grew with the site).

    >>> seen = SeenUrls(); seen.add("http://a/1"); ("http://a/1" in seen, "http://a/2" in seen, len(seen))
    (True, False, 1)

    In front of it, the last *links* links (as written: :func:`link_key`) whose URL is known to be
    requested: most links of a page (menus, breadcrumbs, tags) are on every page, and a link found here
    is skipped without being made absolute, canonical and hashed again.  Once requested a URL stays
    requested, so a link found here is one the URL test would skip too; past *links* the set is
    emptied (its memory stays flat) and fills again from the next pages.

    >>> seen = SeenUrls(links=2); seen.note_link("http://a/1"); seen.known_link("http://a/1")
    True
    >>> seen.note_link("http://a/2"); seen.note_link("http://a/3"); seen.known_link("http://a/1")
    False
    """

    def __init__(self, links: int = 8192) -> None:
        self._keys = SeenKeys()
        self._links: set[str] = set()
        self._max_links = links

    def known_link(self, link: str) -> bool:
        """Whether *link* (a :func:`link_key`) leads to a URL that was requested, as far as the
        recent links tell (False: not known, not necessarily new)."""
        return link in self._links

    def note_link(self, link: str) -> None:
        """*link* (a :func:`link_key`) leads to a URL that was requested."""
        if len(self._links) >= self._max_links:
            self._links.clear()
        self._links.add(link)

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and text_key(url) in self._keys

    def has_key(self, key: int) -> bool:
        """Whether the URL whose :func:`text_key` is *key* was requested."""
        return key in self._keys

    def add(self, url: str) -> None:
        self._keys.add(text_key(url))

    def __len__(self) -> int:
        return len(self._keys)


def link_key(base: str, href: str) -> str:
    """What names the URL an *href* of a page whose links are relative to *base* leads to: an
    absolute http(s) *href* alone (the same URL on every page), a root-relative one with the
    scheme and host of *base* (the same on every page of the host), else *href* with *base*.

    >>> link_key("http://a/x/", "http://a/bnews/"), link_key("http://a/x/", "/bnews/")
    ('http://a/bnews/', 'http://a/bnews/')
    >>> link_key("http://a/x/", "y/"), link_key("http://a/x/", "//b/y/")
    ('http://a/x/ y/', 'http://a/x/ //b/y/')
    """
    if href.startswith(("http://", "https://")):
        return href
    if href.startswith("/") and not href.startswith("//") and base.count("/") >= 3:
        return "/".join(base.split("/", 3)[:3]) + href  # as absolute_url joins it
    return f"{base} {href}"


class StartUrlError(NewsspiderError, ValueError):
    """A start URL that cannot be crawled."""


def parse_start_urls(value: str | Iterable[str] | None) -> list[str]:
    """Start URLs from a spider argument (comma- or space-separated) or a list; checked.

    >>> parse_start_urls("http://127.0.0.1:8000/bnews/, http://127.0.0.1:8000/bnews/itnews/")
    ['http://127.0.0.1:8000/bnews/', 'http://127.0.0.1:8000/bnews/itnews/']
    >>> parse_start_urls(["https://www.bannedbook.org/bnews/zh-tw/itnews/"])
    ['https://www.bannedbook.org/bnews/itnews/']
    >>> parse_start_urls("ftp://example.org/")
    Traceback (most recent call last):
    ...
    newsspider.spiders.bannedbook.StartUrlError: not an http(s) URL: 'ftp://example.org/'
    """
    if value is None:
        return []
    items = re.split(r"[,\s]+", value) if isinstance(value, str) else list(value)
    urls = []
    for raw in (item.strip() for item in items):
        if not raw:
            continue
        try:
            parts = urlsplit(raw)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            valid = False
        if not valid:
            raise StartUrlError(f"not an http(s) URL: {raw!r}")
        urls.append(canonical_url(site.simplified_url(raw)))
    return urls


class BannedbookSpider(scrapy.Spider):
    """Crawl bannedbook.org (or a copy of it at the start URLs' hosts) for articles.

    Spider arguments: ``start_urls`` (comma-separated).  Without them the
    ``NEWSSPIDER_START_URLS`` setting is used, and without that the live site.
    The other settings are read when the spider opens, after add-ons set
    their defaults.
    """

    name = "bannedbook"

    def __init__(self, start_urls: str | Iterable[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = parse_start_urls(start_urls)
        self.max_listing_pages = 0
        self.extra_old_pages = 0
        self.max_stale_pages = 5
        self.max_barren_listings = 20
        self.refresh = False
        self.max_links = 0
        self.images = False
        self.sitemaps = True
        #: the crawl's sitemaps, once read (None: off, or not read by this worker)
        self.discovery: SitemapDiscovery | None = None
        self.feeds = True
        #: the crawl's feeds, once read (None: off, not a recurring crawl, or not read by this worker)
        self.feed: FeedReader | None = None
        #: the feeds reach back: the start pages are checked against them (:meth:`_check_feed`), and
        #: the start pages that passed (fetched again should one fail)
        self.feed_check = False
        self._feed_checked: list[str] = []
        #: the feeds of all posts that this run's start pages named, remembered by the memory
        self._named_feeds: dict[str, None] = {}
        #: whether pages' links are followed: not while the sitemaps are read (a listing found then could
        #: not tell which of its pages they give; the start URLs and the pages after lead there), nor
        #: in a refresh through sitemaps
        self.follow = True
        self.window = Window()
        #: this crawl continues the frontier a stopped one saved (--resume)
        self.resumed = False
        self._expected: dict[str, int] = {}
        self.allowed_hosts: frozenset[str] = frozenset()
        self.allowed_domains: list[str] = []
        self._seen_urls = SeenUrls()
        self._seen_ids = SeenKeys()
        #: the article ids listing pages have shown, and the barren pages counted under each root
        self._listed_ids = SeenKeys()
        #: the listings a spent root's barren pages linked to, not followed from there (most are
        #: reached another way: an article's tags, a menu; those never requested are what a trap cost)
        self._barren_skipped: set[int] = set()
        self._barren: dict[int, int] = {}
        #: ids of the articles that listings showed and the memory had not stored (not with --refresh),
        #: and of the articles whose page could not be fetched (failed, or forbidden by robots.txt):
        #: kept only while the crawl has stored nothing (the check that reads them passes after that)
        self.listed_new: set[str] = set()
        self.unreachable: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> BannedbookSpider:
        spider: BannedbookSpider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        if not spider.start_urls:
            spider.start_urls = parse_start_urls(
                settings.getlist("NEWSSPIDER_START_URLS") or list(site.DEFAULT_START_URLS)
            )
        spider.window = Window.from_settings(settings.get("NEWSSPIDER_SINCE"),
                                             settings.get("NEWSSPIDER_UNTIL"))
        spider.allowed_hosts = frozenset(urlsplit(u).netloc for u in spider.start_urls)
        # Scrapy's OffsiteMiddleware keeps redirects on these hosts too.
        spider.allowed_domains = sorted({urlsplit(u).hostname or "" for u in spider.start_urls})
        # --resume continues a saved frontier (Scrapy's JOBDIR queue), if the crawl before left one
        jobdir = settings.get("JOBDIR")
        spider.resumed = bool(jobdir) and (Path(jobdir) / "requests.queue").exists()
        crawler.signals.connect(spider.configure, signal=signals.spider_opened)
        return spider

    def closed(self, reason: str) -> None:
        """Say once what the listing-trap bound left out: listings that only listing pages listing
        nothing new linked to, never requested (none on a site whose listings all lead somewhere new or
        are linked from its articles and menus)."""
        unreached = sum(1 for key in self._barren_skipped if not self._seen_urls.has_key(key))
        if unreached:
            self.logger.warning("%d listings were linked only from listing pages that listed nothing new, "
                                "and were not followed (a listing trap? NEWSSPIDER_MAX_BARREN_LISTINGS=%d)",
                                unreached, self.max_barren_listings)

    def configure(self) -> None:
        """Read the crawl policy's settings."""
        settings = self.crawler.settings
        self.max_listing_pages = settings.getint("NEWSSPIDER_MAX_LISTING_PAGES")
        self.extra_old_pages = settings.getint("NEWSSPIDER_EXTRA_OLD_PAGES")
        self.max_stale_pages = settings.getint("NEWSSPIDER_MAX_STALE_PAGES")
        self.max_barren_listings = settings.getint("NEWSSPIDER_MAX_BARREN_LISTINGS")
        self.refresh = settings.getbool("NEWSSPIDER_REFRESH")
        self.max_links = settings.getint("NEWSSPIDER_MAX_LINKS_PER_PAGE")
        self.images = settings.getbool("NEWSSPIDER_IMAGES")
        # A distributed crawl finds articles through the listings: its first worker alone reads the
        # sitemaps, and the others could not tell which listing pages they give (docs/distributed.md).
        # A distributed refresh reads them: it walks no listing, and every page it fetches leads nowhere.
        self.sitemaps = settings.getbool("NEWSSPIDER_SITEMAPS") and (
            self.refresh or not settings.get("NEWSSPIDER_REDIS_URL"))
        self.feeds = settings.getbool("NEWSSPIDER_FEEDS") and not settings.get("NEWSSPIDER_REDIS_URL")

    @cached_property
    def memory(self) -> Memory:
        """What the crawl remembers of earlier runs (:class:`~newsspider.memory.extension.CrawlMemory`'s)."""
        return memory_of(self.crawler)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """The start URLs; in a distributed crawl only the first worker of a run queues them.

        The engine asks for more only once it has queued the last one, which may be long after: a
        memory that failed meanwhile (Redis gone) stops the crawl with its one line, as it would
        anywhere else, instead of a traceback from Scrapy's start loop."""
        try:
            if not self.memory.should_seed():
                return
            if self._reads_feeds():
                self.feed = FeedReader(self)
                self.follow = False
                try:
                    async for request in self.feed.requests():
                        yield request
                except NewsspiderError:
                    raise
                except Exception as exc:  # a defect met in a feed: the listings are walked
                    self.logger.warning("the feeds could not be read (%s: %s): walking the listings",
                                        type(exc).__name__, exc)
                    self.feed.reached.clear()
                self.follow = not self.feed.reaches_back
                if self.feed.reaches_back:  # the start pages check the feeds; nothing else is walked
                    self.feed_check = True
                    for url in self.start_urls:  # checked first, before the new articles are fetched
                        yield self._start_request(url).replace(priority=PRIORITY_FEED_CHECK)
                    self.memory.seeded()
                    return
            if self.sitemaps:
                self.discovery = SitemapDiscovery(self)
                # A resumed crawl's saved frontier is fetched meanwhile: its listings lead on as before.
                self.follow = self.resumed
                async for request in self.discovery.requests():
                    yield request
                self.follow = not (self.refresh and self.discovery.usable)
                if not self.follow:  # what changed, and the stored articles they do not list
                    roots = [f"{p.scheme}://{p.netloc}" for p in map(urlsplit, self.start_urls)]
                    for request in self.discovery.unlisted(roots):
                        yield request
                    self.memory.seeded()
                    return
            for url in self.start_urls:
                yield self._start_request(url)
            self.memory.seeded()
        except NewsspiderError as exc:
            stop_crawl(self.crawler, getattr(exc, "reason", None) or "redis_unavailable", str(exc))

    def _start_request(self, url: str) -> scrapy.Request:
        self._seen_urls.add(url)
        return scrapy.Request(url, callback=self.parse, errback=self.failed, dont_filter=True,
                              priority=PRIORITY.get(site.classify(url), 0), meta={START: True})

    def _reads_feeds(self) -> bool:
        """Whether this crawl reads the site's feeds first: a recurring one (a run walked the whole site
        before it), not a refresh, with no window, from listings only (what the start pages check); not
        a resumed one (its saved frontier holds listings to walk), nor one asked to go deeper than the
        old pages (``NEWSSPIDER_EXTRA_OLD_PAGES``: a feed's reading stops at them)."""
        return (self.feeds and not self.refresh and not self.window and self.memory.last_complete_run > 0
                and not self.resumed and self.extra_old_pages == 0
                and all(site.classify(url) in _LISTINGS for url in self.start_urls))

    def _remember_feeds(self, response: TextResponse, selector: Selector, problems: Problems) -> None:
        """Remember the feeds of all posts a start page names, for the next run (:mod:`.feeds`)."""
        hrefs = selector.css(site.FEED_LINKS).getall()
        named = [url for url in web_urls(page_base(response, problems), hrefs, problems)
                 if site.is_site_feed(url) and urlsplit(url).netloc in self.allowed_hosts]
        if any(url not in self._named_feeds for url in named):
            self._named_feeds.update(dict.fromkeys(named))
            self.memory.set_feeds(list(self._named_feeds))

    def _check_feed(self, response: TextResponse, in_window: list[str]) -> Iterator[scrapy.Request]:
        """A start listing page, fetched to check the feeds (:attr:`feed_check`): one that lists articles,
        each given by the feeds or stored, passes and leads nowhere; any other ends the check
        (:meth:`_end_feed_check`)."""
        assert self.feed is not None
        missed = [i for i in in_window
                  if id_key(i) not in self.feed.listed and self._stored_run(i) is None]
        if in_window and not missed:
            self._feed_checked.append(response.url)
            self.crawler.stats.inc_value(keys.skipped("feed_listed_pages"))
            return
        yield from self._end_feed_check(response.url, f"lists {len(missed)} new articles the feeds did not"
                                        if missed else "lists no article")

    def _end_feed_check(self, url: str, why: str) -> Iterator[scrapy.Request]:
        """A start page did not confirm the feeds (*why*): the listings are walked as without them, from
        the start pages that passed the check before it too (fetched again)."""
        assert self.feed is not None
        self.logger.warning("%s %s (a stale feed? %s): walking the listings", url, why,
                            ", ".join(self.feed.read))
        self.feed_check = False
        self.follow = True
        for checked in self._feed_checked:
            yield self._start_request(checked)

    def parse(self, response: Response, old_pages: int = 0, stale_pages: int = 0,
              recent: tuple[str, ...] = ()) -> Iterator[Article | scrapy.Request]:
        """Any page: store it when it is an article, then follow what it links to.

        For a listing page, *old_pages* counts the pages before it in its
        pagination whose articles were all stored by earlier runs, *stale_pages*
        those in a row that listed no article the listing had not shown, and
        *recent* holds the ids the pages before it listed (:class:`Paging`).
        """
        if response.status == 304:  # asked with its validators: the stored version is current
            return  # (newsspider.crawl.validators counted it; a 304 nobody asked for is an HttpError)
        if self.feed_check and response.meta.get(START) and (  # redirected elsewhere, or no page
                site.classify(response.url) not in _LISTINGS or not isinstance(response, TextResponse)
                or not is_html(response)):
            yield from self._end_feed_check(response.url, "is no listing page")
        if not isinstance(response, TextResponse) or not is_html(response):
            count_failure(self.crawler.stats, self.logger, "not_html", response.url)
            return
        problems = Problems()
        try:
            yield from self._parse_page(response, problems, Paging(old_pages, stale_pages, tuple(recent)))
        finally:
            count_left_out(self.crawler.stats, problems.counts, response.url)

    def _parse_page(self, response: TextResponse, problems: Problems,
                    paging: Paging) -> Iterator[Article | scrapy.Request]:
        kind = site.classify(response.url)
        selector = page_selector(response, problems)  # parsed once, for extraction and links
        if self.feeds and response.meta.get(START):
            self._remember_feeds(response, selector, problems)
        if kind is site.Kind.ARTICLE:
            parts = site.article_parts(site.article_url(response.url))
            if parts:
                self._seen_ids.add(id_key(parts[0]))  # this article: links back to it are not followed
                if not self.window.contains(parts[2]):  # reached through a shortlink
                    self.crawler.stats.inc_value(keys.skipped("outside_window"))
                    return
            article = load_article(response, selector, problems=problems)
            yield article
            if self.images:
                yield from self.image_requests(article)
                yield from self.stylesheet_requests(response, selector, problems)
            yield from self.follow_links(response, selector, problems=problems)
            return
        if kind not in _LISTINGS:
            yield from self.follow_links(response, selector, problems=problems)
            return
        listing = parse_listing(response, selector, problems)
        listed = [parts for url in listing.article_urls if (parts := site.article_parts(url))]
        ids = [parts[0] for parts in listed]
        days = [parts[2] for parts in listed]
        root = self._root(response, ids)
        if self.window.page_is_older(days):
            # Newest first: every later page of this listing is older still.
            self.crawler.stats.inc_value(keys.skipped("listings_past_window"))
            yield from self.follow_links(response, selector, paging.after(ids), problems=problems,
                                         stop_paging=True, root=root)
            return
        if (self.window.page_is_newer(days) and self._page_number(response.url) == 1 and listing.next_url
                and (seek := Seek.start(days, self.window.until)).probe() >= SEEK_FROM):
            # The window is far on: go ahead by page numbers instead of page by page.
            yield from self.follow_links(response, selector, paging.after(ids), problems=problems,
                                         stop_paging=True, root=root)
            yield self._seek_request(response.url, seek)
            return
        in_window = [i for i, day in zip(ids, days, strict=True) if self.window.contains(day)]
        if self.feed_check and response.meta.get(START):
            checked = list(self._check_feed(response, in_window))
            if self.feed_check:
                return
            yield from checked
        if response.meta.get(START):
            self._expect(response.url, listing.last_page, listing.next_url is None, days, len(in_window))
        runs = {i: self._stored_run(i) for i in in_window}
        if not self.refresh and not self._stored_any():  # not stored: a run that stores none is broken
            self.listed_new.update(i for i, run in runs.items() if run is None)
        if not self.refresh and runs and all(self._old(run) for run in runs.values()):
            # Everything it lists was stored by runs that walked the whole site: its menus lead to
            # listings seen before too; only its pagination may be worth a look.  (What a killed or
            # bounded run stored may sit among pages it never reached: such a page is walked again.)
            after = paging.after(ids, old_pages=paging.old_pages + 1)
            if after.old_pages <= self.extra_old_pages:
                yield from self.follow_links(response, selector, after, only_paging=True, problems=problems,
                                             root=root)
            else:
                self.crawler.stats.inc_value(keys.skipped("old_listing_pages"))
            return
        if (self.discovery is not None and in_window
                and all(id_key(i) in self.discovery.listed for i in in_window)):
            # The sitemaps gave all it lists: its next pages would list what they gave too.
            self.crawler.stats.inc_value(keys.skipped("sitemap_listed_pages"))
            yield from self.follow_links(response, selector, paging.after(ids), problems=problems,
                                         stop_paging=True, root=root)
            return
        yield from self.follow_links(response, selector, paging.after(ids, old_pages=0), problems=problems,
                                     root=root)

    def _root(self, response: Response, ids: list[str]) -> Root:
        """The root of a listing page *response* that lists *ids*, for the listings it links to.

        A page that lists an article no listing page of this crawl has shown is a root itself.  One
        that lists nothing new (a barren page) passes on the root it was found under (its request's
        :data:`LISTING_ROOT`; its own listing when none: a start URL, a listing linked from an
        article) and counts against it: past ``NEWSSPIDER_MAX_BARREN_LISTINGS`` barren pages under
        one root, that root is spent (said once, as a warning).
        """
        own = site.listing_base(response.url) or response.url
        new = False
        for article_id in ids:
            if (key := id_key(article_id)) not in self._listed_ids:
                self._listed_ids.add(key)
                new = True
        if new:
            return Root(own)
        url = response.meta.get(LISTING_ROOT) or own
        key = text_key(url)
        barren = self._barren[key] = self._barren.get(key, 0) + 1
        self.crawler.stats.inc_value(keys.BARREN_LISTING_PAGES)
        spent = 0 < self.max_barren_listings < barren
        if spent and barren == self.max_barren_listings + 1:  # a warning at the end, if it lost anything
            self.logger.debug("%d listing pages found under %s listed nothing new: not following the "
                              "other listings they link to (NEWSSPIDER_MAX_BARREN_LISTINGS=%d)",
                              barren, url, self.max_barren_listings)
        return Root(url, spent)

    def _expect(self, url: str, last_page: int | None, only_page: bool, days: list[str], listed: int) -> None:
        """The articles the start listing *url* leads to, when its first page tells
        (:data:`~newsspider.crawl.extensions.EXPECTED`, for the progress line): the front page's, or
        the start listings' together."""
        if (estimate := self.window.expected(days, last_page, only_page, listed)) is None:
            return
        self._expected[url] = estimate
        front = [n for u, n in self._expected.items() if site.is_front_listing(u)]
        self.crawler.stats.set_value(keys.EXPECTED, max(front) if front else sum(self._expected.values()))

    # --- going ahead to a window further down a listing -----------------------------------------
    @staticmethod
    def _page_number(url: str) -> int:
        return int(page[1]) if (page := _PAGE_NUMBER.search(url)) else 1

    def _seek_request(self, url: str, seek: Seek) -> scrapy.Request:
        """A request for the page *seek* asks for next, of *url*'s listing."""
        target = site.listing_page_url(url, seek.probe())  # not marked seen: paging may come to it again
        self.crawler.stats.inc_value(keys.LISTING_SEEKS)
        return scrapy.Request(target, callback=self.seek, errback=self.seek_failed, dont_filter=True,
                              priority=PRIORITY[site.Kind.LISTING], cb_kwargs={"seek": seek},
                              meta={"handle_httpstatus_list": [404, 410]})

    def seek(self, response: Response, seek: Seek) -> Iterator[Article | scrapy.Request]:
        """A page met going ahead: narrow down the first page that reaches the window, then page on
        from there as usual (a page past the listing's end counts as reaching it)."""
        page = self._page_number(response.url)
        days: list[str] = []
        if response.status < 400 and isinstance(response, TextResponse) and is_html(response):
            listing = parse_listing(response)
            days = [day for url in listing.article_urls
                    if (parts := site.article_parts(url)) and (day := parts[2])]
        seek = seek.met(page, days, newer=bool(days) and self.window.page_is_newer(days))
        if seek.high is None or seek.high - seek.low > 1:
            yield self._seek_request(response.url, seek)
        elif seek.high == page:  # this very page is where the window starts
            if days:
                yield from self.parse(response)
        else:
            yield self._page_on(response.url, seek.high)

    def seek_failed(self, failure: Failure) -> Iterator[scrapy.Request]:
        """A page that could not be got going ahead: page on one page after the last one known."""
        request = failure.request  # type: ignore[attr-defined]
        count_failure(self.crawler.stats, self.logger, failure_reason(failure.value), request.url)
        yield self._page_on(request.url, request.cb_kwargs["seek"].low + 1)

    def _page_on(self, url: str, page: int) -> scrapy.Request:
        target = site.listing_page_url(url, page)
        self._seen_urls.add(target)
        return scrapy.Request(target, callback=self.parse, errback=self.failed, dont_filter=True,
                              priority=PRIORITY[site.Kind.LISTING])

    def _stored_any(self) -> bool:
        return bool(self.crawler.stats.get_value(keys.STORED))

    def _stored_run(self, article_id: str) -> int | None:
        """The run that first stored *article_id* (None when not stored, or with --refresh)."""
        return None if self.refresh else self.memory.stored_run(article_id)

    def _old(self, run: int | None) -> bool:
        """Stored by a run that walked the whole site, or by one before it (not by a killed one since)."""
        return run is not None and 0 <= run <= self.memory.last_complete_run

    def follow_links(self, response: TextResponse, selector: Selector, paging: Paging | None = None,
                     only_paging: bool = False, problems: Problems | None = None,
                     stop_paging: bool = False, root: Root | None = None) -> Iterator[scrapy.Request]:
        """Requests for the links of *response* worth following that were never requested.

        *paging* is passed on to the other pages of the same listing, which are
        not followed once it has gone ``NEWSSPIDER_MAX_STALE_PAGES`` pages without
        an article the listing had not shown, nor with *stop_paging*; with
        *only_paging*, nothing else is followed.  The listing page's *root* is passed on to
        the listings it links to; a spent one leads to no other listing (counted as
        ``barren_listings``, and not marked requested: a page with something new may lead there).
        Only the first ``NEWSSPIDER_MAX_LINKS_PER_PAGE`` links of a page are read (the rest
        counted as ``links_over_limit``); a link that is not a URL is counted as
        ``bad_url``.
        """
        if not self.follow or (response.request is not None and response.request.meta.get(SITEMAP)):
            return  # (a page the sitemaps led to leads nowhere)
        seen_urls = self._seen_urls
        listing = site.listing_base(response.url) if paging is not None else None
        stale = paging is not None and paging.stale_pages > self.max_stale_pages
        base = page_base(response, problems)
        hrefs = select(selector.root, site.LINKS)
        if self.max_links and len(hrefs) > self.max_links:
            if problems is not None:
                problems.add("links_over_limit", n=len(hrefs) - self.max_links)
            hrefs = hrefs[: self.max_links]
        fresh = [href for href in hrefs if not seen_urls.known_link(link_key(base, href))]
        for href, url in absolute_links(base, fresh, problems):
            if url in seen_urls:
                seen_urls.note_link(link_key(base, href))
                continue
            same_listing = listing is not None and site.listing_base(url) == listing
            if only_paging and not same_listing:
                continue
            if same_listing and (stale or stop_paging):
                if stale:
                    self.crawler.stats.inc_value(keys.skipped("stale_listing_pages"))
                continue
            if root is not None and root.spent and not same_listing and site.classify(url) in _LISTINGS:
                self.crawler.stats.inc_value(keys.skipped("barren_listings"))
                self._barren_skipped.add(text_key(url))
                continue
            seen_urls.add(url)
            seen_urls.note_link(link_key(base, href))
            request = self._request_for(url)
            if request is not None:
                if ARTICLE_ID in request.meta:
                    self.crawler.stats.inc_value(keys.source("links"))
                if same_listing:
                    request.cb_kwargs.update(paging.kwargs())  # type: ignore[union-attr]
                if root is not None and site.classify(url) in _LISTINGS:
                    request.meta[LISTING_ROOT] = root.url
                yield request

    def image_requests(self, article: Article) -> Iterator[scrapy.Request]:
        """The article's images, fetched so that the archive holds the article as a reader saw it
        (on their own hosts too: robots.txt and each host's politeness apply as to pages)."""
        lead = [article.image_url] if article.image_url else []  # og:image may be none of the body's
        for url in [*lead, *(image["url"] for image in article.images)]:
            if url and url not in self._seen_urls:
                self._seen_urls.add(url)
                yield scrapy.Request(url, callback=self.image_fetched, errback=self.image_failed,
                                     priority=PRIORITY_IMAGE, meta={"allow_offsite": True})

    def stylesheet_requests(self, response: TextResponse, selector: Selector,
                            problems: Problems) -> Iterator[scrapy.Request]:
        """The article page's own stylesheets (on any host, http(s) only; a bad URL is counted as
        ``bad_url``), fetched with its images so that the archive can replay the page as it was served."""
        hrefs = [link.attrib["href"] for link in selector.css(site.STYLESHEETS)]
        for url in web_urls(page_base(response), hrefs, problems):
            if url not in self._seen_urls:
                self._seen_urls.add(url)
                yield scrapy.Request(url, callback=self.stylesheet_fetched, errback=self.stylesheet_failed,
                                     priority=PRIORITY_IMAGE, meta={"allow_offsite": True})

    def stylesheet_fetched(self, response: Response) -> Iterator[Any]:
        """A stylesheet is kept by the archive as it arrives: nothing to extract."""
        self.crawler.stats.inc_value(keys.STYLESHEETS)
        return iter(())

    def stylesheet_failed(self, failure: Failure) -> None:
        """A stylesheet that could not be got: counted by reason, not a failed page."""
        request = getattr(failure, "request", None)
        if request is not None:
            self.crawler.signals.send_catch_log(request_failed, request=request, failure=failure)
        self.crawler.stats.inc_value(keys.stylesheets_failed(failure_reason(failure.value)))

    def image_fetched(self, response: Response) -> Iterator[Any]:
        """An image is kept by the archive as it arrives: nothing to extract."""
        self.crawler.stats.inc_value(keys.IMAGES)
        return iter(())

    def image_failed(self, failure: Failure) -> None:
        """An image that could not be got: counted by reason, not a failed page."""
        request = getattr(failure, "request", None)
        if request is not None:
            self.crawler.signals.send_catch_log(request_failed, request=request, failure=failure)
            if (article_id := request.meta.get(ARTICLE_ID)) and not self._stored_any():
                self.unreachable.add(article_id)
        self.crawler.stats.inc_value(keys.images_failed(failure_reason(failure.value)))

    def failed(self, failure: Failure) -> Iterator[scrapy.Request]:
        """A request that could not be completed: count it by reason and log its URL (a stored article
        the site removed is not a failed page: newsspider.crawl.removals counts it).  A start page that
        was to check the feeds ends the check."""
        if isinstance(failure.value, ArticleGone):
            return
        reason = failure_reason(failure.value)
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        if request is not None and self.feed_check and request.meta.get(START) and self.crawler.crawling:
            yield from self._end_feed_check(url, f"could not be fetched ({reason})")
        if request is not None:
            self.crawler.signals.send_catch_log(request_failed, request=request, failure=failure)
            if reason == "outside_window":  # a redirect to an article outside it: counted there
                return
            if (article_id := request.meta.get(ARTICLE_ID)) and not self._stored_any():
                self.unreachable.add(article_id)
        if reason == "robots_txt":
            self.crawler.stats.inc_value(keys.skipped("robots_txt"))
            return
        count_failure(self.crawler.stats, self.logger, reason, url)

    def _request_for(self, url: str) -> scrapy.Request | None:
        kind = site.classify(url)
        if kind is site.Kind.OTHER or urlsplit(url).netloc not in self.allowed_hosts:
            return None
        meta: dict[str, str] = {}
        if kind in (site.Kind.ARTICLE, site.Kind.SHORTLINK):
            article_id = (site.article_parts(url) or ("",))[0] or site.shortlink_id(url) or ""
            if id_key(article_id) in self._seen_ids:
                return None
            if kind is site.Kind.ARTICLE and not self.window.contains(site.article_parts(url)[2]):  # type: ignore[index]
                self._seen_ids.add(id_key(article_id))
                self.crawler.stats.inc_value(keys.skipped("outside_window"))
                return None
            if kind is site.Kind.ARTICLE:
                self._seen_ids.add(id_key(article_id))
            meta[ARTICLE_ID] = article_id
        elif (self.max_listing_pages and (page := _PAGE_NUMBER.search(url))
              and int(page[1]) > self.max_listing_pages):
            self.crawler.stats.inc_value(keys.skipped("max_listing_pages"))
            return None
        return scrapy.Request(url, callback=self.parse, errback=self.failed, priority=PRIORITY[kind],
                              meta=meta or None)
