"""Recurring crawls through the real ``newsspider schedule`` command, with a short interval."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path
from urllib.parse import quote

from newsspider.memory.redis import read_redis_runs
from newsspider.memory.sqlite import read_runs
from tests.conftest import FAST, run_cli
from tests.mockserver import MockServer
from tests.proxies import NAME, Socks
from tests.receivers import HttpReceiver
from tests.test_distributed import RedisServer


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
    # each run's own summary line, and nothing of APScheduler's internals
    assert len([line for line in stderr.splitlines() if " INFO Crawl finished: " in line]) == 3, stderr
    assert "Adding job" not in stderr and "Running job" not in stderr and "exit status" not in stderr
    skipped = [line for line in stderr.splitlines() if "skipp" in line]  # a crawl due while one runs
    assert all(re.search(r"WARNING a crawl is still running: skipped the one due at 20\d\d-", line)
               for line in skipped), skipped

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
    slow = ["-s", "DOWNLOAD_DELAY=0.05", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False",
            "-s", "CONCURRENT_REQUESTS=1"]
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
    assert "Crawl stopped (interrupted):" in crawl_log


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


# Secrets as users type them (unencoded '/', '@' and ':'), and what of them must never be seen.
PROXY_PASSWORD = "p/ss@w:rd"
REDIS_PASSWORD = "Wr/ong@Pw"
HOOK_TOKEN = "h00k-t0ken"
SLACK_TOKEN = "sl4ck-t0ken"
SMTP_PASSWORD = "smtp-s3cret"
SECRETS = [PROXY_PASSWORD, "p/ss", "ss@w", "w:rd", REDIS_PASSWORD, "Wr/ong", "ong@Pw", HOOK_TOKEN,
           SLACK_TOKEN, SMTP_PASSWORD]


def secrets_in(data: bytes) -> list[str]:
    """The secrets (or parts of one), as typed or percent-encoded, that *data* holds."""
    return [secret for secret in SECRETS
            if any(form.encode() in data for form in {secret, quote(secret, safe="")})]


def descendants(pid: int) -> list[int]:
    """The processes *pid* started, and those they started (read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # a process that ended meanwhile
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        found += (new := children.get(todo.pop(), []))
        todo += new
    return found


def test_schedule_hands_no_password_or_token_to_a_crawl_s_command_line(tmp_path: Path) -> None:
    """A proxy and a Redis whose passwords hold '/' and '@', a webhook and a Slack hook with tokens and an
    SMTP password, given as the CLI takes them (options, -s, the webhook in the environment): every crawl
    gets them (it goes through the proxy, records its run in Redis, notifies), and no process the
    scheduler starts shows one on its command line, nor prints one (the failing Slack hook answers 500,
    the SMTP server is not there)."""
    data = tmp_path / "data"
    (tmp_path / "redis").mkdir()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        smtp_port = closed.getsockname()[1]
    redis = RedisServer(tmp_path / "redis", "--requirepass", REDIS_PASSWORD, "--save", "",
                        "--appendonly", "no")
    with MockServer(name=NAME) as site, Socks(user="alice", password=PROXY_PASSWORD) as proxy, \
            HttpReceiver() as hook, HttpReceiver(status=500) as slack:
        site.fault("/bnews/", "status", status=403)  # reached through the proxy, and a failed run: notified
        redis.start()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "newsspider", "schedule", "--every", "1h", "--start-url",
                 site.url("/bnews/"), "--data-dir", str(data), *FAST, "--proxy", proxy.url,
                 "--redis-url", redis.url(REDIS_PASSWORD),
                 "-s", f"NEWSSPIDER_SLACK_WEBHOOK_URL={slack.url(f'/services/{SLACK_TOKEN}')}",
                 "-s", "NEWSSPIDER_SMTP_HOST=127.0.0.1", "-s", f"NEWSSPIDER_SMTP_PORT={smtp_port}",
                 "-s", "NEWSSPIDER_SMTP_USER=alice", "-s", f"NEWSSPIDER_SMTP_PASSWORD={SMTP_PASSWORD}",
                 "-s", "NEWSSPIDER_EMAIL_TO=archivist@example.org"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # one secret as the environment gives it:
                env={**os.environ, "NEWSSPIDER_WEBHOOK_URL": hook.url(f"/hook/{HOOK_TOKEN}")})
            command_lines: dict[int, bytes] = {}
            deadline = time.monotonic() + 90
            scheduler = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
            while not (hook.received and slack.received):  # the crawl ran, and is ending
                for pid in descendants(proc.pid):
                    with contextlib.suppress(OSError):  # a process that ended meanwhile
                        if line := Path(f"/proc/{pid}/cmdline").read_bytes():  # (a zombie's is empty)
                            command_lines[pid] = line
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
                time.sleep(0.01)
            proc.send_signal(signal.SIGTERM)  # the scheduler stops once the crawl has ended
            stdout, stderr = proc.communicate(timeout=90)
            runs = read_redis_runs(redis.url(REDIS_PASSWORD))
            missing_run = run_cli("runs", "--redis-url", redis.url(REDIS_PASSWORD), "--run", "99")
        finally:
            redis.stop()
    assert proc.returncode == 0, stderr
    assert HOOK_TOKEN.encode() not in scheduler  # given in the environment: on no command line at all
    crawls = [line for line in command_lines.values() if b"\0crawl\0" in line]
    assert crawls, command_lines
    for pid, line in command_lines.items():
        assert secrets_in(line) == [], f"process {pid} shows a secret on its command line: {line!r}"
    # the secrets reached the crawl: through the proxy to the site (its 403), its run in Redis, notified
    assert [(run.status, run.finish_reason, json.loads(run.failures)) for run in runs] == [
        ("failed", "unreachable", {"http_403": 1})]
    assert [m["path"] for m in hook.received] == [f"/hook/{HOOK_TOKEN}"]
    assert [m["path"] for m in slack.received] == [f"/services/{SLACK_TOKEN}"]
    # and nothing of them is printed: the scheduler's output, the crawl's log, the data dir
    log = next((data / "logs").glob("crawl-*.log")).read_text()
    assert f"the Slack notification was not delivered: http://127.0.0.1:{slack.server_address[1]}/***: " \
           "Internal Server Error" in log
    assert f"the e-mail notification was not delivered: SMTP server 127.0.0.1:{smtp_port}: " in log
    for path in [p for p in tmp_path.rglob("*") if p.is_file() and "redis" not in p.parts]:
        assert secrets_in(path.read_bytes()) == [], path
    assert secrets_in(stdout + stderr + (missing_run.stdout + missing_run.stderr).encode()) == []
    assert missing_run.stderr.strip() == f"Error: no run 99 in redis://***@127.0.0.1:{redis.port}/0"
    # what the scheduler prints of the run: the crawl's summary line, not APScheduler's internals
    printed = stderr.decode()
    assert "Adding job" not in printed and "Running job" not in printed and "exit status 0" not in printed
    assert " INFO Crawl stopped (no start URL could be fetched): 2 pages (" in printed, printed
    assert "Dataset:" not in log and not list(data.glob("articles*.jsonl"))  # nothing stored: no file
