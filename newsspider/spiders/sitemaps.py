"""Discovering articles through the site's sitemaps (``NEWSSPIDER_SITEMAPS``, on by default).

Before the start URLs are queued, the crawl reads, for each of their hosts, the sitemaps its
robots.txt names (``Sitemap:`` lines), or else the first of the usual places
(:data:`~newsspider.extract.site.SITEMAP_PATHS`) that gives articles.  Each file is downloaded
through the crawl's downloader middlewares (robots.txt decides it as every request, proxies and
politeness apply) and read streaming (:func:`newsspider.extract.sitemaps.entries`).  Indexes lead
to their child sitemaps (those of pages, categories and tags are not fetched, nor those of an
index whose ``lastmod`` is older than ``--since``); a sitemap read once is not read again (an index
that lists itself), indexes nest at most :data:`MAX_DEPTH` deep and at most :data:`MAX_SITEMAPS`
files are read.  Sitemaps and URLs on other hosts are left out.

Each article URL listed seeds the frontier through the spider's own request path (the window,
the ids requested already and :class:`~newsspider.crawl.skipstored.SkipStored` apply); one whose
``lastmod`` is older than ``--since`` is not requested.  A recurring crawl (not a refresh) does not
fetch the child sitemaps that last changed before the last run that walked the whole site started.
With ``--refresh``, an article is requested only when its ``lastmod`` is newer than its last capture
(the memory's ``last_seen``).

A sitemap that cannot be read (not XML, too large, gzip-corrupt, an HTTP error) is one warning
and a count (``newsspider/sitemaps/problems/<what>``), never a failed page: the crawl goes on
through its listings.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import scrapy
from protego import Protego
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http.request import NO_CALLBACK
from scrapy.robotstxt import ProtegoRobotParser

from newsspider.core import stats as keys
from newsspider.core.failures import failure_reason
from newsspider.core.meta import SITEMAP
from newsspider.core.seen import SeenKeys, id_key, text_key
from newsspider.extract import site
from newsspider.extract.sitemaps import SitemapError, changed_since, entries, lastmod_day, normal_lastmod

if TYPE_CHECKING:
    from newsspider.spiders.bannedbook import BannedbookSpider

__all__ = ["MAX_DEPTH", "MAX_SITEMAPS", "SitemapDiscovery"]

#: sitemap files a crawl reads at most (the live site's Yoast index has some 2,400 of 1,000 URLs)
MAX_SITEMAPS = 10_000
#: how deep indexes may nest (an index of indexes of sitemaps is 2)
MAX_DEPTH = 3
#: before articles and listings: the crawl waits for these anyway
PRIORITY_SITEMAP = 100


def _request(url: str) -> scrapy.Request:
    """A request for robots.txt or a sitemap, downloaded by the discovery itself.  robots.txt's has no
    callback: it is not a page of the crawl (as Scrapy's own robots.txt request is not); a sitemap is
    (a refresh of an unchanged site fetches nothing else, and is not a site that answers nothing)."""
    robots = urlsplit(url).path == site.ROBOTS_PATH
    return scrapy.Request(url, callback=NO_CALLBACK if robots else None, dont_filter=True,
                          priority=PRIORITY_SITEMAP)


class SitemapDiscovery:
    """The sitemaps of one crawl: what they listed (:attr:`listed`) and whether any gave articles."""

    def __init__(self, spider: BannedbookSpider, count_only: bool = False) -> None:
        self.spider = spider
        #: count the articles in the window (:attr:`in_window`) instead of requesting them (estimate)
        self.count_only = count_only
        self.in_window = 0
        self.stats = spider.crawler.stats
        self.max_size = spider.crawler.settings.getint("DOWNLOAD_MAXSIZE")
        #: ids of the articles the sitemaps listed (on the crawl's hosts)
        self.listed = SeenKeys()
        #: whether a sitemap gave an article URL (the crawl may then trust them: see the spider)
        self.usable = False
        self._read: set[int] = set()
        self._files = 0
        #: the crawl is stopping: no more sitemap is read
        self.stopped = False
        #: when the last run that walked the whole site started (UTC): a recurring crawl (not a refresh)
        #: skips the child sitemaps that last changed before it, that run had what they list
        self.known_before = ""

    async def requests(self) -> AsyncIterator[scrapy.Request]:
        """The article requests the sitemaps of the start URLs' hosts lead to."""
        roots = dict.fromkeys(f"{p.scheme}://{p.netloc}" for p in map(urlsplit, self.spider.start_urls))
        if not (self.spider.refresh or self.count_only) and (last := self.spider.memory.last_complete_run):
            run = next((r for r in self.spider.memory.runs() if r.run_id == last), None)
            self.known_before = (normal_lastmod(run.started_at) or "") if run else ""
        for root in roots:
            if self.stopped:
                return
            named = await self._robots_sitemaps(root)
            if named is None:  # the host cannot be reached (robots.txt's own warning says so)
                continue
            for place in named or [root + path for path in site.SITEMAP_PATHS]:
                before = self.stats.get_value(keys.SITEMAP_URLS, 0)
                async for request in self._walk(place, quiet=not named):
                    yield request
                if not named and self.stats.get_value(keys.SITEMAP_URLS, 0) > before:
                    break  # the first usual place that lists articles: the others list the same
        if self.usable:
            self.spider.logger.info("sitemaps: %d files read, %d article URLs listed",
                                    self.stats.get_value(keys.SITEMAPS, 0),
                                    self.stats.get_value(keys.SITEMAP_URLS, 0))

    def unlisted(self, roots: list[str]) -> Iterator[scrapy.Request]:
        """Requests for the stored articles the sitemaps did not list (a refresh fetches them: they
        may have been removed), read from the memory a page at a time; by shortlink when the memory
        keeps no URL."""
        for article_id, url in self.spider.memory.stored_urls():
            if id_key(article_id) in self.listed:
                continue
            request = self.spider._request_for(url or f"{roots[0]}/?p={article_id}")
            if request is not None:
                request.meta[SITEMAP] = True  # asked as the sitemaps' are: it leads nowhere
                self.stats.inc_value(keys.source("stored"))
                yield request

    # --- reading ------------------------------------------------------------------------------
    async def _robots_sitemaps(self, root: str) -> list[str] | None:
        """The sitemaps *root*'s robots.txt names (none when it has none); None when the host
        cannot be reached.  The robots.txt Scrapy's middleware fetched and parsed to obey it is read
        when it is Protego's (the default parser); else it is fetched here."""
        parser = await self._obeyed_robots(root)
        if parser is not False:
            return None if parser is None else list(parser.sitemaps)
        request = _request(root + site.ROBOTS_PATH)
        try:
            response = await self.spider.crawler.engine.download_async(request)  # type: ignore[union-attr]
        except Exception as exc:  # counted only: Scrapy's robots.txt middleware warns about it
            self.stats.inc_value(keys.sitemap_problem(f"robots_txt_{failure_reason(exc)}"))
            return None
        if response.status != 200:
            return []
        return list(Protego.parse(response.body.decode("utf-8", "replace")).sitemaps)

    async def _obeyed_robots(self, root: str) -> Protego | Literal[False] | None:
        """The robots.txt of *root* as Scrapy's robots.txt middleware parsed it (fetching it once for
        the crawl); None when it could not be fetched; False when the crawl does not obey robots.txt
        or its parser is not Protego's (then this reads robots.txt itself)."""
        try:
            middlewares = self.spider.crawler.engine.downloader.middleware.middlewares  # type: ignore[union-attr]
        except (RuntimeError, AttributeError):  # no engine: the crawl is not running
            return False
        robots = next((m for m in middlewares if isinstance(m, RobotsTxtMiddleware)), None)
        if robots is None:
            return False
        try:
            parser = await robots.robot_parser(scrapy.Request(root + "/"))
        except Exception as exc:  # the middleware logs its own errors; counted here
            self.stats.inc_value(keys.sitemap_problem(f"robots_txt_{failure_reason(exc)}"))
            return None
        if parser is None:
            self.stats.inc_value(keys.sitemap_problem("robots_txt_unreachable"))
            return None
        return parser.rp if isinstance(parser, ProtegoRobotParser) else False

    async def _fetch(self, url: str, quiet: bool) -> bytes | None:
        """*url*'s body; None (counted, and a warning unless *quiet* and a 404) when it cannot be got."""
        request = _request(url)
        try:
            response = await self.spider.crawler.engine.download_async(request)  # type: ignore[union-attr]
        except Exception as exc:  # any download failure: the crawl goes on without this file
            reason = failure_reason(exc)
            if reason == "cancelled" or not self.spider.crawler.crawling:  # the crawl is stopping
                self.stopped = True
                return None
            self._problem(reason, url, str(exc) or type(exc).__name__)
            return None
        if response.status != 200:
            if not (quiet and response.status in (404, 410)):
                self._problem(f"http_{response.status}", url, f"HTTP {response.status}")
            else:  # a usual place where this site has none
                self.stats.inc_value(keys.sitemap_problem(f"http_{response.status}"))
            return None
        return response.body

    def _problem(self, what: str, url: str, detail: str) -> None:
        self.stats.inc_value(keys.sitemap_problem(what))
        self.spider.logger.warning("sitemap %s: %s (the crawl goes on through the listings)", url, detail)

    def _on_hosts(self, url: str) -> bool:
        return urlsplit(url).netloc in self.spider.allowed_hosts

    async def _walk(self, first: str, quiet: bool) -> AsyncIterator[scrapy.Request]:
        """Read the sitemap *first* and the sitemaps it leads to, one file at a time."""
        queue: deque[tuple[str, int]] = deque([(first, 0)])
        while queue and not self.stopped:
            url, depth = queue.popleft()
            if not self._on_hosts(url):
                self._problem("other_host", url, "on a host the crawl does not crawl: not read")
                continue
            if (key := text_key(url)) in self._read:
                self._problem("repeated", url, "listed again (an index that lists itself?): not read again")
                continue
            if self._files >= MAX_SITEMAPS:
                self._problem("too_many", url, f"more than {MAX_SITEMAPS} sitemaps: not read")
                return
            self._read.add(key)
            self._files += 1
            body = await self._fetch(url, quiet=quiet and depth == 0)
            if body is None:
                continue
            self.stats.inc_value(keys.SITEMAPS)
            offsite = 0
            try:
                for entry in entries(body, self.max_size):
                    if entry.index:
                        self._child(entry.loc, entry.lastmod, depth, queue)
                    elif not self._on_hosts(entry.loc):
                        offsite += 1
                    elif (request := self._article(entry.loc, entry.lastmod)) is not None:
                        yield request
            except SitemapError as exc:
                self._problem(exc.what, url, str(exc))
            if offsite:
                self.stats.inc_value(keys.sitemap_problem("other_host"), offsite)
                self.spider.logger.warning("sitemap %s: %d URLs on other hosts left out", url, offsite)

    def _child(self, url: str, lastmod: str | None, depth: int, queue: deque[tuple[str, int]]) -> None:
        """A child sitemap an index lists: queued, unless it lists no articles, is older than the window
        or nests too deep."""
        if not site.sitemap_lists_articles(url):
            return
        if self.spider.window.older(lastmod_day(lastmod)):
            self.stats.inc_value(keys.skipped("sitemaps_past_window"))
            return
        if lastmod and self.known_before and lastmod < self.known_before[:len(lastmod)]:
            self.stats.inc_value(keys.skipped("sitemaps_unchanged"))  # and so are the articles it lists
            return
        if depth + 1 > MAX_DEPTH:
            self._problem("too_deep", url, f"sitemap indexes nested more than {MAX_DEPTH} deep: not read")
            return
        queue.append((url, depth + 1))

    def _article(self, loc: str, lastmod: str | None) -> scrapy.Request | None:
        """The request for an article a sitemap lists (None: not an article, not needed)."""
        spider = self.spider
        url = site.article_url(loc)
        if (parts := site.article_parts(url)) is None:
            return None
        article_id = parts[0]
        if (key := id_key(article_id)) in self.listed:  # listed before (the news sitemap lists the newest)
            return None
        self.listed.add(key)
        self.usable = True
        self.stats.inc_value(keys.SITEMAP_URLS)
        if spider.window.older(lastmod_day(lastmod)):  # last changed before the window: published before
            self.stats.inc_value(keys.skipped("outside_window"))
            return None
        if self.count_only:
            self.in_window += spider.window.contains(parts[2])
            return None
        if spider.refresh and not changed_since(lastmod, spider.memory.last_seen(article_id)):
            spider._seen_ids.add(id_key(article_id))
            self.stats.inc_value(keys.skipped("unchanged_lastmod"))
            return None
        if url in spider._seen_urls:
            return None
        request = spider._request_for(url)
        if request is not None:
            spider._seen_urls.add(url)
            request.meta[SITEMAP] = True
            self.stats.inc_value(keys.source("sitemaps"))
        return request
