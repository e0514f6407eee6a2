"""What happens when a check fails: the Spidermon actions of the ``CrawlChecks`` suite.

- :class:`RecordChecks` puts the failed checks into the stats (``newsspider/degraded``): the run is
  recorded as ``degraded`` with them, and ``newsspider crawl`` prints them and exits with status 3;
- :class:`Webhook` POSTs one JSON message to ``NEWSSPIDER_WEBHOOK_URL``;
- :class:`Slack` posts the same text to a Slack incoming webhook (``NEWSSPIDER_SLACK_WEBHOOK_URL``);
- :class:`Email` sends it through ``NEWSSPIDER_SMTP_HOST`` to ``NEWSSPIDER_EMAIL_TO``.

A notification that is not configured is skipped; one that cannot be
delivered is logged by Spidermon as an action error and changes nothing else.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from email.message import EmailMessage
from typing import Any

from scrapy.crawler import Crawler
from spidermon import Action
from spidermon.exceptions import SkipAction

from newsspider import __version__
from newsspider.core import stats as keys
from newsspider.core.credentials import redact, scrub

__all__ = ["Email", "RecordChecks", "Slack", "Webhook", "failed_checks", "message"]

logger = logging.getLogger(__name__)

_TIMEOUT = 10.0


def failed_checks(result: Any) -> list[str]:
    """One line per failed check: ``<monitor>/<check>: <what failed>``."""
    lines = []
    for failed in result.monitors_failed_results:
        text = failed.reason or (failed.error or "the check raised").strip().splitlines()[-1]
        lines += [f"{failed.item.name}: {line}" for line in str(text).splitlines() if line.strip()]
    return lines


def message(stats: dict[str, Any], checks: list[str]) -> dict[str, Any]:
    """The notification: which run of which data dir, the failed checks, the run's numbers.

    >>> m = message({"newsspider/run_id": 7, "newsspider/dataset": "data/articles.jsonl",
    ...              "newsspider/stored": 3}, ["coverage/fields: summary: on 0% of the records"])
    >>> m["event"], m["run"], m["status"], m["checks"], m["stored"]
    ('newsspider.run.degraded', 7, 'degraded', ['coverage/fields: summary: on 0% of the records'], 3)
    >>> m["text"].splitlines()[0]
    'newsspider run 7 (data/articles.jsonl) is degraded: 1 check failed'
    >>> message({"newsspider/run_id": 8, "newsspider/fatal": "every proxy failed: socks5h://h:1 (timeout)"},
    ...         ["runs/finished: this run ended early (...)"])["text"].splitlines()[0]
    'newsspider run 8 () failed: every proxy failed: socks5h://h:1 (timeout)'
    """
    run, dataset = stats.get(keys.RUN_ID), stats.get(keys.DATASET, "")
    status = "failed" if stats.get(keys.FATAL) else "degraded"
    fatal = stats.get(keys.FATAL)
    head = (f"newsspider run {run} ({dataset}) " + (f"failed: {fatal}" if fatal else
            f"is degraded: {len(checks)} check{'s' if len(checks) != 1 else ''} failed"))
    return {"event": f"newsspider.run.{status}", "run": run, "dataset": str(dataset), "status": status,
            "checks": checks, "finish_reason": stats.get("finish_reason"),
            "pages": int(stats.get("response_received_count", 0)),
            "stored": int(stats.get(keys.STORED, 0)),
            "text": "\n".join([head, *(f"- {line}" for line in checks)])}


class _Notify(Action):
    """An action with the crawler's stats at hand and the failed checks as a message.

    A notification that cannot be delivered is a warning naming it and why (and an action error in
    Spidermon's report); it changes nothing else.
    """

    #: what the warning calls it
    kind = "notification"

    def __init__(self, crawler: Crawler) -> None:
        super().__init__()
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> _Notify:
        return cls(crawler)

    def message(self) -> dict[str, Any]:
        return message(self.crawler.stats.get_stats(), failed_checks(self.result))

    def setting(self, name: str) -> str:
        if not (value := self.crawler.settings.get(name)):
            raise SkipAction(f"{name} is not set")
        return str(value)

    def run_action(self) -> None:
        try:
            self.send()
        except (OSError, smtplib.SMTPException, ValueError) as exc:  # URLError is an OSError
            logger.warning("the %s was not delivered: %s", self.kind, exc)
            raise

    def send(self) -> None:
        raise NotImplementedError


class RecordChecks(_Notify):
    """The failed checks into the stats: the run is recorded as degraded, the CLI exits with 3."""

    def send(self) -> None:
        self.crawler.stats.set_value(keys.CHECKS, failed_checks(self.result))


def _post_json(url: str, payload: dict[str, Any]) -> None:
    """POST *payload*; an error names where it went without the URL's token (its path, query and any
    password: :func:`~newsspider.core.credentials.redact`); an HTTP error status is an error too.

    >>> _post_json("hooks.example.org/T0/s3cret-token", {})
    Traceback (most recent call last):
    ...
    OSError: hooks.example.org/***: unknown url type: 'hooks.example.org/***'
    """
    try:
        request = urllib.request.Request(url, data=json.dumps(payload, ensure_ascii=False).encode(),
                                         headers={"Content-Type": "application/json; charset=utf-8",
                                                  "User-Agent": f"newsspider/{__version__}"})
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
            response.read()
    except (OSError, ValueError) as exc:  # a URL that cannot be used is a ValueError naming it
        reason = scrub(str(getattr(exc, "reason", None) or exc), url, path=False)
        raise OSError(f"{redact(url, path=False)}: {reason}") from None


class Webhook(_Notify):
    """POST the message as JSON to NEWSSPIDER_WEBHOOK_URL."""

    kind = "webhook notification"

    def send(self) -> None:
        url = self.setting("NEWSSPIDER_WEBHOOK_URL")
        _post_json(url, self.message())


class Slack(_Notify):
    """Post the message's text to a Slack incoming webhook (NEWSSPIDER_SLACK_WEBHOOK_URL)."""

    kind = "Slack notification"

    def send(self) -> None:
        _post_json(self.setting("NEWSSPIDER_SLACK_WEBHOOK_URL"), {"text": self.message()["text"]})


class Email(_Notify):
    """Mail the message's text to NEWSSPIDER_EMAIL_TO through NEWSSPIDER_SMTP_HOST (STARTTLS and login
    when NEWSSPIDER_SMTP_USER is set)."""

    kind = "e-mail notification"

    def send(self) -> None:
        settings = self.crawler.settings
        to = settings.getlist("NEWSSPIDER_EMAIL_TO")
        if not to:
            raise SkipAction("NEWSSPIDER_EMAIL_TO is not set")
        content = self.message()
        mail = EmailMessage()
        mail["Subject"] = content["text"].splitlines()[0]
        mail["From"] = settings.get("NEWSSPIDER_EMAIL_FROM")
        mail["To"] = ", ".join(to)
        mail.set_content(content["text"])
        host, port = self.setting("NEWSSPIDER_SMTP_HOST"), settings.getint("NEWSSPIDER_SMTP_PORT")
        try:
            with smtplib.SMTP(host, port, timeout=_TIMEOUT) as smtp:
                if user := settings.get("NEWSSPIDER_SMTP_USER"):
                    smtp.starttls()
                    smtp.login(user, settings.get("NEWSSPIDER_SMTP_PASSWORD"))
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:  # a server's answer never shows the password
            password = settings.get("NEWSSPIDER_SMTP_PASSWORD")
            shown = str(exc).replace(password, "***") if password else str(exc)
            raise OSError(f"SMTP server {host}:{port}: {shown}") from None
