"""Run one crawl in this process: settings, logging, the crawl, its result."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy.crawler import AsyncCrawlerProcess
from scrapy.settings import Settings, default_settings

from newsspider import settings as project_settings
from newsspider.extensions import CrawlSummary
from newsspider.incremental import prepare_job_dir
from newsspider.spiders.bannedbook import BannedbookSpider, parse_start_urls
from newsspider.state import DataDirLock
from newsspider.storage import prepare_data_dir

__all__ = ["CrawlResult", "RedisUnreachable", "check_redis", "crawler_settings", "parse_overrides",
           "run_crawl", "unknown_settings"]

logger = logging.getLogger(__name__)


class SettingError(ValueError):
    """A ``-s NAME=VALUE`` option that cannot be read."""


class RedisUnreachable(ConnectionError):
    """The Redis server of a distributed crawl cannot be used."""


def check_redis(url: str) -> None:
    """Raise :class:`RedisUnreachable` with a one-line reason unless Redis at *url* answers."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5)
        client.ping()
        client.close()
    except (ValueError, redis.RedisError) as exc:
        raise RedisUnreachable(f"Redis at {url}: {exc}") from exc


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``NAME=VALUE`` strings as a dict.

    >>> parse_overrides(["DOWNLOAD_DELAY=0", "USER_AGENT=a=b"])
    {'DOWNLOAD_DELAY': '0', 'USER_AGENT': 'a=b'}
    >>> parse_overrides(["DOWNLOAD_DELAY"])
    Traceback (most recent call last):
    ...
    newsspider.runner.SettingError: -s expects NAME=VALUE, got 'DOWNLOAD_DELAY'
    """
    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise SettingError(f"-s expects NAME=VALUE, got {pair!r}")
        overrides[name.strip()] = value
    return overrides


def unknown_settings(names: Sequence[str]) -> list[str]:
    """Names that neither Scrapy nor newsspider defines (likely typos).

    >>> unknown_settings(["DOWNLOAD_DELAY", "NEWSSPIDER_DATA_DIR", "DOWNLOAD_DELAYY"])
    ['DOWNLOAD_DELAYY']
    """
    known = {n for n in dir(default_settings) if n.isupper()} | {
        n for n in dir(project_settings) if n.isupper()
    }
    return [name for name in names if name not in known]


def crawler_settings(data_dir: str | Path | None = None,
                     overrides: Mapping[str, Any] | None = None) -> Settings:
    """newsspider's settings with the data dir and ``-s`` overrides applied on top."""
    settings = Settings()
    settings.setmodule(project_settings, priority="project")
    if data_dir is not None:
        settings.set("NEWSSPIDER_DATA_DIR", str(data_dir), priority="cmdline")
    settings.setdict(dict(overrides or {}), priority="cmdline")
    return settings


@dataclass
class CrawlResult:
    """What a finished crawl reports."""

    stats: dict[str, Any]
    data_dir: Path

    @property
    def finish_reason(self) -> str:
        return str(self.stats.get("finish_reason", "failed to start"))

    @property
    def ok(self) -> bool:
        """Finished, or stopped by a bound the user set (CLOSESPIDER_PAGECOUNT, _TIMEOUT, ...)."""
        return self.finish_reason == "finished" or self.finish_reason.startswith("closespider_")

    @property
    def summary(self) -> CrawlSummary:
        return CrawlSummary.from_stats(self.stats)


def _configure_logging(level: str) -> None:
    """Compact console logging: newsspider's own lines at *level*, Scrapy's warnings and errors.

    Called after Scrapy has configured its loggers, which it does when the
    crawler process is created.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("scrapy").setLevel(logging.WARNING)
    logging.getLogger("newsspider").setLevel(level)


def run_crawl(start_urls: Sequence[str] | None, data_dir: str | Path,
              overrides: Mapping[str, Any] | None = None, *, resume: bool = False,
              refresh: bool = False) -> CrawlResult:
    """Crawl from *start_urls* (default: the live site) into *data_dir*; block until done.

    *resume* continues the frontier of a stopped crawl (Scrapy ``JOBDIR`` in
    the data dir); *refresh* re-fetches stored articles.  Raises
    ``StartUrlError`` for a bad start URL, ``DataDirError`` for an unusable
    data dir and ``DataDirLocked`` when another crawl uses it, all before
    anything is fetched.  Call once per process: Scrapy's reactor cannot be
    restarted.
    """
    urls = parse_start_urls(start_urls) or None
    data_dir = prepare_data_dir(data_dir)
    settings = crawler_settings(data_dir, overrides)
    if redis_url := settings.get("NEWSSPIDER_REDIS_URL"):
        check_redis(redis_url)  # the frontier lives in Redis: no lock, no JOBDIR
        job_dir = None
    else:
        with DataDirLock(data_dir):  # fail now, with a clear message, if another crawl holds it
            job_dir = prepare_job_dir(data_dir, resume)
    if job_dir is not None:
        settings.set("JOBDIR", str(job_dir), priority="cmdline")
    if refresh:
        settings.set("NEWSSPIDER_REFRESH", True, priority="cmdline")
    # Scrapy's full log when the user asks for a log level; a compact one otherwise.
    own_logging = "LOG_LEVEL" not in (overrides or {})
    settings.set("LOG_INSTALL_ROOT_HANDLER", not own_logging, priority="cmdline")
    process = AsyncCrawlerProcess(settings)
    if own_logging:
        _configure_logging(settings.get("LOG_LEVEL"))
    crawler = process.create_crawler(BannedbookSpider)
    process.crawl(crawler, start_urls=urls)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    return CrawlResult(stats=dict(stats), data_dir=data_dir)
