"""Monitoring: per-run quality in the history, Spidermon checks, a degraded run's exit status and
notifications, against the mock site, a real HTTP receiver and a real SMTP server."""

from __future__ import annotations

import email
import json
import socket
import sqlite3
from email.policy import default as default_policy
from pathlib import Path

from newsspider.dataset.layout import STATE_FILE
from newsspider.demo.pages import DemoSite
from tests.conftest import crawl, run_cli
from tests.mockserver import MockServer
from tests.receivers import HttpReceiver, SmtpReceiver

DEGRADED_EXIT = 3


def runs_json(data_dir: Path) -> list[dict]:
    result = run_cli("runs", str(data_dir), "--json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def notify(receiver: HttpReceiver, smtp: SmtpReceiver) -> list[str]:
    return ["-s", f"NEWSSPIDER_WEBHOOK_URL={receiver.url('/hook')}",
            "-s", f"NEWSSPIDER_SLACK_WEBHOOK_URL={receiver.url('/slack')}",
            "-s", "NEWSSPIDER_EMAIL_TO=archivist@example.org", "-s", "NEWSSPIDER_SMTP_HOST=127.0.0.1",
            "-s", f"NEWSSPIDER_SMTP_PORT={smtp.port}"]


def test_first_run_records_its_quality_and_passes(site_server: MockServer, tmp_path: Path) -> None:
    result = crawl(site_server, tmp_path)
    assert result.returncode == 0, result.stderr
    [run] = runs_json(tmp_path)
    assert run["status"] == "finished" and run["checks"] == []
    quality = run["quality"]
    assert quality["stored"] == run["new_articles"] > 20
    coverage = quality["coverage"]
    assert coverage["title"] == coverage["body"] == coverage["tags"] == 100.0
    assert 0 < coverage["summary"] < 100 and 0 < coverage["editor"] < 100
    assert quality["median_body"] > 50 and quality["pages_per_second"] > 0
    table = run_cli("runs", str(tmp_path)).stdout.splitlines()
    assert table[0].split()[-10:] == ["sum%", "auth%", "src%", "ed%", "cred%", "tags%", "rel%", "time%",
                                     "body", "checks", "reason"][-10:]
    assert table[1].split()[-1] == "finished" and table[1].split()[-2] == "0"
    full = run_cli("runs", str(tmp_path), "--run", "1").stdout
    assert ["summary", f"{coverage['summary']:.1f}"] in [line.split() for line in full.splitlines()]
    assert "checks: all passed" in full


def test_template_change_degrades_the_run_and_names_the_field(mockserver: MockServer,
                                                             tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    mockserver.add_articles(30)
    mockserver.rewrite('<p id="summary">', '<p class="lead">')  # the site renames its summary
    with HttpReceiver() as receiver, SmtpReceiver() as smtp:
        result = crawl(mockserver, tmp_path, *notify(receiver, smtp))
        hooks = [r for r in receiver.received if r["path"] == "/hook"]
        slack = [r for r in receiver.received if r["path"] == "/slack"]
        mails = list(smtp.messages)
    assert result.returncode == DEGRADED_EXIT, result.stderr
    degraded = [line for line in result.stderr.splitlines() if line.startswith("Degraded: ")]
    assert degraded == [line for line in degraded if "Traceback" not in line]
    assert len(degraded) == 1 and degraded[0].startswith("Degraded: coverage/fields: summary: on 0% of")
    assert "Traceback" not in result.stderr
    runs = runs_json(tmp_path)
    assert [r["status"] for r in runs] == ["finished", "degraded"]
    assert runs[1]["quality"]["coverage"]["summary"] == 0.0 and runs[1]["new_articles"] == 30
    assert len(runs[1]["checks"]) == 1 and runs[1]["checks"][0] == degraded[0].removeprefix("Degraded: ")
    # one JSON message naming the run and the failed check
    assert len(hooks) == 1
    message = hooks[0]["json"]
    assert hooks[0]["content_type"].startswith("application/json")
    assert message["event"] == "newsspider.run.degraded" and message["run"] == 2
    assert message["checks"] == runs[1]["checks"] and message["stored"] == 30
    assert len(slack) == 1 and "run 2" in slack[0]["json"]["text"] and "summary" in slack[0]["json"]["text"]
    assert len(mails) == 1 and mails[0].rcpt_tos == ["archivist@example.org"]
    mail = email.message_from_bytes(mails[0].content, policy=default_policy)
    assert "run 2" in mail["Subject"] and "coverage/fields: summary" in mail.get_content()
    # the table marks it
    assert run_cli("runs", str(tmp_path)).stdout.splitlines()[2].split()[3] == "degraded"


def test_the_run_is_recorded_with_its_checks_whatever_order_the_extensions_are_built_in(
        mockserver: MockServer, tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    mockserver.add_articles(30)
    mockserver.rewrite('<p id="summary">', '<p class="lead">')
    reversed_order = json.dumps({"newsspider.memory.extension.CrawlMemory": 10,  # built (and connected) first
                                 "spidermon.contrib.scrapy.extensions.Spidermon": 990})
    result = crawl(mockserver, tmp_path, "-s", f"EXTENSIONS={reversed_order}")
    assert result.returncode == DEGRADED_EXIT, result.stderr
    second = runs_json(tmp_path)[1]
    assert second["status"] == "degraded" and second["checks"][0].startswith("coverage/fields: summary")
    assert second["quality"]["stored"] == 30


def test_unchanged_site_is_not_degraded(mockserver: MockServer, tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    mockserver.add_articles(30)
    with HttpReceiver() as receiver, SmtpReceiver() as smtp:
        result = crawl(mockserver, tmp_path, *notify(receiver, smtp))
        assert receiver.received == [] and smtp.messages == []
    assert result.returncode == 0, result.stderr
    assert "Degraded" not in result.stderr
    assert [r["status"] for r in runs_json(tmp_path)] == ["finished", "finished"]


def test_broken_body_selector_stores_nothing_and_says_why(mockserver: MockServer, tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    mockserver.add_articles(30)
    mockserver.rewrite('<div class="entry">', '<div class="post-content">')
    result = crawl(mockserver, tmp_path)
    assert result.returncode == DEGRADED_EXIT, result.stderr
    checks = runs_json(tmp_path)[1]["checks"]
    assert [c.split(":")[0] for c in checks] == ["articles/dropped", "articles/stored"]
    assert "missing_body" in checks[0]
    assert "0 articles stored, but the listings showed 30 articles that are not stored" in checks[1]


def test_a_killed_run_is_reported_by_the_next(site_server: MockServer, tmp_path: Path) -> None:
    assert crawl(site_server, tmp_path).returncode == 0
    # a run that never recorded its end (killed): the state says "running" until the next run
    with sqlite3.connect(tmp_path / STATE_FILE) as conn:
        conn.execute("INSERT INTO runs(started_at, status) VALUES ('2026-01-01T00:00:00Z', 'running')")
    result = crawl(site_server, tmp_path)
    assert result.returncode == DEGRADED_EXIT, result.stderr
    assert "Degraded: runs/finished: run 2 never finished (killed, or its machine stopped)" in result.stderr
    assert [r["status"] for r in runs_json(tmp_path)] == ["finished", "interrupted", "degraded"]


def test_monitoring_off(site_server: MockServer, tmp_path: Path) -> None:
    result = crawl(site_server, tmp_path, "-s", "SPIDERMON_ENABLED=False")
    assert result.returncode == 0, result.stderr
    [run] = runs_json(tmp_path)
    assert run["quality"] is None and run["status"] == "finished"


def test_a_site_refusing_the_crawler_fails_the_ban_and_failure_checks(mockserver: MockServer,
                                                                      tmp_path: Path) -> None:
    refused = [article.path for article in DemoSite().public_articles()[:20]]
    for path in refused:
        mockserver.fault(path, "status", status=403, times=-1)
    result = crawl(mockserver, tmp_path)
    assert result.returncode == DEGRADED_EXIT, result.stderr
    [run] = runs_json(tmp_path)
    assert run["status"] == "degraded" and run["quality"]["http_403"] == 20
    checks = {line.split(":")[0]: line for line in run["checks"]}
    assert set(checks) == {"fetching/failures", "fetching/bans"}
    bans = f"fetching/bans: 20 of {run['pages']} responses were 403 or 429"
    assert checks["fetching/bans"].startswith(bans)
    assert "http_403 20" in checks["fetching/failures"]
    assert "20 responses 403, 0 429" in run_cli("runs", str(tmp_path), "--run", "1").stdout


def test_undeliverable_notifications_are_one_warning_each(mockserver: MockServer, tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    mockserver.add_articles(30)
    mockserver.rewrite('<p id="summary">', '<p class="lead">')
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = crawl(mockserver, tmp_path, "-s", f"NEWSSPIDER_WEBHOOK_URL=http://127.0.0.1:{port}/hook/t0ken",
                   "-s", "NEWSSPIDER_EMAIL_TO=archivist@example.org", "-s", "NEWSSPIDER_SMTP_HOST=127.0.0.1",
                   "-s", f"NEWSSPIDER_SMTP_PORT={port}")
    assert result.returncode == DEGRADED_EXIT, result.stderr  # still degraded: nothing else changes
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "was not delivered" in line]
    assert len(warnings) == 2
    assert f"the webhook notification was not delivered: http://127.0.0.1:{port}/***: " in warnings[0]
    assert "t0ken" not in result.stdout + result.stderr  # the token a webhook's path holds
    assert f"the e-mail notification was not delivered: SMTP server 127.0.0.1:{port}: " in warnings[1]
    assert runs_json(tmp_path)[1]["status"] == "degraded"
