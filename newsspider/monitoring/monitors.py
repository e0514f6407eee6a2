"""The checks run when a crawl ends: a Spidermon monitor suite, :class:`CrawlChecks`.

Each monitor reads the run's stats and quality (``newsspider/quality``) and,
for the coverage check, the run history in the crawl's memory.  A failed
check's message names what failed, one line each; the suite's actions
(:mod:`~newsspider.monitoring.actions`) record the run as ``degraded`` and
send the notifications.  Thresholds are ``NEWSSPIDER_MONITOR_*`` settings.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from scrapy.settings import BaseSettings
from spidermon import Monitor, MonitorSuite, monitors

from newsspider.core import stats as keys
from newsspider.core.removals import mass_removal
from newsspider.core.scope import listed_not_reached
from newsspider.core.summary import run_status
from newsspider.memory import Run
from newsspider.memory.extension import memory_of
from newsspider.monitoring.actions import Email, RecordChecks, Slack, Webhook
from newsspider.views.runs import TRACKED_FIELDS, coverage

__all__ = ["CrawlChecks", "coverage_drops"]

#: what every stored record has, whatever the history (checked on a first run too)
REQUIRED = ("title", "body")


def coverage_drops(now: Mapping[str, float], earlier: Sequence[Mapping[str, float]],
                   threshold: float) -> list[str]:
    """The fields whose coverage fell more than *threshold* points below their median in *earlier*.

    >>> coverage_drops({"summary": 0.0, "tags": 90.0}, [{"summary": 100.0, "tags": 95.0}] * 3, 30)
    ['summary: on 0% of the records, 100% in the median of the last 3 runs']
    >>> coverage_drops({"summary": 80.0}, [{"summary": 100.0}], 30)
    []
    """
    drops = []
    for name in TRACKED_FIELDS:
        past = [run[name] for run in earlier if name in run]
        if name in now and past and statistics.median(past) - now[name] > threshold:
            runs = f"the last {len(past)} runs" if len(past) > 1 else "the last run"
            drops.append(f"{name}: on {now[name]:.0f}% of the records, {statistics.median(past):.0f}% "
                         f"in the median of {runs}")
    return drops


class _RunMonitor(Monitor):
    """What every check reads."""

    @property
    def settings(self) -> BaseSettings:
        return self.data.crawler.settings

    @property
    def quality(self) -> dict[str, Any]:
        return dict(self.data.stats.get(keys.QUALITY) or {})

    @property
    def stored(self) -> int:
        return int(self.data.stats.get(keys.STORED, 0))

    @property
    def pages(self) -> int:
        return int(self.data.stats.get("response_received_count", 0))

    @property
    def fatal(self) -> str | None:
        """Why the crawl stopped on an error (its memory may be out of reach: not asked then)."""
        message = self.data.stats.get(keys.FATAL)
        return str(message) if message else None

    def needs_memory(self) -> None:
        if self.fatal:
            self.skipTest(f"the crawl stopped on an error ({self.fatal})")

    def fail_with(self, problems: list[str]) -> None:
        """Fail with one line per problem, if there is any."""
        if problems:
            self.fail("\n".join(problems))

    def history(self) -> list[Run]:
        """The runs before this one, oldest first."""
        memory = memory_of(self.data.crawler)
        return [run for run in memory.runs() if run.run_id != memory.run_id]


@monitors.name("coverage")
class FieldCoverage(_RunMonitor):
    @monitors.name("fields")
    def test_field_coverage(self) -> None:
        """No field falls more than NEWSSPIDER_MONITOR_COVERAGE_DROP points below its median of the
        last runs that stored at least NEWSSPIDER_MONITOR_MIN_ARTICLES; with no such run, every
        stored record has a title and a body."""
        self.needs_memory()
        quality, least = self.quality, self.settings.getint("NEWSSPIDER_MONITOR_MIN_ARTICLES")
        if not quality.get("stored"):
            self.skipTest("no articles stored")
        now = coverage(quality)
        earlier = [coverage(q) for q in (json.loads(r.quality) for r in self.history() if r.quality)
                   if q.get("stored", 0) >= least][-self.settings.getint("NEWSSPIDER_MONITOR_HISTORY"):]
        if not earlier:  # a first run: absolute minimums only
            missing = [f"{name}: on {now.get(name, 0):.0f}% of the records, not all" for name in REQUIRED
                       if now.get(name, 0) < 100]
            self.fail_with(missing)
            return
        if quality["stored"] < least:
            self.skipTest(f"{quality['stored']} articles stored: too few to compare (fewer than {least})")
        drops = coverage_drops(now, earlier, self.settings.getfloat("NEWSSPIDER_MONITOR_COVERAGE_DROP"))
        self.fail_with(drops)


@monitors.name("articles")
class ArticlesStored(_RunMonitor):
    @monitors.name("stored")
    def test_something_stored(self) -> None:
        """A run whose listings showed articles that are still not stored when it ends, and whose
        pages did not fail, stored some articles (not checked for a run stopped at a bound)."""
        if str(self.data.stats.get("finish_reason", "")).startswith("closespider_"):
            self.skipTest("stopped at a bound")
        self.needs_memory()
        memory, spider = memory_of(self.data.crawler), self.data.spider
        # the run's, not only this worker's, in a distributed crawl (other workers may have stored them)
        this_run = [r.new_articles + r.updated_articles for r in memory.runs() if r.run_id == memory.run_id]
        if max([self.stored, *this_run]) > 0:
            return
        missing = sorted(i for i in listed_not_reached(spider) if not memory.is_stored(i))
        if missing:
            self.fail(f"0 articles stored, but the listings showed {len(missing)} articles that are not "
                      f"stored (ids {', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''})")

    @monitors.name("dropped")
    def test_dropped_rate(self) -> None:
        """At most NEWSSPIDER_MONITOR_MAX_DROP_RATE of the extracted records are dropped as invalid."""
        dropped = self.quality.get("dropped", {})
        total = self.stored + sum(dropped.values())
        limit = self.settings.getfloat("NEWSSPIDER_MONITOR_MAX_DROP_RATE")
        if total and sum(dropped.values()) / total > limit:
            reasons = ", ".join(f"{reason} {count}" for reason, count in dropped.items())
            self.fail(f"{sum(dropped.values())} of {total} extracted records dropped ({reasons}), more "
                      f"than {limit:.0%}")


@monitors.name("fetching")
class Fetching(_RunMonitor):
    @monitors.name("failures")
    def test_failure_rate(self) -> None:
        """At most NEWSSPIDER_MONITOR_MAX_FAILURE_RATE of the pages fail."""
        prefix = keys.failed("")
        failures = {k[len(prefix):]: int(v) for k, v in sorted(self.data.stats.items())
                    if k.startswith(prefix)}
        failed = sum(failures.values())
        limit = self.settings.getfloat("NEWSSPIDER_MONITOR_MAX_FAILURE_RATE")
        if self.pages and failed / max(self.pages, failed) > limit:
            reasons = ", ".join(f"{reason} {count}" for reason, count in failures.items())
            self.fail(f"{failed} of {self.pages} pages failed ({reasons}), more than {limit:.0%}")

    @monitors.name("challenges")
    def test_challenges(self) -> None:
        """No page stayed behind a bot challenge (a CDN's "Just a moment..." page)."""
        stayed = int(self.data.stats.get(keys.failed("challenge"), 0))
        if not stayed:
            return
        met = int(self.data.stats.get(keys.CHALLENGES, 0))
        tried = self.settings.getbool("NEWSSPIDER_BROWSER")
        advice = ("the browser did not pass them: see its lines in the log; try a proxy, or a slower crawl "
                  "(-s DOWNLOAD_DELAY=10)" if tried else
                  "try --browser (pip install 'newsspider[browser]'), a proxy, or a slower crawl "
                  "(-s DOWNLOAD_DELAY=10)")
        self.fail(f"{stayed} pages stayed behind a bot challenge ({met} challenges met): {advice}")

    @monitors.name("bans")
    def test_ban_rate(self) -> None:
        """At most NEWSSPIDER_MONITOR_MAX_BAN_RATE of the responses are 403 or 429."""
        bans = int(self.quality.get("bans", 0))
        limit = self.settings.getfloat("NEWSSPIDER_MONITOR_MAX_BAN_RATE")
        if self.pages and bans / self.pages > limit:
            self.fail(f"{bans} of {self.pages} responses were 403 or 429 (the site may be refusing the "
                      f"crawler), more than {limit:.0%}")


@monitors.name("removals")
class Removals(_RunMonitor):
    @monitors.name("mass")
    def test_no_mass_removal(self) -> None:
        """A refresh finds at most NEWSSPIDER_REMOVED_MAX_SHARE of the stored articles it asked for gone
        (more is a broken site or a block: newsspider.crawl.removals marks none of them removed)."""
        stats = self.data.stats
        line = mass_removal(int(stats.get(keys.REMOVALS_GONE, 0)), int(stats.get(keys.REMOVALS_CHECKED, 0)),
                            float(stats.get(keys.REMOVALS_MAX_SHARE, 1.0)))
        if line:
            self.fail(line)


@monitors.name("runs")
class RunsFinish(_RunMonitor):
    @monitors.name("finished")
    def test_runs_finish(self) -> None:
        """This run walked the site to its end, and the run before it ended at all."""
        problems = []
        reason = str(self.data.stats.get("finish_reason", ""))
        if run_status(reason) != "finished":
            problems.append(f"this run ended early ({self.fatal or reason})")
        history = [] if self.fatal else self.history()
        if history and history[-1].status in ("running", "interrupted"):
            problems.append(f"run {history[-1].run_id} never finished (killed, or its machine stopped)")
        self.fail_with(problems)


class CrawlChecks(MonitorSuite):
    """The suite run when a crawl ends (``SPIDERMON_SPIDER_CLOSE_MONITORS``)."""

    monitors = [FieldCoverage, ArticlesStored, Fetching, Removals, RunsFinish]  # noqa: RUF012 (Spidermon's API)
    monitors_failed_actions = [RecordChecks, Webhook, Slack, Email]  # noqa: RUF012
