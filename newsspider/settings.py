"""The project's settings: politeness toward the live site, and the newsspider add-on.

Scrapy reads this module as the project settings (``scrapy.cfg`` and
:func:`newsspider.run.runner.crawler_settings`).  Everything else a crawl needs
(its components, the ``NEWSSPIDER_*`` settings and their defaults) comes from
:class:`newsspider.crawl.addon.NewsspiderAddon`, so that any Scrapy project that
enables the add-on crawls the same way.  Tests and benchmarks override the
politeness with ``-s``.  (robots.txt is obeyed by the add-on's default, so
that any project using it is polite too.)
"""

from newsspider import __version__

BOT_NAME = "newsspider"
SPIDER_MODULES = ["newsspider.spiders"]
NEWSPIDER_MODULE = "newsspider.spiders"

# --- Politeness toward the live site (tests and benchmarks override with -s) ---
USER_AGENT = f"newsspider/{__version__} (+https://pypi.org/project/newsspider/; archival crawler)"
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
# newsspider's own lines (progress, failed pages) without Scrapy's debug output.
LOG_LEVEL = "INFO"

# --- newsspider: its components and their defaults (NEWSSPIDER_* settings: newsspider.crawl.addon) ---
ADDONS = {"newsspider.crawl.addon.NewsspiderAddon": 0}
