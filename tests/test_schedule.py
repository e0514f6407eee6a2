"""Recurring crawls through the real ``newsspider schedule`` command, with a short interval."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

from newsspider.memory.sqlite import read_runs
from tests.conftest import FAST, run_cli
from tests.mockserver import MockServer
from tests.receivers import HttpReceiver


def test_schedule_runs_crawls_one_at_a_time_and_stops_on_sigterm(site_server: MockServer,
                                                                 tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsspider", "schedule", "--every", "1s", "--start-url",
         site_server.url("/bnews/"), "--data-dir", str(tmp_path), *FAST],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 90
    # Wait for the third crawl to start, then ask the scheduler to stop while it runs.
    while len(read_runs(tmp_path)) < 3:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the scheduler did not start three crawls"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 0, stderr
    assert "SIGTERM received: stopping after the running crawl" in stderr

    runs = read_runs(tmp_path)
    assert [r.status for r in runs] == ["finished"] * len(runs), "a crawl was cut short"
    assert len(runs) == 3
    for earlier, later in pairwise(runs):
        assert earlier.ended_at <= later.started_at, "two crawls overlapped"
    logs = sorted((tmp_path / "logs").glob("crawl-*.log"))
    assert len(logs) == 3
    assert "Crawl finished:" in logs[0].read_text()


def test_second_scheduler_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    from filelock import FileLock

    with FileLock(tmp_path / ".newsspider-schedule.lock"):
        result = run_cli("schedule", "--every", "1h", "--start-url", "http://127.0.0.1:9/bnews/",
                         "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "already has a scheduler running" in result.stderr


def test_schedule_needs_a_valid_interval(tmp_path: Path) -> None:
    for args in (["--every", "soon"], ["--cron", "61 * * * *"], [], ["--every", "1h", "--cron", "* * * * *"]):
        result = run_cli("schedule", *args, "--data-dir", str(tmp_path))
        assert result.returncode == 1, args
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("Error: ")


def start_scheduler(server: MockServer, data_dir: Path) -> subprocess.Popen[str]:
    """A scheduler in a session of its own, as a terminal runs it: a Ctrl-C reaches its process group."""
    slow = ["-s", "DOWNLOAD_DELAY=0.1", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False", "-s", "CONCURRENT_REQUESTS=1"]
    return subprocess.Popen(
        [sys.executable, "-m", "newsspider", "schedule", "--every", "1h", "--start-url",
         server.url("/bnews/"), "--data-dir", str(data_dir), *FAST, *slow],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def wait_for_articles(data_dir: Path, proc: subprocess.Popen[str], count: int) -> None:
    deadline = time.monotonic() + 60
    path = data_dir / "articles.jsonl"
    while not (path.exists() and path.read_bytes().count(b"\n") >= count):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the crawl stored nothing"
        time.sleep(0.05)


def test_ctrl_c_lets_the_running_crawl_finish(site_server: MockServer, tmp_path: Path) -> None:
    proc = start_scheduler(site_server, tmp_path)
    wait_for_articles(tmp_path, proc, 3)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal: the scheduler's whole process group
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "SIGINT received: stopping after the running crawl" in stderr
    assert [(r.status, r.finish_reason) for r in read_runs(tmp_path)] == [("finished", "finished")]


def test_a_second_signal_stops_the_crawl_gracefully(site_server: MockServer, tmp_path: Path) -> None:
    proc = start_scheduler(site_server, tmp_path)
    wait_for_articles(tmp_path, proc, 3)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "SchedulerNotRunningError" not in stderr
    assert "SIGTERM received again: stopping the running crawl" in stderr
    assert [(r.status, r.finish_reason) for r in read_runs(tmp_path)] == [("stopped", "shutdown")]
    crawl_log = next((tmp_path / "logs").glob("crawl-*.log")).read_text()
    assert "Crawl shutdown:" in crawl_log


def test_schedule_passes_notifications_on_and_logs_a_degraded_run(mockserver: MockServer,
                                                                  tmp_path: Path) -> None:
    with HttpReceiver() as receiver:
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsspider", "schedule", "--every", "3s", "--start-url",
             mockserver.url("/bnews/"), "--data-dir", str(tmp_path), *FAST,
             "-s", f"NEWSSPIDER_WEBHOOK_URL={receiver.url('/hook')}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 90
        while not [r for r in read_runs(tmp_path) if r.ended_at]:
            assert proc.poll() is None and time.monotonic() < deadline, "the first crawl did not end"
            time.sleep(0.02)
        mockserver.add_articles(30)  # before the next crawl, due 3 s after the first began
        mockserver.rewrite('<p id="summary">', '<p class="lead">')
        while len([r for r in read_runs(tmp_path) if r.ended_at]) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "the second crawl did not end"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=90)
    assert [r.status for r in read_runs(tmp_path)][:2] == ["finished", "degraded"]
    degraded = [line for line in stderr.splitlines() if "crawl degraded (exit status 3)" in line]
    assert len(degraded) == 1 and "coverage/fields: summary: on 0% of the records" in degraded[0]
    assert [m["json"]["run"] for m in receiver.received] == [2]
