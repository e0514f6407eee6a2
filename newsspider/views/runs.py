"""The run history as people and programs read it: ``newsspider runs`` (table, ``--run N``, ``--json``).

A :class:`~newsspider.memory.Run` keeps its failures, quality and failed
checks as JSON text; :func:`run_record` turns it into one plain object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from newsspider.memory import Run

__all__ = ["COVERAGE_COLUMNS", "COVERAGE_FIELDS", "TRACKED_FIELDS", "coverage", "run_record", "run_table",
           "run_text"]

#: the fields whose coverage is followed from run to run (the run's quality counts them), in the
#: order they are shown
TRACKED_FIELDS = ("title", "body", "published_at", "summary", "author", "source", "editor", "image_credit",
                  "image_url", "tags", "related_urls")

#: the fields a page may lack, whose share of the records is shown (the run table, dataset info, the report)
COVERAGE_FIELDS = ("summary", "author", "source", "editor", "image_credit", "tags", "related_urls",
                   "published_at")
#: the coverage columns of the table: header -> field
COVERAGE_COLUMNS = dict(zip(("sum%", "auth%", "src%", "ed%", "cred%", "tags%", "rel%", "time%"),
                            COVERAGE_FIELDS, strict=True))


def coverage(run_quality: Mapping[str, Any]) -> dict[str, float]:
    """The share (0-100) of a run's stored records that have each field; empty when it stored none.

    >>> coverage({"stored": 4, "fields": {"summary": 3, "tags": 4}})
    {'summary': 75.0, 'tags': 100.0}
    >>> coverage({"stored": 0, "fields": {"summary": 0}})
    {}
    """
    stored = int(run_quality.get("stored") or 0)
    if not stored:
        return {}
    return {name: round(100 * count / stored, 1) for name, count in run_quality.get("fields", {}).items()}


def run_record(run: Run) -> dict[str, Any]:
    """A run as one JSON object: its counts, failures, quality with coverage (%), failed checks.

    >>> r = run_record(Run(3, "2026-01-01T00:00:00Z", None, "degraded", 10, 4, 0, 0, 1, 0, "finished",
    ...                    '{"timeout": 1}', '{"stored": 4, "fields": {"summary": 1}}',
    ...                    '["coverage/fields: x"]'))
    >>> r["run"], r["failures"], r["quality"]["coverage"], r["checks"]
    (3, {'timeout': 1}, {'summary': 25.0}, ['coverage/fields: x'])
    """
    fields = asdict(run)
    record = {"run": fields.pop("run_id"), **fields}
    record["failures"] = json.loads(run.failures) if run.failures else {}
    quality = json.loads(run.quality) if run.quality else None
    if quality is not None:
        quality["coverage"] = coverage(quality)
    record["quality"] = quality
    record["checks"] = json.loads(run.checks) if run.checks else []
    record["window"] = json.loads(run.window) if run.window else None
    return record


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def run_table(runs: list[Run]) -> str:
    """The history as a table, one run a line.

    >>> print(run_table([Run(1, "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z", "finished", 50, 30, 0, 2,
    ...                      1, 0, "finished", "{}", '{"stored": 30, "fields": {"summary": 30}, '
    ...                      '"median_body": 900}', None)]).splitlines()[1].split()[10:])
    ['100', '-', '-', '-', '-', '-', '-', '-', '900', '0', 'finished']
    """
    header = ("run", "started (UTC)", "ended (UTC)", "status", "pages", "new", "updated", "dropped",
              "failed", "errors", *COVERAGE_COLUMNS, "body", "checks", "reason")
    rows = [header]
    for run in runs:
        quality = json.loads(run.quality) if run.quality else {}
        shares = coverage(quality)
        checks = json.loads(run.checks) if run.checks else []
        rows.append((str(run.run_id), run.started_at, run.ended_at or "-", run.status, str(run.pages),
                     str(run.new_articles), str(run.updated_articles), str(run.dropped), str(run.failed),
                     str(run.errors), *(_cell(shares.get(f)) for f in COVERAGE_COLUMNS.values()),
                     str(quality["median_body"]) if quality else "-", str(len(checks)),
                     run.finish_reason or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def run_text(run: Run) -> str:
    """One run in full: every count, the coverage of every field, failures, drops, the failed checks."""
    record = run_record(run)
    quality = record["quality"] or {}
    lines = [f"run {record['run']}: {record['status']} ({record['finish_reason'] or 'not ended'})",
             f"  started {record['started_at']}, ended {record['ended_at'] or '-'}",
             f"  pages {record['pages']}, new {record['new_articles']}, "
             f"updated {record['updated_articles']}, dropped {record['dropped']}, "
             f"failed {record['failed']}, errors {record['errors']}"]
    if quality:
        lines.append(f"  stored {quality['stored']}, median body {quality['median_body']} characters, "
                     f"{quality['pages_per_second']} pages/s, {quality['retries']} retries, "
                     f"{quality.get('http_403', 0)} responses 403, {quality.get('http_429', 0)} 429")
        lines.append("  field coverage (% of the stored records):")
        lines += [f"    {name:<13} {quality['coverage'].get(name, 0):5.1f}" for name in TRACKED_FIELDS]
    else:
        lines.append("  no quality recorded (monitoring off, or a run before it existed)")
    if removals := quality.get("removals"):
        lines.append(f"  removed from the site: {removals['gone']} of {removals['checked']} stored articles "
                     f"refreshed newly gone; marked {removals['provisional']} provisionally, "
                     f"{removals['confirmed']} confirmed, {removals['restored']} restored"
                     + ("; not believed: too many gone at once" if removals.get("not_believed") else ""))
    sources = quality.get("sources") or {}
    order = ["sitemaps", "links", "stored", "sitemap_files", "sitemap_urls"]  # the rest (problems) after
    sources = dict(sorted(sources.items(),
                          key=lambda item: (order.index(item[0]) if item[0] in order else 9, item[0])))
    for title, counts in (("failed pages", record["failures"]), ("dropped records", quality.get("dropped")),
                          ("sources", sources)):
        if counts:
            lines.append(f"  {title}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    lines += ["  checks failed:", *(f"    {line}" for line in record["checks"])] if record["checks"] else [
        "  checks: all passed" if quality else "  checks: not run"]
    return "\n".join(lines)
