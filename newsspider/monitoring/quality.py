"""The quality of one run: what share of its stored records has each field, and how the fetching went.

Spidermon counts the fields of every stored record (its field coverage,
``SPIDERMON_ADD_FIELD_COVERAGE``: a field counts when it is neither None nor
empty).  :class:`RunQuality` (an extension) adds the body lengths and, when
the spider closes, puts the run's :func:`quality` into the stats as
``newsspider/quality``: the monitors judge it, and the crawl's memory keeps it
in the run history.  Counts, not shares, are kept, so that the workers of a
distributed run add up.
"""

from __future__ import annotations

import statistics
import time
from array import array
from collections.abc import Mapping, Sequence
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from newsspider.core import stats as keys
from newsspider.core.removals import mass_removal
from newsspider.core.summary import CrawlSummary
from newsspider.views.runs import TRACKED_FIELDS

__all__ = ["RunQuality", "quality", "removal_counts"]

# Spidermon's count of the stored records that have a field
_COUNT = "spidermon_item_scraped_count/Article/"
# the proxies' counts (newsspider.access.proxies)
_PROXY = keys.PROXY + "/"


def quality(stats: Mapping[str, Any], body_lengths: Sequence[int] = (),
            seconds: float | None = None) -> dict[str, Any]:
    """A run's quality from its stats (and the body lengths of its stored records, and the seconds it
    ran, when the stats do not have them yet).

    >>> q = quality({"newsspider/stored": 4, "spidermon_item_scraped_count/Article/summary": 3,
    ...              "response_received_count": 10, "elapsed_time_seconds": 5.0,
    ...              "retry/count": 2, "downloader/response_status_count/429": 1}, [10, 30, 20, 40])
    >>> q["fields"]["summary"], q["fields"]["author"], q["median_body"], q["pages_per_second"], q["bans"]
    (3, 0, 25, 2.0, 1)
    """
    summary = CrawlSummary.from_stats(stats, seconds)
    status = "downloader/response_status_count/"
    return {
        "stored": summary.stored,
        "fields": {name: int(stats.get(_COUNT + name, 0)) for name in TRACKED_FIELDS},
        "median_body": int(statistics.median(body_lengths)) if body_lengths else 0,
        "dropped": {key.rsplit("/", 1)[1]: int(value) for key, value in sorted(stats.items())
                    if key.startswith(keys.dropped(""))},
        "retries": int(stats.get("retry/count", 0)),
        "http_403": int(stats.get(status + "403", 0)),
        "http_429": int(stats.get(status + "429", 0)),
        "bans": int(stats.get(status + "403", 0)) + int(stats.get(status + "429", 0)),
        "challenges": int(stats.get(keys.CHALLENGES, 0)),
        "clearances": int(stats.get(keys.CLEARANCES, 0)),
        "pages_per_second": round(summary.rate, 2),
        "proxies": proxy_counts(stats),
        **removal_counts(stats),
        "sources": source_counts(stats),
    }


def removal_counts(stats: Mapping[str, Any]) -> dict[str, Any]:
    """A refresh's removals (:mod:`newsspider.crawl.removals`): the stored articles it asked for and those
    newly gone (of those not marked removed before), and those it marked; a run whose removals are not
    believed (:func:`mass_removal`) marked no removal.  Nothing for a run that asked for no stored article.

    >>> removal_counts({"newsspider/removals/checked": 30, "newsspider/removals/gone": 2,
    ...                 "newsspider/removals/provisional": 2, "newsspider/removals/max_share": 0.2})
    {'removals': {'checked': 30, 'gone': 2, 'provisional': 2, 'confirmed': 0, 'restored': 0}}
    >>> removal_counts({"newsspider/removals/checked": 30, "newsspider/removals/gone": 30,
    ...     "newsspider/removals/provisional": 30, "newsspider/removals/max_share": 0.2})["removals"]
    {'checked': 30, 'gone': 30, 'provisional': 0, 'confirmed': 0, 'restored': 0, 'not_believed': True}
    >>> removal_counts({})
    {}
    """
    checked, gone = int(stats.get(keys.REMOVALS_CHECKED, 0)), int(stats.get(keys.REMOVALS_GONE, 0))
    if not checked and not any(stats.get(key) for key in (keys.REMOVED_CONFIRMED, keys.RESTORED)):
        return {}
    mass = mass_removal(gone, checked, float(stats.get(keys.REMOVALS_MAX_SHARE, 1.0))) is not None
    counts: dict[str, Any] = {
        "checked": checked, "gone": gone,
        "provisional": 0 if mass else int(stats.get(keys.REMOVED_PROVISIONAL, 0)),
        "confirmed": 0 if mass else int(stats.get(keys.REMOVED_CONFIRMED, 0)),
        "restored": int(stats.get(keys.RESTORED, 0)),
    }
    if mass:
        counts["not_believed"] = True
    return {"removals": counts}


def source_counts(stats: Mapping[str, Any]) -> dict[str, int]:
    """Where the run's article requests came from (``sitemaps``, ``feeds``, ``links``, ``stored``), the
    sitemap files and feeds read and the article URLs they listed, and what could not be read of them.

    >>> source_counts({"newsspider/source/sitemaps": 40, "newsspider/source/links": 4,
    ...                "newsspider/sitemaps/read": 8, "newsspider/sitemaps/article_urls": 44,
    ...                "newsspider/sitemaps/problems/not_xml": 1})
    {'sitemaps': 40, 'links': 4, 'sitemap_files': 8, 'sitemap_urls': 44, 'sitemap not_xml': 1}
    >>> source_counts({"newsspider/source/feeds": 3, "newsspider/feeds/read": 1,
    ...                "newsspider/feeds/article_urls": 10, "newsspider/feeds/problems/http_404": 1})
    {'feeds': 3, 'feed_files': 1, 'feed_urls': 10, 'feed http_404': 1}
    >>> source_counts({})
    {}
    """
    counts = {name: int(stats[keys.source(name)]) for name in ("sitemaps", "feeds", "links", "stored")
              if stats.get(keys.source(name))}
    for name, key in (("sitemap_files", keys.SITEMAPS), ("sitemap_urls", keys.SITEMAP_URLS),
                      ("feed_files", keys.FEEDS), ("feed_urls", keys.FEED_URLS)):
        if stats.get(key):
            counts[name] = int(stats[key])
    for label, problems in (("sitemap", keys.sitemap_problem("")), ("feed", keys.feed_problem(""))):
        counts |= {f"{label} {key[len(problems):]}": int(value) for key, value in sorted(stats.items())
                   if key.startswith(problems)}
    return counts


def proxy_counts(stats: Mapping[str, Any]) -> dict[str, int]:
    """Requests and failures by reason of each proxy (its password hidden), one level deep.

    >>> proxy_counts({"newsspider/proxy/socks5h://***@127.0.0.1:1080/requests": 9,
    ...               "newsspider/proxy/socks5h://***@127.0.0.1:1080/failed/connection_refused": 2})
    {'socks5h://***@127.0.0.1:1080 requests': 9, 'socks5h://***@127.0.0.1:1080 failed connection_refused': 2}
    """
    counts = {}
    for key, value in stats.items():
        if not key.startswith(_PROXY):
            continue
        name, sep, reason = key[len(_PROXY):].rpartition("/failed/")
        if sep:
            counts[f"{name} failed {reason}"] = int(value)
        elif key.endswith("/requests"):
            counts[f"{key[len(_PROXY):-len('/requests')]} requests"] = int(value)
    return counts


class RunQuality:
    """Item pipeline, the last: keep the body length of each stored record; put the run's quality
    into the stats when the pipelines close.  Scrapy closes the item pipelines before it sends
    ``spider_closed``, so the monitors (Spidermon, on ``spider_closed``) always find it there.  Off
    with Spidermon (``SPIDERMON_ENABLED``)."""

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.body_lengths = array("I")  # 4 bytes a record: the median needs them all
        self.started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunQuality:
        if not crawler.settings.getbool("SPIDERMON_ENABLED"):
            raise NotConfigured
        return cls(crawler)

    def open_spider(self) -> None:
        self.started = time.monotonic()

    def process_item(self, item: Any) -> Any:
        self.body_lengths.append(len(ItemAdapter(item).get("body") or ""))
        return item

    def close_spider(self) -> None:
        seconds = time.monotonic() - self.started  # Scrapy's elapsed_time_seconds comes after
        self.stats.set_value(keys.QUALITY, quality(self.stats.get_stats(), self.body_lengths, seconds))
