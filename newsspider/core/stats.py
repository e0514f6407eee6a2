"""Every stats key newsspider writes into Scrapy's stats, in one place.

Components count into the crawl's stats (``crawler.stats``) under these keys; the end-of-crawl
summary, the run record, the monitors and the command line read them back.  A key is spelled here
only: a component imports the name.  Keys that carry a part (a failure's reason, a proxy) are made
by the functions below.

>>> failed("http_404"), dropped("missing_title"), skipped("outside_window")
('newsspider/failed/http_404', 'newsspider/dropped/missing_title', 'newsspider/skipped/outside_window')
"""

from __future__ import annotations

_ROOT = "newsspider"

# --- the run --------------------------------------------------------------------------------
#: the run id of this crawl in its memory
RUN_ID = f"{_ROOT}/run_id"
#: the dataset file this crawl appends to
DATASET = f"{_ROOT}/dataset"
#: the articles the crawl expects to store or find stored, when it can tell (set by the spider)
EXPECTED = f"{_ROOT}/expected_articles"
#: the run's quality (a JSON object: :func:`newsspider.monitoring.quality.quality`)
QUALITY = f"{_ROOT}/quality"
#: the checks the monitors failed, one line each (the run is "degraded" when not empty)
CHECKS = f"{_ROOT}/degraded"
#: the one-line reason a crawl was stopped by an error it cannot go on after
FATAL = f"{_ROOT}/fatal"
#: pending requests held in memory because the disk refused them (newsspider.frontier.disk)
FRONTIER_IN_MEMORY = f"{_ROOT}/frontier/in_memory"

# --- articles -------------------------------------------------------------------------------
#: records written to the dataset (new articles and new versions)
STORED = f"{_ROOT}/stored"
#: of those, new versions of stored articles (--refresh, reextract)
UPDATED = f"{_ROOT}/updated"
#: articles fetched again and found unchanged
UNCHANGED = f"{_ROOT}/unchanged"
#: articles fetched again with their stored validators and answered 304 Not Modified (--refresh)
NOT_MODIFIED = f"{_ROOT}/not_modified"
#: articles met again in this crawl or stored before
DUPLICATES = f"{_ROOT}/duplicates"
#: records that failed validation (each reason under ``dropped(reason)``)
DROPPED = f"{_ROOT}/dropped"
#: records that could not be written (the crawl is stopping on a storage error)
NOT_STORED = f"{_ROOT}/not_stored"

# --- articles the site removed (newsspider.crawl.removals; a refresh only) ---------------------
#: stored articles a refresh asked for again that answered (on the site, or gone), of those not marked
#: removed before
REMOVALS_CHECKED = f"{_ROOT}/removals/checked"
#: of those, the ones that answered as removed (404, 410, a redirect to another page)
REMOVALS_GONE = f"{_ROOT}/removals/gone"
#: articles this run marks removed: provisionally (first seen gone), confirmed (seen gone again at least
#: NEWSSPIDER_REMOVED_CONFIRM later), restored (on the site again after being marked)
REMOVED_PROVISIONAL = f"{_ROOT}/removals/provisional"
REMOVED_CONFIRMED = f"{_ROOT}/removals/confirmed"
RESTORED = f"{_ROOT}/removals/restored"
#: the largest share of checked articles that may be gone before the run's removals are not believed
REMOVALS_MAX_SHARE = f"{_ROOT}/removals/max_share"
#: lines of the removals log that are not events (skipped)
REMOVALS_BAD_LINES = f"{_ROOT}/removals/bad_lines"

# --- pages ----------------------------------------------------------------------------------
#: pages that failed (each reason under ``failed(reason)``)
FAILED = f"{_ROOT}/failed"
CHARSET_FIXED = f"{_ROOT}/charset_fixed"
RETRY_AFTER_WAITS = f"{_ROOT}/retry_after_waits"
LISTING_SEEKS = f"{_ROOT}/listing_seeks"
#: listing pages that listed no article a listing page of this crawl had not shown (barren pages:
#: past NEWSSPIDER_MAX_BARREN_LISTINGS under one root, they lead to no other listing,
#: ``skipped("barren_listings")``)
BARREN_LISTING_PAGES = f"{_ROOT}/barren_listing_pages"
IMAGES = f"{_ROOT}/images"
#: an article page's own stylesheets fetched into the archive with its images (--images)
STYLESHEETS = f"{_ROOT}/stylesheets"
WARC_RECORDS = f"{_ROOT}/warc_records"
WARC_REVISITS = f"{_ROOT}/warc_revisits"
#: timestamp tokens of the run's manifest received (one per authority that answered: --timestamp)
TIMESTAMPS = f"{_ROOT}/timestamps"
#: downloads cut because their body stalled (NEWSSPIDER_STALL_TIMEOUT; each fails as a timeout)
STALLED = f"{_ROOT}/stalled_downloads"
#: requests whose download a stopping crawl cancelled, kept in the frontier (newsspider.access.deadlines)
KEPT_AT_STOP = f"{_ROOT}/kept_at_stop"

# --- sitemaps (newsspider.spiders.sitemaps) -------------------------------------------------
#: sitemap files read (indexes and urlsets, gzip or not)
SITEMAPS = f"{_ROOT}/sitemaps/read"
#: article URLs on the crawl's hosts that the sitemaps listed
SITEMAP_URLS = f"{_ROOT}/sitemaps/article_urls"

# --- feeds (newsspider.spiders.feeds) -------------------------------------------------------
#: feeds read
FEEDS = f"{_ROOT}/feeds/read"
#: article URLs on the crawl's hosts that the feeds listed
FEED_URLS = f"{_ROOT}/feeds/article_urls"

# --- reaching the site ----------------------------------------------------------------------
CHALLENGES = f"{_ROOT}/challenges"
CHALLENGES_RETRIED = f"{_ROOT}/challenges/retried"
CLEARANCES = f"{_ROOT}/clearances"
BROWSER_FAILURES = f"{_ROOT}/browser_failures"
PROXY_FAILURES = f"{_ROOT}/proxy_failures"
PROXY_RETRIES = f"{_ROOT}/proxy_retries"
PROXY_RETRIES_EXHAUSTED = f"{_ROOT}/proxy_retries_exhausted"
#: the prefix of the per-proxy counts (``proxy(name, what)``)
PROXY = f"{_ROOT}/proxy"

# --- newsspider estimate --------------------------------------------------------------------
ESTIMATE = f"{_ROOT}/estimate"
#: the articles and listings read to tell the crawl's listings (newsspider.run.estimate.Sample)
ESTIMATE_SAMPLE = f"{_ROOT}/estimate_sample"
ESTIMATE_LATENCY = f"{_ROOT}/estimate_latency"
#: the article URLs in the window the sitemaps list, and the sitemap files read to count them
ESTIMATE_SITEMAPS = f"{_ROOT}/estimate_sitemaps"


def failed(reason: str) -> str:
    """A failed page, by its short reason."""
    return f"{FAILED}/{reason}"


def dropped(reason: str) -> str:
    """A dropped record, by its reason."""
    return f"{DROPPED}/{reason}"


def skipped(kind: str) -> str:
    """Requests not made, by why (``stored``, ``outside_window``, ``robots_txt``, …)."""
    return f"{_ROOT}/skipped/{kind}"


def sitemap_problem(what: str) -> str:
    """A sitemap not read, or a part of one left out, by why (``not_xml``, ``too_large``, ``http_404``,
    ``repeated``, ``too_deep``, ``too_many``, ``other_host``, …): never a failed page."""
    return f"{_ROOT}/sitemaps/problems/{what}"


def feed_problem(what: str) -> str:
    """A feed not read, by why (``not_feed``, ``too_large``, ``http_404``, ``other_host``, …): never a
    failed page."""
    return f"{_ROOT}/feeds/problems/{what}"


def source(name: str) -> str:
    """Article requests made from what a source gave: ``sitemaps``, ``feeds``, ``links`` (listings and
    pages), or ``stored`` (a refresh's stored articles no source listed).

    >>> source("sitemaps")
    'newsspider/source/sitemaps'
    """
    return f"{_ROOT}/source/{name}"


def challenges_of(vendor: str) -> str:
    return f"{CHALLENGES}/{vendor}"


def images_failed(reason: str) -> str:
    return f"{_ROOT}/images_failed/{reason}"


def stylesheets_failed(reason: str) -> str:
    return f"{_ROOT}/stylesheets_failed/{reason}"


def proxy(name: str, what: str) -> str:
    """A count of one proxy (its URL with the password hidden): ``requests``, ``failed/<reason>``."""
    return f"{PROXY}/{name}/{what}"
