"""Downloader middleware: on ``--refresh``, notice the stored articles the site removed.

A request for a stored article (``request.meta["article_id"]``) answered 404 or 410, or redirected to
a page that is not that article (the home page, a category: Scrapy's redirect is looked at before
it is followed, a meta refresh by where it ended), is a removal seen, never a failed page: the
request ends with :class:`~newsspider.core.removals.ArticleGone`, which the spider's errback lets
go.  The first time, the article is marked removed *provisionally*; when a later refresh, at least
``NEWSSPIDER_REMOVED_CONFIRM`` after that first time, finds it gone too, the removal is *confirmed*
(its ``removed_at``); an article marked either way that answers again is *restored*.  The marks are
appended to the removals log beside the shards when the crawl ends
(:mod:`newsspider.dataset.removals`); the dataset's records and the web archive are never touched.

A run where more than ``NEWSSPIDER_REMOVED_MAX_SHARE`` of the stored articles it asked for (of those not
marked removed before: one still gone is expected to be) is gone has met a broken site or a block, not a
mass removal: it marks nothing removed (restorations still count) and its ``removals/mass`` check fails
(the run is degraded, exit status 3).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.http import Response

from newsspider.core import meta
from newsspider.core import stats as keys
from newsspider.core.removals import ArticleGone, how_gone, mass_removal, parse_duration, parse_share
from newsspider.core.seen import SeenKeys, id_key
from newsspider.core.time import utc_now_iso
from newsspider.dataset.removals import Removal, append_events, current_states, event, log_name
from newsspider.dataset.storage import StorageError
from newsspider.extract import site
from newsspider.memory import Memory
from newsspider.memory.extension import memory_of

__all__ = ["Removals"]

logger = logging.getLogger(__name__)


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class Removals:
    """Tell removed articles on a refresh; mark them provisionally, confirmed, restored."""

    def __init__(self, crawler: Crawler, confirm: float, max_share: float) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.confirm = confirm
        self.max_share = max_share
        self.memory: Memory | None = None
        #: each article's latest event before this run
        self.states: dict[str, Removal] = {}
        #: what this run marks, by article id
        self.marks: dict[str, dict[str, Any]] = {}
        #: the stored articles answered, and those gone (8 bytes an id: a refresh asks for every one)
        self.checked = SeenKeys()
        self.gone = SeenKeys()
        #: of those, the ones not marked removed before (what a mass removal is judged on)
        self.fresh_checked = self.fresh_gone = 0
        #: whether the articles marked removed that no page led to were asked for again
        self.rechecked = False
        #: the articles stored before this run; whether this run's removals cannot be believed already
        self.stored = 0
        self.surely_mass = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Removals:
        settings = crawler.settings
        if not settings.getbool("NEWSSPIDER_REFRESH"):
            raise NotConfigured
        confirm = parse_duration(settings.get("NEWSSPIDER_REMOVED_CONFIRM"))
        max_share = parse_share(settings.get("NEWSSPIDER_REMOVED_MAX_SHARE"))
        middleware = cls(crawler, confirm, max_share)
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def spider_opened(self) -> None:
        self.memory = memory_of(self.crawler)
        self.stats.set_value(keys.REMOVALS_MAX_SHARE, self.max_share)
        self.states = current_states(self.memory.data_dir,
                                     lambda bad: self.stats.inc_value(keys.REMOVALS_BAD_LINES))
        self.stored = self.memory.count()

    # --- what an answer says --------------------------------------------------------------------
    def _stored(self, request: Request) -> str | None:
        article_id = request.meta.get(meta.ARTICLE_ID)
        if not article_id or self.memory is None or not self.memory.is_stored(article_id):
            return None
        return str(article_id)

    @staticmethod
    def _how(article_id: str, request: Request, response: Response) -> str | None:
        """How *response* says the article is gone, else None (a redirect to the article itself, or
        to its other spellings, is followed as any redirect).

        >>> from scrapy.http import HtmlResponse
        >>> page = "https://x.org/bnews/itnews/20240101/7.html"
        >>> def how(status, location=None, url=page, meta=None):
        ...     headers = {"Location": location} if location else {}
        ...     response = HtmlResponse(url, status=status, headers=headers)
        ...     return Removals._how("7", Request(url, meta=meta), response)
        >>> how(404), how(410), how(200), how(304), how(301, "/bnews/"), how(302, "https://x.org/bnews/itnews/")
        ('404', '410', None, None, 'redirect:https://x.org/bnews/', 'redirect:https://x.org/bnews/itnews/')
        >>> how(301, "https://x.org/bnews/zh-tw/itnews/20240101/7.html"), how(301, "/?p=7")  # the same
        (None, None)
        >>> how(200, url="https://x.org/bnews/", meta={"redirect_urls": [page]})  # a meta refresh home
        'redirect:https://x.org/bnews/'
        """
        if 300 <= response.status < 400 and (location := response.headers.get("Location")):
            target = urljoin(request.url, location.decode("latin-1"))
            return None if site.article_id_of(target) == article_id else how_gone(response.status, target)
        if response.status < 300 and request.meta.get(meta.REDIRECT_URLS):  # a meta refresh's end
            return None if site.article_id_of(response.url) == article_id else how_gone(200, response.url)
        return how_gone(response.status)

    def process_response(self, request: Request, response: Response) -> Response:
        article_id = self._stored(request)
        if article_id is None:
            return response
        how = self._how(article_id, request, response)
        if how is None:
            if response.status < 300 or response.status == 304:  # 304: there, unchanged since captured
                self._answered(article_id, response.url)
            return response
        self._gone(article_id, request.url, how)
        raise ArticleGone(request.url, how)

    # --- what it is marked ----------------------------------------------------------------------
    def _marked(self, article_id: str) -> bool:
        """Whether the article was marked removed before this run."""
        prior = self.states.get(article_id)
        return prior is not None and prior.removed

    def _check(self, article_id: str) -> None:
        if (key := id_key(article_id)) not in self.checked:
            self.checked.add(key)
            if not self._marked(article_id):  # one still gone is expected to be: not a sign of a broken site
                self.fresh_checked += 1
                self.stats.inc_value(keys.REMOVALS_CHECKED)

    def _answered(self, article_id: str, url: str) -> None:
        self._check(article_id)
        prior = self.states.get(article_id)
        if prior is not None and prior.removed and article_id not in self.marks:
            self.marks[article_id] = event(article_id, url, "restored", utc_now_iso(), None, run=self._run())
            self.stats.inc_value(keys.RESTORED)
            logger.info("back on the site (marked removed %s, %s): %s", prior.state, prior.how, url)

    def _gone(self, article_id: str, url: str, how: str) -> None:
        self._check(article_id)
        if (key := id_key(article_id)) in self.gone:
            return
        self.gone.add(key)
        if not self._marked(article_id):
            self.fresh_gone += 1
            self.stats.inc_value(keys.REMOVALS_GONE)
        if self.marks.get(article_id, {}).get("state") == "restored":  # its page was a meta refresh elsewhere
            del self.marks[article_id]
            self.stats.inc_value(keys.RESTORED, -1)
        logger.info("gone from the site (%s): %s", how, url)
        if self._surely_mass():
            return
        now, prior = utc_now_iso(), self.states.get(article_id)
        if prior is None or prior.state == "restored":
            self.marks[article_id] = event(article_id, url, "provisional", now, how, run=self._run())
            self.stats.inc_value(keys.REMOVED_PROVISIONAL)
        elif prior.state == "provisional" and _seconds(now) - _seconds(prior.since) >= self.confirm:
            self.marks[article_id] = event(article_id, url, "confirmed", now, how, since=prior.since,
                                           run=self._run())
            self.stats.inc_value(keys.REMOVED_CONFIRMED)

    def _surely_mass(self) -> bool:
        """Whether more are gone than the share of every stored article: then the run's removals cannot be
        believed whatever it meets next, and what it would mark is not kept (a site answering 2.4 million
        articles 404 would otherwise be held in memory to the end)."""
        if not self.surely_mass and mass_removal(self.fresh_gone, max(self.stored, self.fresh_checked),
                                                 self.max_share):
            self.surely_mass = True
            self.marks = {k: mark for k, mark in self.marks.items() if mark["state"] == "restored"}
        return self.surely_mass

    def _run(self) -> int | None:
        return self.memory.run_id if self.memory is not None else None

    def spider_idle(self) -> None:
        """Once the crawl has nothing else to do, ask again for the stored articles no page led to this
        time: those marked removed (a site drops its links to what it takes down), so that a removal is
        confirmed, or the article restored, whether or not anything links to it; and, when the refresh
        walked the listings (no sitemaps to tell what is gone), every other stored article it did not
        ask for, so that one taken down together with every link to it is noticed too."""
        if self.rechecked or self.memory is None:
            return
        self.rechecked = True
        spider = self.crawler.spider
        window = getattr(spider, "window", None)
        asked = 0
        for article_id, url in self._unasked(walked=getattr(spider, "follow", True)):
            parts = site.article_parts(url)
            if parts is None or (window is not None and not window.contains(parts[2])):
                continue
            self.checked_again(Request(url, errback=getattr(spider, "failed", None),
                                       meta={meta.ARTICLE_ID: article_id}))
            asked += 1
        if not asked:
            return
        logger.info("stored articles that no page led to, asked for again: %d", asked)
        raise DontCloseSpider

    def _unasked(self, walked: bool) -> Iterator[tuple[str, str]]:
        """(id, URL) of the stored articles this run has not asked for that :meth:`spider_idle` asks for."""
        for key, removal in self.states.items():
            if removal.removed and id_key(key) not in self.checked:
                yield key, removal.url
        if not walked:  # the sitemaps' discovery asked for the stored articles they do not list
            return
        for article_id, url in self.memory.stored_urls():  # type: ignore[union-attr]
            prior = self.states.get(article_id)
            if id_key(article_id) in self.checked or (prior is not None and prior.removed) or not url:
                continue
            yield article_id, url

    def checked_again(self, request: Request) -> None:
        self.stats.inc_value(keys.source("stored"))
        self.crawler.engine.crawl(request)  # type: ignore[union-attr]

    def spider_closed(self) -> None:
        """Append this run's marks to the log: none of the removals when they are not believed."""
        marks = list(self.marks.values())
        if mass := mass_removal(self.fresh_gone, self.fresh_checked, self.max_share):
            logger.warning("%s", mass)
            marks = [m for m in marks if m["state"] == "restored"]
        if self.checked:
            counts = {state: sum(1 for m in marks if m["state"] == state)
                      for state in ("provisional", "confirmed", "restored")}
            logger.info("removals: %d of %d stored articles refreshed are gone; marked %d removed "
                        "provisionally, %d confirmed, %d restored", len(self.gone), len(self.checked),
                        counts["provisional"], counts["confirmed"], counts["restored"])
        if not marks or self.memory is None:
            return
        name = log_name(self.memory.shard_name)
        try:
            append_events(self.memory.data_dir, name, marks)
        except (StorageError, OSError) as exc:
            logger.error("the removals this run saw were not recorded (%s); the next refresh sees them again",
                         exc)
