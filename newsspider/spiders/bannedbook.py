"""The crawl policy for bannedbook.org: what to follow, in what order.

Every page is read for links; a link is followed when its URL has the shape of
an article, a shortlink, a tag page or a listing page on one of the start
URLs' hosts.  Each URL is canonicalised (tracking parameters and fragment
removed) and turned into a request at most once per crawl; an article id is
requested at most once, whatever URL leads to it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse

from newsspider import site
from newsspider.incremental import crawl_state
from newsspider.items import Article
from newsspider.loaders import load_article, parse_listing
from newsspider.processors import canonical_url
from newsspider.state import CrawlState

# Request priorities: articles first, so that pages finish and the frontier stays small.
PRIORITY = {site.Kind.ARTICLE: 10, site.Kind.SHORTLINK: 10, site.Kind.TAG: 0, site.Kind.LISTING: 0}
_PAGE_NUMBER = re.compile(r"/page/(\d+)/?$")


class StartUrlError(ValueError):
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
    """

    name = "bannedbook"

    def __init__(self, start_urls: str | Iterable[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = parse_start_urls(start_urls)
        self.max_listing_pages = 0
        self.extra_old_pages = 0
        self.refresh = False
        self.memory: CrawlState | None = None
        self._seen_urls: set[str] = set()
        self._seen_ids: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> BannedbookSpider:
        spider: BannedbookSpider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        if not spider.start_urls:
            spider.start_urls = parse_start_urls(
                settings.getlist("NEWSSPIDER_START_URLS") or list(site.DEFAULT_START_URLS)
            )
        spider.max_listing_pages = settings.getint("NEWSSPIDER_MAX_LISTING_PAGES")
        spider.extra_old_pages = settings.getint("NEWSSPIDER_EXTRA_OLD_PAGES")
        spider.refresh = settings.getbool("NEWSSPIDER_REFRESH")
        spider.memory = crawl_state(crawler)
        spider.allowed_hosts = frozenset(urlsplit(u).netloc for u in spider.start_urls)
        # Scrapy's OffsiteMiddleware keeps redirects on these hosts too.
        spider.allowed_domains = sorted({urlsplit(u).hostname or "" for u in spider.start_urls})
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.start_urls:
            self._seen_urls.add(url)
            yield scrapy.Request(url, callback=self.parse, dont_filter=True,
                                 priority=PRIORITY.get(site.classify(url), 0))

    def parse(self, response: Response, old_pages: int = 0) -> Iterator[Article | scrapy.Request]:
        """Any page: store it when it is an article, then follow what it links to.

        *old_pages* counts the listing pages before this one, in this listing's
        pagination, whose articles were all stored by earlier runs.
        """
        if not isinstance(response, TextResponse):
            self.crawler.stats.inc_value("newsspider/skipped/not_html")
            return
        kind = site.classify(response.url)
        if kind is site.Kind.ARTICLE:
            article = load_article(response)
            if article.article_id:
                self._seen_ids.add(article.article_id)
            yield article
        elif kind in (site.Kind.LISTING, site.Kind.TAG) and self._nothing_new(response):
            # A listing whose articles were all stored by earlier runs: its menus lead to
            # listings seen before too; only its pagination may be worth a look.
            old_pages += 1
            if old_pages <= self.extra_old_pages:
                yield from self.follow_links(response, old_pages, only_pagination=True)
            else:
                self.crawler.stats.inc_value("newsspider/skipped/old_listing_pages")
            return
        yield from self.follow_links(response)

    def _nothing_new(self, response: TextResponse) -> bool:
        """Whether every article a listing page lists was stored by an earlier run."""
        if self.refresh or self.memory is None:
            return False
        ids = [parts[0] for url in parse_listing(response).article_urls
               if (parts := site.article_parts(url))]
        return all(self.memory.stored_before_this_run(i) for i in ids)

    def follow_links(self, response: TextResponse, old_pages: int = 0,
                     only_pagination: bool = False) -> Iterator[scrapy.Request]:
        """Requests for the links of *response* worth following that were never requested.

        With *only_pagination*, only the links to other pages of the same listing,
        carrying *old_pages* along.
        """
        seen_urls = self._seen_urls
        listing = site.listing_base(response.url) if only_pagination else None
        for href in response.xpath("//a/@href | //link[@rel='next']/@href").getall():
            try:
                url = canonical_url(response.urljoin(href.strip()))
            except ValueError:
                continue
            if url in seen_urls or (only_pagination and site.listing_base(url) != listing):
                continue
            seen_urls.add(url)
            request = self._request_for(url)
            if request is not None:
                if only_pagination:
                    request.cb_kwargs["old_pages"] = old_pages
                yield request

    def _request_for(self, url: str) -> scrapy.Request | None:
        kind = site.classify(url)
        if kind is site.Kind.OTHER or urlsplit(url).netloc not in self.allowed_hosts:
            return None
        if kind is site.Kind.ARTICLE:
            article_id = site.article_parts(url)[0]  # type: ignore[index]
            if article_id in self._seen_ids:
                return None
            self._seen_ids.add(article_id)
            if not self.refresh and self.memory is not None and self.memory.is_stored(article_id):
                self.crawler.stats.inc_value("newsspider/skipped/stored")
                return None
        elif kind is site.Kind.SHORTLINK:
            article_id = site.shortlink_id(url) or ""
            if article_id in self._seen_ids:
                return None
            if not self.refresh and self.memory is not None and self.memory.is_stored(article_id):
                self.crawler.stats.inc_value("newsspider/skipped/stored")
                return None
        elif (self.max_listing_pages and (page := _PAGE_NUMBER.search(url))
              and int(page[1]) > self.max_listing_pages):
            self.crawler.stats.inc_value("newsspider/skipped/max_listing_pages")
            return None
        return scrapy.Request(url, callback=self.parse, priority=PRIORITY[kind])
