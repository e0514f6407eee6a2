"""Run one crawl in this process: settings, logging, the crawl, its result."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from scrapy import Request, Spider
from scrapy.crawler import AsyncCrawlerProcess
from scrapy.exceptions import ScrapyDeprecationWarning
from scrapy.settings import Settings, default_settings

from newsspider import settings as project_settings
from newsspider.access.browser import BrowserUnavailable, missing_browser
from newsspider.access.impersonate import ImpersonationUnavailable, impersonation_problem
from newsspider.access.proxies import ProxyUrlError, environment_proxies, parse_proxies
from newsspider.archive.replay import archived_articles, share_archive
from newsspider.archive.spider import ReextractSpider
from newsspider.core import stats as keys
from newsspider.core.credentials import encode_userinfo
from newsspider.core.errors import NewsspiderError
from newsspider.core.summary import CrawlSummary, outcome
from newsspider.crawl.addon import DEFAULTS
from newsspider.dataset.storage import DataDirLock, prepare_data_dir
from newsspider.memory.redis import client_options, redis_error
from newsspider.run.measure import EstimateSpider
from newsspider.run.resume import prepare_job_dir
from newsspider.spiders.bannedbook import BannedbookSpider, StartUrlError, parse_start_urls

__all__ = [
    "SECRET_SETTINGS",
    "CrawlError",
    "CrawlResult",
    "NothingMeasured",
    "RedisUnreachable",
    "SettingError",
    "check_crawl",
    "check_redis",
    "check_settings",
    "check_start_urls",
    "crawler_settings",
    "estimate",
    "parse_overrides",
    "run_crawl",
    "run_reextract",
    "unknown_settings",
]



class SettingError(NewsspiderError, ValueError):
    """A ``-s NAME=VALUE`` option that cannot be read."""


class CrawlError(NewsspiderError, RuntimeError):
    """A crawl that could not start (its message says why, in one line)."""


_WORKER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: settings that cannot work below a value: the least, and what a smaller one does
_AT_LEAST = {
    "CONCURRENT_REQUESTS_PER_DOMAIN": (1, "at 0 requests at a time, nothing is ever fetched"),
    "NEWSSPIDER_WARC_MAX_SIZE": (64 * 1024, "a smaller size starts a WARC file for every response"),
}


class NothingMeasured(NewsspiderError, RuntimeError):
    """An estimate that could measure none of its start listings."""


class RedisUnreachable(NewsspiderError, ConnectionError):
    """The Redis server of a distributed crawl cannot be used."""


def check_redis(url: str) -> None:
    """Raise :class:`RedisUnreachable` with a one-line reason unless Redis at *url* answers."""
    try:
        client = redis.Redis.from_url(encode_userinfo(url), **client_options(0))  # one try: is it there?
        client.ping()
        client.close()
    except (ValueError, redis.RedisError) as exc:
        raise RedisUnreachable(redis_error(url, exc)) from exc


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``NAME=VALUE`` strings as a dict.

    >>> parse_overrides(["DOWNLOAD_DELAY=0", "USER_AGENT=a=b"])
    {'DOWNLOAD_DELAY': '0', 'USER_AGENT': 'a=b'}
    >>> parse_overrides(["DOWNLOAD_DELAY"])
    Traceback (most recent call last):
    ...
    newsspider.run.runner.SettingError: -s expects NAME=VALUE, got 'DOWNLOAD_DELAY'
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
    } | set(DEFAULTS)
    return [name for name in names if name not in known]


def _default(name: str) -> Any:
    return DEFAULTS.get(name, getattr(project_settings, name, getattr(default_settings, name, None)))


def check_settings(settings: Settings, names: Sequence[str]) -> None:
    """Raise :class:`SettingError` for a setting among *names* whose value has the wrong type.

    >>> check_settings(crawler_settings(overrides={"CONCURRENT_REQUESTS": "4"}), ["CONCURRENT_REQUESTS"])
    >>> check_settings(crawler_settings(overrides={"CONCURRENT_REQUESTS": "abc"}), ["CONCURRENT_REQUESTS"])
    Traceback (most recent call last):
    ...
    newsspider.run.runner.SettingError: -s CONCURRENT_REQUESTS='abc': expected a whole number
    >>> check_settings(crawler_settings(overrides={"NEWSSPIDER_WORKER_ID": "a/b"}), ["NEWSSPIDER_WORKER_ID"])
    Traceback (most recent call last):
    ...
    newsspider.run.runner.SettingError: -s NEWSSPIDER_WORKER_ID='a/b': a worker id is letters, digits, ...
    >>> check_settings(crawler_settings(overrides={"NEWSSPIDER_REEXTRACT_JOBS": "-1"}),
    ...                ["NEWSSPIDER_REEXTRACT_JOBS"])
    Traceback (most recent call last):
    ...
    newsspider.run.runner.SettingError: -s NEWSSPIDER_REEXTRACT_JOBS='-1': expected 0 (one per CPU) or more
    >>> check_settings(crawler_settings(overrides={"CONCURRENT_REQUESTS_PER_DOMAIN": "0"}), [])
    Traceback (most recent call last):
    ...
    newsspider.run.runner.SettingError: -s CONCURRENT_REQUESTS_PER_DOMAIN='0': expected 1 or more (at 0 ...
    """
    getters = ((bool, settings.getbool, "true or false"), (int, settings.getint, "a whole number"),
               (float, settings.getfloat, "a number"), (dict, settings.getdict, "a JSON object"))
    for name in names:
        default, value = _default(name), settings.get(name)
        for kind, getter, expected in getters:
            if isinstance(default, kind):
                try:
                    getter(name)
                except (ValueError, TypeError):
                    raise SettingError(f"-s {name}={value!r}: expected {expected}") from None
                break
    for name, (least, why) in _AT_LEAST.items():
        if settings.getint(name, _default(name)) < least:
            raise SettingError(f"-s {name}={settings.get(name)!r}: expected {least} or more ({why})")
    if "NEWSSPIDER_REEXTRACT_JOBS" in names and settings.getint("NEWSSPIDER_REEXTRACT_JOBS") < 0:
        raise SettingError(f"-s NEWSSPIDER_REEXTRACT_JOBS={settings.get('NEWSSPIDER_REEXTRACT_JOBS')!r}: "
                           "expected 0 (one per CPU) or more")
    worker_id = settings.get("NEWSSPIDER_WORKER_ID")
    if worker_id and not _WORKER_ID.fullmatch(worker_id):
        raise SettingError(f"-s NEWSSPIDER_WORKER_ID={worker_id!r}: a worker id is letters, digits, "
                           "'.', '_' and '-'")


def check_crawl(start_urls: Sequence[str], overrides: dict[str, str]) -> None:
    """What a crawl checks before it starts, its start URLs and settings, checked now (by
    ``schedule``, before its first crawl)."""
    settings = crawler_settings(None, overrides)
    check_settings(settings, list(overrides))
    check_start_urls(parse_start_urls(start_urls or settings.getlist("NEWSSPIDER_START_URLS")), settings)


def check_start_urls(urls: Sequence[str], settings: Settings) -> None:
    """Raise :class:`StartUrlError` for a start URL that Scrapy would drop unfetched, and silently,
    for being longer than ``URLLENGTH_LIMIT``.

    >>> check_start_urls(["http://h/" + "a" * 3000], crawler_settings())
    Traceback (most recent call last):
    ...
    newsspider.spiders.bannedbook.StartUrlError: a start URL of 3,009 characters is longer than URLLENGTH_...
    >>> check_start_urls(["http://h/" + "a" * 3000], crawler_settings(overrides={"URLLENGTH_LIMIT": "0"}))
    """
    limit = settings.getint("URLLENGTH_LIMIT")
    for url in urls:
        if limit and len(request_url := Request(url).url) > limit:
            raise StartUrlError(f"a start URL of {len(request_url):,} characters is longer than "
                                f"URLLENGTH_LIMIT ({limit:,}): {request_url[:60]}…")


def check_proxies(settings: Settings) -> list[str]:
    """The proxies a crawl with *settings* goes through, checked (:class:`ProxyUrlError` for a bad one,
    naming where it came from)."""
    if proxies := parse_proxies(settings.getlist("NEWSSPIDER_PROXIES")):
        return proxies
    if not settings.getbool("NEWSSPIDER_PROXY_FROM_ENV", _default("NEWSSPIDER_PROXY_FROM_ENV")):
        return []
    try:
        return environment_proxies()
    except ProxyUrlError as exc:
        raise ProxyUrlError(f"{exc} (from the environment: http_proxy, https_proxy or all_proxy)") from None


#: settings that hold a password or a token: a crawl takes each from an environment variable of its
#: name too (``-s`` and the options win), which ``schedule`` uses to hand them to its crawls: never on
#: a command line, which any local user reads with ``ps``
SECRET_SETTINGS = ("NEWSSPIDER_PROXIES", "NEWSSPIDER_REDIS_URL", "NEWSSPIDER_WEBHOOK_URL",
                   "NEWSSPIDER_SLACK_WEBHOOK_URL", "NEWSSPIDER_SMTP_PASSWORD")


def crawler_settings(data_dir: str | Path | None = None,
                     overrides: Mapping[str, Any] | None = None,
                     environ: Mapping[str, str] | None = None) -> Settings:
    """newsspider's settings with the secrets of *environ* (:data:`SECRET_SETTINGS`; a crawl's is the
    process's environment), the data dir and ``-s`` overrides applied on top.

    >>> crawler_settings(environ={"NEWSSPIDER_REDIS_URL": "redis://:pw@h:6379/0"})["NEWSSPIDER_REDIS_URL"]
    'redis://:pw@h:6379/0'
    >>> crawler_settings(overrides={"NEWSSPIDER_REDIS_URL": ""},
    ...                  environ={"NEWSSPIDER_REDIS_URL": "redis://h"})["NEWSSPIDER_REDIS_URL"]
    ''
    """
    settings = Settings()
    settings.setmodule(project_settings, priority="project")
    for name in SECRET_SETTINGS:
        if (environ or {}).get(name):
            settings.set(name, (environ or {})[name], priority="project")
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
    def outcome(self) -> str:
        """How the crawl ended, in words (:func:`outcome`)."""
        return outcome(self.finish_reason)

    @property
    def ok(self) -> bool:
        """Finished, or stopped by a bound the user set (CLOSESPIDER_PAGECOUNT, _TIMEOUT, ...)."""
        return not self.fatal and (self.finish_reason == "finished"
                                   or self.finish_reason.startswith("closespider_"))

    @property
    def fatal(self) -> str | None:
        """Why the crawl was stopped by an error it could not go on after, in one line."""
        message = self.stats.get(keys.FATAL)
        return str(message) if message else None

    @property
    def summary(self) -> CrawlSummary:
        return CrawlSummary.from_stats(self.stats)

    @property
    def checks(self) -> list[str]:
        """The monitors' checks that failed, one line each (the run is ``degraded``)."""
        return [str(line) for line in self.stats.get(keys.CHECKS, [])]


@contextmanager
def _logging_put_back() -> Iterator[None]:
    """Put the root handlers and the levels of the loggers a crawl sets (Scrapy's and ours) back as
    they were: a crawl configures logging for its own time only."""
    names = ["", "scrapy", "scrapy.downloadermiddlewares.retry", "newsspider"]
    levels = {name: logging.getLogger(name).level for name in names}
    handlers = logging.getLogger().handlers[:]
    try:
        yield
    finally:
        logging.getLogger().handlers[:] = handlers
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)


def _configure_logging(level: str) -> None:
    """Compact console logging: newsspider's own lines at *level*, Scrapy's warnings and errors.

    Called after Scrapy has configured its loggers, which it does when the
    crawler process is created.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    # Spidermon's report (a block per failed check, with its traceback): the command prints the
    # failed checks one line each; the report is in the log with -s LOG_LEVEL=INFO.
    handler.addFilter(lambda record: not str(record.msg).startswith("[Spidermon]"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("scrapy").setLevel(logging.WARNING)
    # "Gave up retrying": the page is counted and logged as failed (with its reason) by the spider.
    logging.getLogger("scrapy.downloadermiddlewares.retry").setLevel(logging.CRITICAL)
    logging.getLogger("newsspider").setLevel(level)


def run_crawl(start_urls: Sequence[str] | None, data_dir: str | Path,
              overrides: Mapping[str, Any] | None = None, *, resume: bool = False,
              refresh: bool = False) -> CrawlResult:
    """Crawl from *start_urls* (default: the live site) into *data_dir*; block until done.

    *resume* continues the frontier of a stopped crawl (Scrapy ``JOBDIR`` in
    the data dir); *refresh* re-fetches stored articles.  Raises
    ``StartUrlError`` for a bad start URL, ``SettingError`` for a setting of the
    wrong type, ``DataDirError`` for an unusable data dir, ``DataDirLocked``
    when another crawl uses it and ``StateError`` for a state file that cannot
    be used, all before anything is fetched (and the first two before anything
    is created); :class:`CrawlError` for anything else that stops the crawl
    from starting.  Call once per process: Scrapy's reactor cannot be restarted.
    """
    urls = parse_start_urls(start_urls) or None
    settings = crawler_settings(data_dir, overrides, os.environ)  # the secrets schedule hands it too
    check_settings(settings, list(overrides or {}))
    check_start_urls(urls or parse_start_urls(settings.getlist("NEWSSPIDER_START_URLS")), settings)
    proxies = check_proxies(settings)
    if settings.getbool("NEWSSPIDER_BROWSER", _default("NEWSSPIDER_BROWSER")) and (
            problem := missing_browser(settings, proxies)):
        raise BrowserUnavailable(problem)
    if (target := settings.get("NEWSSPIDER_IMPERSONATE")) and (problem := impersonation_problem(target)):
        raise ImpersonationUnavailable(problem)
    data_dir = prepare_data_dir(data_dir)
    settings.set("NEWSSPIDER_DATA_DIR", str(data_dir), priority="cmdline")
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
    return _run(settings, overrides, BannedbookSpider, data_dir, start_urls=urls)


def run_estimate(start_urls: Sequence[str] | None, overrides: Mapping[str, Any] | None = None) -> CrawlResult:
    """Measure the start listings (:class:`~newsspider.run.measure.EstimateSpider`): a few pages
    of each, through the crawl's downloader; the sizes are in the result's stats.  Nothing is stored
    (the spider's memory is a throwaway directory's); raises what :func:`run_crawl` raises."""
    import tempfile

    urls = parse_start_urls(start_urls) or None
    with tempfile.TemporaryDirectory(prefix="newsspider-estimate-") as scratch:
        settings = crawler_settings(scratch, overrides)
        check_settings(settings, list(overrides or {}))
        check_start_urls(urls or parse_start_urls(settings.getlist("NEWSSPIDER_START_URLS")), settings)
        check_proxies(settings)
        if (target := settings.get("NEWSSPIDER_IMPERSONATE")) and (problem := impersonation_problem(target)):
            raise ImpersonationUnavailable(problem)
        for name, value in {"NEWSSPIDER_WARC": False, "SPIDERMON_ENABLED": False}.items():
            settings.set(name, value, priority="cmdline")
        if "LOG_LEVEL" not in (overrides or {}):  # the command prints the estimate, not a crawl's lines
            settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
        return _run(settings, overrides, EstimateSpider, Path(scratch), start_urls=urls)


def estimate(start_urls: Sequence[str] | None, data_dir: Path, overrides: Mapping[str, Any],
             window: str) -> str:
    """What a crawl of *start_urls* with *overrides* would fetch, take and need, as ``newsspider
    estimate`` prints it: measured by :func:`run_estimate`, timed at the politeness settings, sized
    by *data_dir*'s bytes an article (:func:`~newsspider.run.estimate.measured_bytes`); *window* is
    the window of time in words.  :class:`NothingMeasured` when no start listing could be measured."""
    import statistics

    from newsspider.run.estimate import (
        Listing,
        ListingSize,
        Sample,
        cost,
        measured_bytes,
        report,
        seconds_a_page,
    )

    result = run_estimate(start_urls, overrides)
    sizes = [ListingSize(**{**size, "window_pages": tuple(size["window_pages"])})
             for size in result.stats.get(keys.ESTIMATE, [])]
    if not sizes:
        raise NothingMeasured(f"no start listing could be measured ({result.finish_reason}: "
                              f"{result.summary.line()})")
    read = result.stats.get(keys.ESTIMATE_SAMPLE) or {}
    sample = Sample(**{**read, **{name: tuple(Listing(**listing) for listing in read.get(name, ()))
                                  for name in ("categories", "tag_listings")}})
    crawl = crawler_settings(None, overrides)
    latency = statistics.median(result.stats.get(keys.ESTIMATE_LATENCY) or [0.0])
    delay = crawl.getfloat("DOWNLOAD_DELAY")
    throttle = crawl.getbool("AUTOTHROTTLE_ENABLED")
    jitter = crawl.getfloat("DOWNLOAD_DELAY_JITTER") if crawl.getbool("RANDOMIZE_DOWNLOAD_DELAY") else 0.0
    wait = seconds_a_page(delay, jitter, throttle, latency, crawl.getfloat("AUTOTHROTTLE_TARGET_CONCURRENCY"),
                          crawl.getfloat("AUTOTHROTTLE_MAX_DELAY"))
    robots = crawl.getbool("ROBOTSTXT_OBEY") if "ROBOTSTXT_OBEY" in overrides else True  # the add-on sets it
    hosts = len({size.url.split("/")[2] for size in sizes})
    dataset_bytes, warc_bytes, measured = measured_bytes(data_dir)
    politeness = (f"DOWNLOAD_DELAY {delay:g} s{f' ±{jitter:.0%}' if delay and jitter else ''}, "
                  f"AutoThrottle {'on' if throttle else 'off'}, latency {latency * 1000:.0f} ms")
    listed = result.stats.get(keys.ESTIMATE_SITEMAPS)
    sitemaps = (int(listed["articles"]), int(listed["files"])) if listed else None
    return report(sizes, cost(sizes, sample, wait, (dataset_bytes, warc_bytes), hosts * robots, sitemaps),
                  window, politeness, measured)


def run_reextract(source: str | Path, out: str | Path | None = None,
                  overrides: Mapping[str, Any] | None = None) -> CrawlResult:
    """Extract the article pages archived in *source* again, offline, into *out* (default *source*).

    Into *source*, an article is stored again (its next version) only when
    what was extracted changed; into another dir, every article is stored, and
    the WARC files its records point into are linked into that dir's ``warc/``.
    Raises :class:`~newsspider.archive.reader.ArchiveError` for a data dir
    without readable WARC files, and what :func:`run_crawl` raises for the
    data dir being written.  With more than one job
    (``NEWSSPIDER_REEXTRACT_JOBS``), the worker processes are started afresh
    and load the main module again: call this from a script under
    ``if __name__ == "__main__":``.
    """
    source = Path(source)
    articles = archived_articles(source)  # fail now, in one line, when there is nothing to read
    target = prepare_data_dir(out if out is not None else source)
    settings = crawler_settings(target, overrides)
    check_settings(settings, list(overrides or {}))
    settings.set("NEWSSPIDER_REEXTRACT_FROM", str(source.resolve()), priority="cmdline")
    settings.set("NEWSSPIDER_DATA_DIR", str(target), priority="cmdline")
    with DataDirLock(target):  # fail now, with a clear message, if a crawl holds it
        share_archive(source, target, articles)  # the records point into the target's own warc/
    return _run(settings, overrides, ReextractSpider, target, captures=articles)


def _run(settings: Settings, overrides: Mapping[str, Any] | None, spidercls: type[Spider],
         data_dir: Path, **spider_kwargs: Any) -> CrawlResult:
    """Run one crawl of *spidercls* in this process; block until done."""
    # Scrapy's full log when the user asks for a log level; a compact one otherwise.
    own_logging = "LOG_LEVEL" not in (overrides or {})
    settings.set("LOG_INSTALL_ROOT_HANDLER", not own_logging, priority="cmdline")
    with _logging_put_back(), warnings.catch_warnings():  # nothing of this outlives the crawl
        # Spidermon reports through Spider.log(), which Scrapy deprecates: not the user's concern.
        warnings.filterwarnings("ignore", r"Spider\.log\(\) is deprecated", ScrapyDeprecationWarning)
        process = AsyncCrawlerProcess(settings)
        if own_logging:
            _configure_logging(settings.get("LOG_LEVEL"))
        crawler = process.create_crawler(spidercls)
        task = process.crawl(crawler, **spider_kwargs)
        task.add_done_callback(_retrieve)
        process.start()
    error = _retrieve(task)
    if error is not None:  # the crawl did not start (the spider or a component could not be built)
        if isinstance(error, (NewsspiderError, OSError)):  # one line of what is wrong, said as it is
            raise error
        raise CrawlError(f"the crawl could not start: {type(error).__name__}: {error}") from error
    return CrawlResult(stats=dict(crawler.stats.get_stats()), data_dir=data_dir)


def _retrieve(task: asyncio.Task[None]) -> BaseException | None:
    """The exception a finished crawl task ended with (retrieved, so asyncio does not log it)."""
    if not task.done() or task.cancelled():
        return None
    return task.exception()
