"""Recurring crawls: APScheduler starts each crawl in a process of its own, never two at once.

Scrapy's reactor cannot be restarted inside one process, so every run is a
``newsspider crawl`` subprocess whose output goes to
``<data dir>/logs/crawl-<UTC time>.log``.  SIGTERM or SIGINT stop the
scheduler after the running crawl has finished.
"""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import FrameType

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from filelock import FileLock, Timeout

from newsspider.state import DataDirLocked

__all__ = ["ScheduleError", "crawl_command", "parse_every", "run_schedule", "trigger_for"]

logger = logging.getLogger(__name__)

SCHEDULER_LOCK = ".newsspider-schedule.lock"
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


class ScheduleError(ValueError):
    """A schedule that cannot be understood."""


def parse_every(text: str) -> timedelta:
    """A duration such as ``6h``, ``30m``, ``1h30m``, ``2d`` or ``90s``.

    >>> parse_every("6h")
    datetime.timedelta(seconds=21600)
    >>> parse_every("1h30m").total_seconds()
    5400.0
    >>> parse_every("soon")
    Traceback (most recent call last):
    ...
    newsspider.schedule.ScheduleError: --every expects a duration such as 6h, 30m, 1h30m or 90s, got 'soon'
    """
    parts = re.findall(r"(\d+)\s*([dhms])", text.strip().lower())
    if not parts or re.sub(r"(\d+)\s*([dhms])|\s", "", text.lower()):
        raise ScheduleError(f"--every expects a duration such as 6h, 30m, 1h30m or 90s, got {text!r}")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in parts)
    if seconds <= 0:
        raise ScheduleError(f"--every must be longer than zero, got {text!r}")
    return timedelta(seconds=seconds)


def trigger_for(every: str | None, cron: str | None) -> BaseTrigger:
    """The APScheduler trigger for ``--every`` or ``--cron`` (exactly one of them).

    >>> trigger_for(None, "0 */6 * * *").fields[5]
    BaseField('hour', '*/6')
    >>> trigger_for(None, "61 * * * *")
    Traceback (most recent call last):
    ...
    newsspider.schedule.ScheduleError: --cron '61 * * * *': Error validating expression '61': ...
    """
    if (every is None) == (cron is None):
        raise ScheduleError("give exactly one of --every and --cron")
    if every is not None:
        return IntervalTrigger(seconds=parse_every(every).total_seconds(), timezone=timezone.utc)
    try:
        return CronTrigger.from_crontab(cron, timezone=timezone.utc)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ScheduleError(f"--cron {cron!r}: {exc}") from exc


def crawl_command(crawl_args: Sequence[str]) -> list[str]:
    """The command line of one scheduled crawl."""
    return [sys.executable, "-m", "newsspider", "crawl", *crawl_args]


class CrawlJob:
    """Run one crawl subprocess, its output in a log file of its own under the data dir."""

    def __init__(self, command: list[str], data_dir: Path) -> None:
        self.command = command
        self.log_dir = data_dir / "logs"
        self.runs = 0

    def __call__(self) -> int:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        log_path = self.log_dir / f"crawl-{stamp}.log"
        logger.info("crawl started; log: %s", log_path)
        with log_path.open("ab") as log:
            code = subprocess.call(self.command, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        self.runs += 1
        logger.info("crawl ended with exit status %d; log: %s", code, log_path)
        return code


def run_schedule(trigger: BaseTrigger, crawl_args: Sequence[str], data_dir: Path,
                 run_now: bool = True) -> int:
    """Run crawls on *trigger* until SIGTERM or SIGINT; return the number of crawls run."""
    lock = FileLock(data_dir / SCHEDULER_LOCK, timeout=0, is_singleton=False)
    try:
        lock.acquire()
    except Timeout:
        raise DataDirLocked(f"data dir {data_dir} already has a scheduler running "
                            f"(lock {data_dir / SCHEDULER_LOCK})") from None
    job = CrawlJob(crawl_command(crawl_args), data_dir)
    scheduler = BlockingScheduler(timezone=timezone.utc)
    first = {"next_run_time": datetime.now(timezone.utc)} if run_now else {}
    scheduler.add_job(job, trigger, id="crawl", max_instances=1, coalesce=True,
                      misfire_grace_time=None, **first)
    scheduler.add_listener(_skipped, EVENT_JOB_MAX_INSTANCES)

    def stop(signum: int, frame: FrameType | None) -> None:
        logger.info("%s received: stopping after the running crawl", signal.Signals(signum).name)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("scheduler started (%s), crawl logs in %s", trigger, job.log_dir)
    try:
        scheduler.start()
    finally:
        lock.release()
    logger.info("scheduler stopped after %d crawls", job.runs)
    return job.runs


def _skipped(event: JobEvent) -> None:
    logger.warning("a crawl is still running: skipped the one due at %s",
                   getattr(event, "scheduled_run_time", "?"))
