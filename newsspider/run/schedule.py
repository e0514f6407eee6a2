"""Recurring crawls: APScheduler starts each crawl in a process of its own, never two at once.

Scrapy's reactor cannot be restarted inside one process, so every run is a
``newsspider crawl`` subprocess, in a process group of its own (a Ctrl-C in
the terminal reaches the scheduler only), whose output goes to
``<data dir>/logs/crawl-<UTC time>.log``; the scheduler prints the crawl's
summary line when it ends.  Passwords and tokens are handed to each crawl in
its environment (:data:`~newsspider.run.runner.SECRET_SETTINGS`), never on
its command line, which any local user reads with ``ps``.  A first SIGTERM or
SIGINT stops the scheduler after the running crawl has finished; a second one
stops that crawl gracefully (SIGTERM: it saves its frontier for ``--resume``).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import FrameType

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from newsspider.core.errors import DEGRADED_EXIT, NewsspiderError
from newsspider.dataset.layout import LOG_DIR, SCHEDULER_LOCK
from newsspider.dataset.storage import DataDirLock

__all__ = ["ScheduleError", "crawl_command", "parse_every", "run_schedule", "trigger_for"]

logger = logging.getLogger(__name__)

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
#: the longest --every, in seconds: a year (a longer one is a typo, and overflows the clock's dates)
_LONGEST = 366 * 86400


class ScheduleError(NewsspiderError, ValueError):
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
    newsspider.run.schedule.ScheduleError: --every expects a duration such as 6h, 30m, 1h30m or 90s, got...
    >>> parse_every("99999999999999d")
    Traceback (most recent call last):
    ...
    newsspider.run.schedule.ScheduleError: --every is at most 366 days, got '99999999999999d'
    """
    parts = re.findall(r"(\d+)\s*([dhms])", text.strip().lower())
    if not parts or re.sub(r"(\d+)\s*([dhms])|\s", "", text.lower()):
        raise ScheduleError(f"--every expects a duration such as 6h, 30m, 1h30m or 90s, got {text!r}")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in parts)
    if seconds <= 0:
        raise ScheduleError(f"--every must be longer than zero, got {text!r}")
    if seconds > _LONGEST:
        raise ScheduleError(f"--every is at most {_LONGEST // 86400} days, got {text!r}")
    return timedelta(seconds=seconds)


def trigger_for(every: str | None, cron: str | None) -> BaseTrigger:
    """The APScheduler trigger for ``--every`` or ``--cron`` (exactly one of them).

    >>> trigger_for(None, "0 */6 * * *").fields[5]
    BaseField('hour', '*/6')
    >>> trigger_for(None, "61 * * * *")
    Traceback (most recent call last):
    ...
    newsspider.run.schedule.ScheduleError: --cron '61 * * * *': Error validating expression '61': ...
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

    def __init__(self, command: list[str], data_dir: Path, secrets: Mapping[str, str] | None = None) -> None:
        self.command = command
        #: the settings that hold a password or a token, for the crawl's environment
        self.secrets = dict(secrets or {})
        self.log_dir = data_dir / LOG_DIR
        self.runs = 0
        self.stopping = threading.Event()
        self.proc: subprocess.Popen[bytes] | None = None
        self.running = threading.Event()

    def __call__(self) -> int | None:
        if self.stopping.is_set():
            return None
        self.running.set()
        try:
            return self._run()
        finally:
            self.running.clear()

    def _run(self) -> int:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        log_path = self.log_dir / f"crawl-{stamp}.log"
        logger.info("crawl started; log: %s", log_path)
        with log_path.open("ab") as log:
            # its own session: a Ctrl-C meant for the scheduler does not reach the crawl
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         env={**os.environ, **self.secrets})
            code = self.proc.wait()
        self.runs += 1
        summary = _lines(log_path, "Crawl ", keep=True)
        if summary:  # the crawl's own summary line, as `newsspider crawl` prints it
            logger.info("%s", summary[-1])
        if code == DEGRADED_EXIT:
            checks = _lines(log_path, "Degraded: ")
            logger.warning("crawl degraded (exit status %d): %s; log: %s", code, "; ".join(checks), log_path)
        elif code != 0 and (errors := _lines(log_path, "Error: ")):
            logger.warning("crawl failed (exit status %d): %s; log: %s", code, "; ".join(errors), log_path)
        elif code != 0 or not summary:
            logger.warning("crawl ended with exit status %d; log: %s", code, log_path)
        return code

    def terminate(self) -> bool:
        """Ask the running crawl to stop gracefully; False when none is running."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return False
        proc.send_signal(signal.SIGTERM)
        return True

    def wait(self) -> None:
        """Until no crawl runs (interruptible by signals, unlike a thread join)."""
        while self.running.is_set():
            time.sleep(0.1)


def _lines(log_path: Path, prefix: str, keep: bool = False) -> list[str]:
    """The lines of a crawl's log that start with *prefix*, without it (with it: *keep*)."""
    return [line.strip() if keep else line.strip().removeprefix(prefix)
            for line in log_path.read_text("utf-8", "replace").splitlines() if line.startswith(prefix)]


def run_schedule(trigger: BaseTrigger, crawl_args: Sequence[str], data_dir: Path,
                 run_now: bool = True, secrets: Mapping[str, str] | None = None) -> int:
    """Run crawls on *trigger* until SIGTERM or SIGINT; return the number of crawls run.

    *secrets* (settings that hold a password or a token) are set in each crawl's environment.
    """
    lock = DataDirLock(data_dir, SCHEDULER_LOCK, busy="already has a scheduler running").acquire()
    job = CrawlJob(crawl_command(crawl_args), data_dir, secrets)
    # APScheduler's own lines ("Adding job tentatively", "Running job ...") are its internals: only
    # its errors (a job that raised) are shown; a skipped run is this module's warning.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    scheduler = BlockingScheduler(timezone=timezone.utc)
    first = {"next_run_time": datetime.now(timezone.utc)} if run_now else {}
    scheduler.add_job(job, trigger, id="crawl", max_instances=1, coalesce=True,
                      misfire_grace_time=None, **first)
    scheduler.add_listener(_skipped, EVENT_JOB_MAX_INSTANCES)

    def stop(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not job.stopping.is_set():
            job.stopping.set()
            logger.info("%s received: stopping after the running crawl (again to stop the crawl now)",
                        name)
            scheduler.shutdown(wait=False)
        elif job.terminate():
            logger.info("%s received again: stopping the running crawl (it saves its frontier)", name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("scheduler started (%s), crawl logs in %s", trigger, job.log_dir)
    try:
        scheduler.start()
        job.wait()
    finally:
        lock.release()
    logger.info("scheduler stopped after %d crawls", job.runs)
    return job.runs


def _skipped(event: JobEvent) -> None:
    due = getattr(event, "scheduled_run_times", None) or [getattr(event, "scheduled_run_time", None)]
    logger.warning("a crawl is still running: skipped the one due at %s",
                   f"{due[0]:%Y-%m-%d %H:%M:%S} UTC" if isinstance(due[0], datetime) else "?")
