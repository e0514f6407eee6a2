"""The newsspider add-on: every component of a crawl, and every ``NEWSSPIDER_*`` default, set once.

Enable it in any Scrapy project (``ADDONS = {"newsspider.crawl.addon.NewsspiderAddon": 0}``)
and ``scrapy crawl bannedbook`` is a newsspider crawl: the crawl's memory, the
pipelines (validate -> deduplicate -> store), the middlewares, the
extensions and, with ``NEWSSPIDER_REDIS_URL``, the shared Redis frontier.
Its values have the ``addon`` priority: a project's settings module, a
spider's ``custom_settings`` and ``-s`` override them; a component a project
disables (``None``) stays disabled.  Politeness toward the live site is the
project's (see :mod:`newsspider.settings`).
"""

from __future__ import annotations

from typing import Any

from scrapy.downloadermiddlewares.httpproxy import HttpProxyMiddleware
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.extensions.logstats import LogStats
from scrapy.settings import BaseSettings
from spidermon.contrib.scrapy.extensions import Spidermon

from newsspider.access.clearance import Challenges
from newsspider.access.deadlines import KeepStopped
from newsspider.access.handler import RoutedHandler
from newsspider.access.proxies import ProxyRoute
from newsspider.archive.capture import WarcCapture, WarcPointer
from newsspider.archive.reader import MAX_BODY
from newsspider.archive.replay import Reextracted
from newsspider.core.credentials import encode_userinfo
from newsspider.crawl.extensions import OneLineLogFormatter, Progress, RedirectOutcomes, RobotsTxtErrors
from newsspider.crawl.failures import NothingFetched, PageErrors
from newsspider.crawl.middlewares import CharsetFix, MetaRefresh, RetryAfter, RobotsTxt, WindowRedirects
from newsspider.crawl.pipelines import DedupePipeline, JsonLinesStorePipeline, ValidatePipeline
from newsspider.crawl.removals import Removals
from newsspider.crawl.resume import EndedMarker
from newsspider.crawl.skipstored import SkipStored
from newsspider.crawl.validators import ConditionalRequests
from newsspider.frontier.keys import busy_keys, queue_key
from newsspider.frontier.leases import LeaseAck
from newsspider.frontier.workers import WorkerHeartbeat
from newsspider.memory import REDIS_PREFIX
from newsspider.memory.extension import CrawlMemory
from newsspider.memory.redis import client_options
from newsspider.monitoring.monitors import CrawlChecks
from newsspider.monitoring.quality import RunQuality

__all__ = ["DEFAULTS", "NewsspiderAddon"]

#: newsspider's own settings and their defaults
DEFAULTS: dict[str, Any] = {
    # Directory that holds the dataset (articles.jsonl) and the crawl's memory.
    "NEWSSPIDER_DATA_DIR": "data",
    # Start URLs used when none are given; empty means the live site's (newsspider.extract.site).
    "NEWSSPIDER_START_URLS": [],
    # Seconds between progress lines while a crawl runs (0 switches them off).
    "NEWSSPIDER_PROGRESS_INTERVAL": 5.0,
    # Progress as one updating line (a tqdm bar) instead of log lines: "auto" = when stderr is a terminal.
    "NEWSSPIDER_PROGRESS_BAR": "auto",
    # Upper bound on listing pages followed per listing (front page, category, tag); 0 = no bound.
    "NEWSSPIDER_MAX_LISTING_PAGES": 0,
    # Longest wait honoured from a Retry-After header (seconds); 0 ignores the header.
    "NEWSSPIDER_MAX_RETRY_AFTER": 120.0,
    # A listing's pagination stops after this many pages in a row that list no article this listing
    # had not already shown (pages that repeat themselves, or list nothing): a bound on listings whose
    # "next page" never ends.  Articles reached another way first do not make a page stale.
    "NEWSSPIDER_MAX_STALE_PAGES": 5,
    # Listing pages that list no article new to the crawl (barren) allowed below one that did, across
    # listings: past this many, barren pages are not followed to the other listings they link to (a
    # bound on traps of ever-new sub-listings; newsspider/skipped/barren_listings).  0 = no bound.
    "NEWSSPIDER_MAX_BARREN_LISTINGS": 20,
    # Only articles of these days (--since / --until): YYYY-MM-DD, or a span back from today (30d, 8w,
    # 6m, 2y).  Empty = open.  Articles outside are never requested (newsspider/skipped/outside_window).
    "NEWSSPIDER_SINCE": "",
    "NEWSSPIDER_UNTIL": "",
    # Links read per page (the rest are counted as newsspider/skipped/links_over_limit): a bound on
    # hostile pages with ever more links.  0 = no bound.
    "NEWSSPIDER_MAX_LINKS_PER_PAGE": 2000,
    # Re-fetch articles already stored; a changed one is stored again with a higher version (--refresh).
    "NEWSSPIDER_REFRESH": False,
    # Keep each stored article's ETag and Last-Modified, and ask with them on --refresh (If-None-Match,
    # If-Modified-Since): a 304 Not Modified is counted (newsspider/not_modified), archived as a revisit
    # record and stores nothing (newsspider.crawl.validators).  False: neither kept nor sent.
    "NEWSSPIDER_VALIDATORS": True,
    # Do not request articles the memory has stored (newsspider.crawl.skipstored); off with --refresh.
    "NEWSSPIDER_SKIP_STORED": True,
    # Read the site's sitemaps (robots.txt's Sitemap: lines, else /sitemap_index.xml, /wp-sitemap.xml)
    # before the listings: what they list seeds the crawl, a listing page whose articles they all gave
    # does not lead on to its next page, and --refresh fetches only the articles whose lastmod is newer
    # than their last capture, walking no listing (--no-sitemaps: off; newsspider.spiders.sitemaps).
    # A distributed crawl (NEWSSPIDER_REDIS_URL) reads them to --refresh only; else it walks the listings.
    "NEWSSPIDER_SITEMAPS": True,
    # A recurring crawl (not --refresh, --resume, a window or NEWSSPIDER_EXTRA_OLD_PAGES) reads the site's
    # feed first (the one its pages name in <link rel="alternate">, else /bnews/feed/): when the feed
    # reaches back to a page of articles stored by a run that walked the whole site, it lists every new
    # one, and the crawl fetches them, checks the start pages against the feed and walks no other listing
    # (--no-feeds: off; newsspider.spiders.feeds).  Single-machine crawls only.
    "NEWSSPIDER_FEEDS": True,
    # The pages of a feed read at most (WordPress's ?paged=N, 10 posts a page) until one reaches back to
    # what earlier runs stored: more new articles than this holds, and the listings are walked.
    "NEWSSPIDER_FEED_PAGES": 20,
    # A listing's pagination stops at a page whose articles were all stored by earlier runs; this
    # many such pages are followed first (go deeper to catch articles added further down).
    "NEWSSPIDER_EXTRA_OLD_PAGES": 0,
    # --- Articles the site removed (newsspider.crawl.removals; --refresh) ---
    # A stored article a refresh finds gone (404, 410, a redirect to another page) is marked removed
    # provisionally; a refresh at least this long after (seconds, or 90s, 30m, 12h, 1d, 2w) that finds it
    # gone too confirms it (its removed_at).  A day: a page a site takes down for an hour is not removed.
    "NEWSSPIDER_REMOVED_CONFIRM": "1d",
    # A refresh where more than this share of the stored articles it asked for is gone met a broken site or
    # a block, not a removal: it marks nothing removed and is degraded.  A news site takes down a few
    # articles at a time (well under 1% of a refresh); a block or a broken site answers most of them so.
    "NEWSSPIDER_REMOVED_MAX_SHARE": 0.2,
    # --- Reaching the site (newsspider.access.proxies) ---
    # Proxies every request goes through, in turn (--proxy): http://, https://, socks5:// or
    # socks5h:// URLs, user:password@ allowed; the proxy resolves the site's name.
    "NEWSSPIDER_PROXIES": [],
    # Without NEWSSPIDER_PROXIES: use the proxies the environment names, as curl does (http_proxy,
    # https_proxy, all_proxy, no_proxy, upper or lower case).
    "NEWSSPIDER_PROXY_FROM_ENV": True,
    # Failures in a row (refused, connect timeout, password, SOCKS/CONNECT error, a 5xx of its own)
    # after which a proxy is taken out; its requests are retried through the others meanwhile.
    "NEWSSPIDER_PROXY_MAX_FAILURES": 3,
    # Seconds a proxy is out the first time (doubling each time after, up to 30 minutes); when every
    # proxy is out at once, the crawl stops.
    "NEWSSPIDER_PROXY_BACKOFF": 60.0,
    # A download whose body stalls, nothing received for this many seconds since its headers or its
    # latest bytes, fails as a timeout (retried as one); 0: no such rule.  DOWNLOAD_TIMEOUT bounds the
    # whole download, from the request to the last byte, on every handler (through proxies too).
    "NEWSSPIDER_STALL_TIMEOUT": 20.0,
    # Seconds a stopping crawl (Ctrl-C, SIGTERM, a fatal error, a bound) waits for the downloads in
    # flight; then they are cancelled and their requests kept in the frontier (for --resume).
    "NEWSSPIDER_STOP_TIMEOUT": 10.0,
    # --- Bot challenges (newsspider.access.clearance) ---
    # Pass a CDN's bot challenge with a headless Chromium (--browser; the [browser] extra): it earns
    # the clearance cookies once, the crawl goes on over plain HTTP with them and its User-Agent.
    "NEWSSPIDER_BROWSER": False,
    # Seconds the browser is given to pass one challenge before the page fails as "challenge".
    "NEWSSPIDER_BROWSER_TIMEOUT": 60.0,
    # The Chromium to run; empty: chromium (or chromium-browser, google-chrome) on the PATH, else
    # Playwright's own.
    "NEWSSPIDER_BROWSER_PATH": "",
    # A browser's TLS fingerprint for every request (--impersonate): a
    # curl_cffi target such as chrome, chrome152, firefox, safari; empty: Scrapy's own handshakes.
    "NEWSSPIDER_IMPERSONATE": "",
    # --- The web archive ---
    # Keep every fetched response, as served, in WARC files under <data dir>/warc/ (--no-warc: off).
    "NEWSSPIDER_WARC": True,
    # Bytes of a WARC file before the next one is started (at least 65536: less starts one a response).
    "NEWSSPIDER_WARC_MAX_SIZE": 1024**3,
    # Also fetch each article's images and its page's stylesheets into the archive (--images).
    "NEWSSPIDER_IMAGES": False,
    # Archive article pages only (not listing pages and robots.txt; images still, with --images).
    "NEWSSPIDER_WARC_ARTICLES_ONLY": False,
    # RFC 3161 timestamp authorities (--timestamp URL, repeatable) that timestamp the run's manifest of
    # its WARC files (DATA_DIR/evidence/) when the crawl ends; one that cannot be reached is one
    # warning, the crawl goes on.  Empty: manifests are kept, not timestamped.
    "NEWSSPIDER_TIMESTAMP_URLS": [],
    # Seconds a timestamp authority is given to answer.
    "NEWSSPIDER_TIMESTAMP_TIMEOUT": 10.0,
    # The data dir whose archived pages `newsspider reextract` reads (set by the command).
    "NEWSSPIDER_REEXTRACT_FROM": "",
    # Worker processes that read and extract archived pages in `newsspider reextract` (--jobs);
    # 0: one per CPU, for an archive of 1,000 article pages or more (fewer are read in one process).
    "NEWSSPIDER_REEXTRACT_JOBS": 0,
    # --- Distributed crawls (scrapy-redis) ---
    # redis://HOST:PORT/DB of the shared crawl; empty: a single-machine crawl with the SQLite state.
    "NEWSSPIDER_REDIS_URL": "",
    # Prefix of every Redis key of the crawl (two crawls on one Redis need two prefixes).
    "NEWSSPIDER_REDIS_PREFIX": REDIS_PREFIX,
    # This worker's id, naming its shard articles-<id>.jsonl; empty: <host name>-<process id>.
    "NEWSSPIDER_WORKER_ID": "",
    # Seconds a worker holds a request before, if it stopped renewing, others take it back.
    "NEWSSPIDER_REDIS_LEASE": 30.0,
    # Seconds a worker keeps reconnecting to a Redis that went away (a restart) before it stops.
    "NEWSSPIDER_REDIS_RECONNECT": 30.0,
    # Seconds an idle worker waits for other workers' requests before it stops (not "finished").
    "NEWSSPIDER_REDIS_IDLE_TIMEOUT": 60.0,
    # --- Monitoring (Spidermon; SPIDERMON_ENABLED=False switches it off) ---
    # A field whose coverage falls more than this many points below its median fails the run.
    "NEWSSPIDER_MONITOR_COVERAGE_DROP": 30.0,
    # The runs compared with: the last this many that stored at least MIN_ARTICLES (a run that
    # stored fewer is not compared either).
    "NEWSSPIDER_MONITOR_HISTORY": 5,
    "NEWSSPIDER_MONITOR_MIN_ARTICLES": 20,
    # Largest share of pages that fail, of responses that are 403/429, of records dropped.
    "NEWSSPIDER_MONITOR_MAX_FAILURE_RATE": 0.1,
    "NEWSSPIDER_MONITOR_MAX_BAN_RATE": 0.05,
    "NEWSSPIDER_MONITOR_MAX_DROP_RATE": 0.1,
    # Where a degraded run is reported: a JSON POST, a Slack incoming webhook, e-mail.
    "NEWSSPIDER_WEBHOOK_URL": "",
    "NEWSSPIDER_SLACK_WEBHOOK_URL": "",
    "NEWSSPIDER_EMAIL_TO": [],
    "NEWSSPIDER_EMAIL_FROM": "newsspider@localhost",
    "NEWSSPIDER_SMTP_HOST": "",
    "NEWSSPIDER_SMTP_PORT": 25,
    "NEWSSPIDER_SMTP_USER": "",
    "NEWSSPIDER_SMTP_PASSWORD": "",
}

#: Scrapy settings the crawl's shape depends on
_CRAWL: dict[str, Any] = {
    # An archive that anyone may run obeys the site's robots.txt unless its project says otherwise.
    "ROBOTSTXT_OBEY": True,
    # Breadth-first with articles first (see the spider's priorities).
    "DEPTH_PRIORITY": 0,
    "REDIRECT_MAX_TIMES": 5,
    "DOWNLOAD_MAXSIZE": MAX_BODY,  # 8 MiB; reextract reads no archived body larger, decoded
    "DOWNLOAD_WARNSIZE": 2 * 1024 * 1024,
    # Progress lines replace Scrapy's LogStats (see newsspider.crawl.extensions.Progress).
    "LOGSTATS_INTERVAL": 0,
    # A dropped item is logged as one line (its reason and URL), not the whole record.
    "LOG_FORMATTER": OneLineLogFormatter,
    "FEED_EXPORT_ENCODING": "utf-8",
    # Monitoring: Spidermon's field coverage of the stored records (a field counts when neither None
    # nor empty; the archive pointer is one field) and the checks run when the spider closes.
    "SPIDERMON_ENABLED": True,
    "SPIDERMON_ADD_FIELD_COVERAGE": True,
    "SPIDERMON_FIELD_COVERAGE_SKIP_NONE": True,
    "SPIDERMON_DICT_FIELDS_COVERAGE_LEVELS": 0,
    "SPIDERMON_SPIDER_CLOSE_MONITORS": [CrawlChecks],
    # Scrapy's check re-reads the source of a callback on every response (a request's bound method
    # is a new object, so its cache misses): 0.3 ms a page.  tests/test_crawl.py
    # (test_callbacks_return_nothing_from_generators) runs the check once.
    "WARN_ON_GENERATOR_RETURN_VALUE": False,
    # Scrapy hands each response's output (its item and its requests) to CONCURRENT_ITEMS worker tasks,
    # started for every response whatever the number of outputs: at Scrapy's 100, some 100 tasks a page,
    # a sixth of the crawl's CPU.  A page yields at most one item and the pipelines never wait on I/O,
    # so four do the same work (benchmarks/HISTORY.md: the profile and the measurement).
    "CONCURRENT_ITEMS": 4,
}

#: http(s) requests through a proxy go to the curl_cffi handler (SOCKS), the others to Scrapy's default one
_HANDLERS = {"http": RoutedHandler, "https": RoutedHandler}

_COMPONENTS: dict[str, dict[type, int | None]] = {
    # The last measures what was stored: the run's quality, in the stats when the pipelines close
    # (before spider_closed, on which the monitors run).
    "ITEM_PIPELINES": {ValidatePipeline: 100, DedupePipeline: 200, JsonLinesStorePipeline: 300,
                       RunQuality: 900},
    "SPIDER_MIDDLEWARES": {
        # Outermost: a callback that raises is one failed page (parse_error), counted and logged.
        PageErrors: 40,
        # Requests for articles the memory has stored are not made (scrapy-deltafetch's place).
        SkipStored: 100,
        # An article record points at its archived page.
        WarcPointer: 800,
        # Distributed crawls: release a request's lease once its output is stored.
        LeaseAck: 950,
    },
    "DOWNLOADER_MIDDLEWARES": {
        # Scrapy's robots.txt middleware lets requests through unchecked while robots.txt is fetched.
        RobotsTxtMiddleware: None,
        RobotsTxt: 100,
        # Before robots.txt is asked: a redirect to an article outside --since/--until is not followed.
        WindowRedirects: 90,
        # Scrapy's meta refresh fails a whole page whose <base href> is not a URL: ours keeps the page.
        MetaRefreshMiddleware: None,
        MetaRefresh: 580,
        # Every request on a proxy of the pool (NEWSSPIDER_PROXIES, or the environment's: Scrapy's
        # HttpProxyMiddleware reads no SOCKS proxy and no all_proxy); a failed proxy's requests retried.
        HttpProxyMiddleware: None,
        ProxyRoute: 750,
        # Conditional requests for stored articles on --refresh; after Scrapy's DownloaderStats (850)
        # has counted a 304's bytes, after the archive (950) has kept it.
        ConditionalRequests: 800,
        # Before Scrapy's RetryMiddleware (550) sees a 429/503: wait as its Retry-After asks.
        RetryAfter: 560,
        # After decompression (590), before MetaRefresh reads the page (580): pages whose HTTP
        # charset is wrong are decoded as they declare.
        CharsetFix: 585,
        # Before RedirectMiddleware (600) follows a redirect: a refreshed article that answers 404, 410 or
        # a redirect to another page is a removal seen, not a failed page (--refresh only).
        Removals: 620,
        # Next to the network: each response archived as it was served (before decompression)...
        WarcCapture: 950,
        # ...unless it is a bot challenge: never archived, parsed or stored; passed with --browser.
        Challenges: 960,
        # Closest to the network: a download a stopping crawl cancelled goes back into the frontier.
        KeepStopped: 990,
    },
    "EXTENSIONS": {
        LogStats: None,
        Progress: 500,
        RedirectOutcomes: 510,
        RobotsTxtErrors: 520,
        # A crawl that got no page at all stops as "unreachable" (a failed run), never "finished".
        NothingFetched: 530,
        # The monitors run on spider_closed; the run is recorded with their checks on engine_stopped,
        # which Scrapy sends after every spider_closed handler has run.
        Spidermon: 590,
        CrawlMemory: 600,
        EndedMarker: 605,
        WorkerHeartbeat: 610,
    },
}


class NewsspiderAddon:
    """Scrapy add-on: register newsspider's components and set its defaults."""

    @classmethod
    def update_pre_crawler_settings(cls, settings: BaseSettings) -> None:
        """``scrapy crawl bannedbook`` finds the spider in any project."""
        settings.add_to_list("SPIDER_MODULES", "newsspider.spiders")

    def update_settings(self, settings: BaseSettings) -> None:
        for name, value in {**DEFAULTS, **_CRAWL}.items():
            settings.set(name, value, priority="addon")
        if target := settings.get("NEWSSPIDER_IMPERSONATE"):  # what the curl_cffi handler reads
            settings.set("CURL_CFFI_IMPERSONATE", target, priority="addon")
        handlers = settings.getdict("DOWNLOAD_HANDLERS")
        settings.set("DOWNLOAD_HANDLERS", {**_HANDLERS, **handlers}, priority="addon")
        for name, components in _COMPONENTS.items():
            for component, order in components.items():
                settings.setdefault_in_component_priority_dict(name, component, order)
        if url := settings.get("NEWSSPIDER_REDIS_URL"):
            self._redis_frontier(settings, url)
        else:
            # the requests seen in 8 bytes each, not Scrapy's set of fingerprints (frontier.seen)
            settings.set("DUPEFILTER_CLASS", "newsspider.frontier.seen.CompactDupeFilter", priority="addon")
            if not settings.get("JOBDIR") and not settings.get("NEWSSPIDER_REEXTRACT_FROM"):
                self._disk_frontier(settings)
        if settings.get("NEWSSPIDER_REEXTRACT_FROM"):
            self._replay(settings)

    @staticmethod
    def _disk_frontier(settings: BaseSettings) -> None:
        """The pending requests on disk, in the data dir's scratch space (newsspider.frontier.disk);
        with JOBDIR (--resume) they are on disk already, in Scrapy's saved frontier."""
        for name, value in {
            "SCHEDULER": "newsspider.frontier.disk.DiskFrontier",
            "SCHEDULER_DISK_QUEUE": "newsspider.frontier.disk.DiskLifoQueue",
            "SCHEDULER_START_DISK_QUEUE": "newsspider.frontier.disk.DiskFifoQueue",
        }.items():
            settings.set(name, value, priority="addon")

    @staticmethod
    def _replay(settings: BaseSettings) -> None:
        """Re-extraction: the spider yields records read from the archive (nothing is requested, so
        nothing is archived again), stored again only when what was extracted changed."""
        settings.set_in_component_priority_dict("ITEM_PIPELINES", DedupePipeline, None)
        settings.set_in_component_priority_dict("ITEM_PIPELINES", Reextracted, 200)
        for name, value in {"NEWSSPIDER_WARC": False, "NEWSSPIDER_SKIP_STORED": False}.items():
            settings.set(name, value, priority="cmdline")

    @staticmethod
    def _redis_frontier(settings: BaseSettings, url: str) -> None:
        """The crawl's frontier is the shared one in Redis (scrapy-redis's settings)."""
        prefix = settings.get("NEWSSPIDER_REDIS_PREFIX")
        for name, value in {
            "SCHEDULER": "newsspider.frontier.scheduler.RedisFrontier",
            "SCHEDULER_QUEUE_CLASS": "newsspider.frontier.queue.LeasedPriorityQueue",
            "SCHEDULER_QUEUE_KEY": queue_key(prefix),
            "NEWSSPIDER_REDIS_FRONTIER_KEYS": busy_keys(prefix),  # the memory's: is a crawl going on?
            "SCHEDULER_PERSIST": True,
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "REDIS_URL": encode_userinfo(url),  # a password typed unencoded, read as curl reads it
            # ride out a Redis restart of up to NEWSSPIDER_REDIS_RECONNECT seconds, then stop
            "REDIS_PARAMS": client_options(settings.getfloat("NEWSSPIDER_REDIS_RECONNECT")),
        }.items():
            settings.set(name, value, priority="addon")
