"""Every setting newsspider uses, defined once, with polite defaults for the live site.

Scrapy reads this module as the project settings (``scrapy.cfg`` and
:func:`newsspider.runner.crawler_settings`).  Components never import it: they
read ``crawler.settings`` so that ``-s NAME=VALUE`` overrides reach them.
Our own settings carry the ``NEWSSPIDER_`` prefix.
"""

from newsspider import __version__

BOT_NAME = "newsspider"
SPIDER_MODULES = ["newsspider.spiders"]
NEWSPIDER_MODULE = "newsspider.spiders"

# --- Politeness toward the live site (tests and benchmarks override with -s) ---
USER_AGENT = f"newsspider/{__version__} (+https://pypi.org/project/newsspider/; archival crawler)"
ROBOTSTXT_OBEY = True
DOWNLOAD_DELAY = 1.0
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy's remote-control HTTP endpoint runs code sent to it: a crawler has no use for it.
REMOTE_CONTROL_ENABLED = False

# --- Crawl shape ---
# Breadth-first with articles first (see the spider's priorities): the frontier stays small.
DEPTH_PRIORITY = 0
REDIRECT_MAX_TIMES = 5
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024

# --- Logging ---
LOG_LEVEL = "INFO"
LOGSTATS_INTERVAL = 0  # replaced by newsspider.extensions.Progress
# A dropped item is logged as one line (its reason and URL), not the whole record.
LOG_FORMATTER = "newsspider.extensions.OneLineLogFormatter"
FEED_EXPORT_ENCODING = "utf-8"

# --- Item pipeline: validate -> deduplicate -> store ---
ITEM_PIPELINES = {
    "newsspider.pipelines.ValidatePipeline": 100,
    "newsspider.pipelines.DedupePipeline": 200,
    "newsspider.pipelines.JsonLinesStorePipeline": 300,
}

# Switches the frontier to Redis when NEWSSPIDER_REDIS_URL is set (see newsspider.frontier).
ADDONS = {"newsspider.frontier.RedisAddon": 0}

SPIDER_MIDDLEWARES = {
    # Outermost: a callback that raises is one failed page (parse_error), counted and logged.
    "newsspider.failures.PageErrors": 40,
    # Distributed crawls: release a request's lease once its output is stored.
    "newsspider.frontier.LeaseAck": 950,
}

DOWNLOADER_MIDDLEWARES = {
    # Scrapy's robots.txt middleware lets requests through unchecked while robots.txt is fetched.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "newsspider.middlewares.RobotsTxt": 100,
    # Scrapy's meta refresh fails a whole page whose <base href> is not a URL: ours keeps the page.
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "newsspider.middlewares.MetaRefresh": 580,
    # Before Scrapy's RetryMiddleware (550) sees a 429/503: wait as its Retry-After asks.
    "newsspider.middlewares.RetryAfter": 560,
    # After decompression (590): pages whose HTTP charset is wrong are decoded as they declare.
    "newsspider.middlewares.CharsetFix": 580,
}

EXTENSIONS = {
    "scrapy.extensions.logstats.LogStats": None,
    "newsspider.extensions.Progress": 500,
    "newsspider.extensions.RedirectOutcomes": 510,
    "newsspider.extensions.RobotsTxtErrors": 520,
    "newsspider.incremental.RunRecorder": 600,
    "newsspider.frontier.WorkerHeartbeat": 610,
}

# --- newsspider's own settings ---
# Directory that holds the dataset (articles.jsonl) and the crawl's memory.
NEWSSPIDER_DATA_DIR = "data"
# Start URLs used when none are given; empty means the live site's defaults in newsspider.site.
NEWSSPIDER_START_URLS: list[str] = []
# Seconds between progress lines while a crawl runs (0 switches them off).
NEWSSPIDER_PROGRESS_INTERVAL = 5.0
# Upper bound on listing pages followed per listing (front page, category, tag); 0 = no bound.
NEWSSPIDER_MAX_LISTING_PAGES = 0
# Longest wait honoured from a Retry-After header (seconds); 0 ignores the header.
NEWSSPIDER_MAX_RETRY_AFTER = 120.0
# A listing's pagination stops after this many pages in a row that list no article new to the
# crawl: a bound on listings whose "next page" never ends.
NEWSSPIDER_MAX_STALE_PAGES = 5
# Links read per page (the rest are counted as newsspider/skipped/links_over_limit): a bound on
# hostile pages with ever more links.  0 = no bound.
NEWSSPIDER_MAX_LINKS_PER_PAGE = 2000
# Re-fetch articles already stored; a changed one is stored again with a higher version (--refresh).
NEWSSPIDER_REFRESH = False
# A listing's pagination stops at a page whose articles were all stored by earlier runs; this many
# such pages are followed first (go deeper to catch articles added further down).
NEWSSPIDER_EXTRA_OLD_PAGES = 0

# --- Distributed crawls (scrapy-redis) ---
# redis://HOST:PORT/DB of the shared crawl; empty: a single-machine crawl with the SQLite state.
NEWSSPIDER_REDIS_URL = ""
# Prefix of every Redis key of the crawl (two crawls on one Redis need two prefixes).
NEWSSPIDER_REDIS_PREFIX = "newsspider"
# This worker's id, naming its shard articles-<id>.jsonl; empty: <host name>-<process id>.
NEWSSPIDER_WORKER_ID = ""
# Seconds a worker holds a request before, if it stopped renewing, others take it back.
NEWSSPIDER_REDIS_LEASE = 30.0
# Seconds a worker keeps reconnecting to a Redis that went away (a restart) before it stops with an error.
NEWSSPIDER_REDIS_RECONNECT = 30.0
# Seconds an idle worker waits for other workers' requests before it stops (not "finished").
NEWSSPIDER_REDIS_IDLE_TIMEOUT = 60.0
