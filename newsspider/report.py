"""What a dataset holds, at a glance: ``dataset info`` as text, ``dataset report`` as one HTML page.

The HTML page is self-contained (an inline SVG chart, no script, no outside
resource) and escapes everything that comes from crawled pages.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from newsspider.dataset import BadLine, Errors, display_path, iter_articles, shard_paths

__all__ = ["COVERAGE_FIELDS", "Summary", "html_report", "info_text", "summarize"]

# Optional fields whose share of records shows whether a selector stopped matching.
COVERAGE_FIELDS = ("summary", "author", "source", "editor", "image_credit", "tags", "related_urls",
                   "published_at")
LATEST = 20


@dataclass
class Summary:
    """Counts over the latest version of every article of a dataset."""

    path: Path
    articles: int = 0
    records: int = 0
    days: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    tags: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    filled: Counter[str] = field(default_factory=Counter)
    shards: list[tuple[str, int]] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)
    #: (published_date, title, source, url) of the most recently published articles
    latest: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def date_range(self) -> tuple[str, str] | None:
        return (min(self.days), max(self.days)) if self.days else None

    def coverage(self, name: str) -> float:
        return self.filled[name] / self.articles if self.articles else 0.0


def summarize(path: str | Path, errors: Errors = "raise") -> Summary:
    """Read the dataset once for its versions and once for its latest records.

    A bad line raises :class:`~newsspider.dataset.DatasetError`, or with
    ``errors="skip"`` is skipped and listed in :attr:`Summary.bad_lines`.
    """
    summary = Summary(Path(path))
    summary.shards = [(p.name, p.stat().st_size) for p in shard_paths(path)]
    every = iter_articles(path, latest=False, errors=errors, on_bad_line=summary.bad_lines.append)
    summary.records = sum(1 for _ in every)
    for record in iter_articles(path, errors="skip"):
        summary.articles += 1
        summary.days[record.get("published_date") or "?"] += 1
        summary.categories[record.get("category") or "?"] += 1
        summary.tags.update(record.get("tags") or [])
        if record.get("source"):
            summary.sources[record["source"]] += 1
        summary.filled.update(name for name in COVERAGE_FIELDS if record.get(name))
        row = (record.get("published_date") or "", record.get("title") or "", record.get("source") or "",
               record.get("url") or "")
        if len(summary.latest) < LATEST:
            heapq.heappush(summary.latest, row)
        else:
            heapq.heappushpop(summary.latest, row)
    summary.latest.sort(reverse=True)
    return summary


def _top(counter: Counter[str], n: int) -> str:
    return ", ".join(f"{name} ({count})" for name, count in counter.most_common(n)) or "-"


def info_text(summary: Summary, top: int = 10) -> str:
    """The ``newsspider dataset info`` text."""
    span = " to ".join(summary.date_range) if summary.date_range else "-"
    lines = [
        f"dataset:      {display_path(summary.path)}",
        f"articles:     {summary.articles} ({summary.records} records; "
        f"{summary.records - summary.articles} older versions)",
        f"published:    {span}",
        f"categories:   {_top(summary.categories, top)}",
        f"top tags:     {_top(summary.tags, top)}",
        f"top sources:  {_top(summary.sources, top)}",
        "coverage:     " + ", ".join(f"{n} {summary.coverage(n):.0%}" for n in COVERAGE_FIELDS),
        "shards:       " + (", ".join(f"{name} ({size:,} bytes)" for name, size in summary.shards) or "-"),
        f"bad lines:    {len(summary.bad_lines)}",
    ]
    lines += [f"  {bad}" for bad in summary.bad_lines[:20]]
    return "\n".join(lines)


def _chart(days: Counter[str], width: int = 900, height: int = 220) -> str:
    """An SVG bar chart of articles per day (per month when there are many days)."""
    series = sorted(days.items())
    unit = "day"
    if len(series) > 120:
        months: Counter[str] = Counter()
        for day, count in series:
            months[day[:7]] += count
        series, unit = sorted(months.items()), "month"
    if not series:
        return "<p>No articles.</p>"
    peak = max(count for _, count in series)
    bar = width / len(series)
    bars = "".join(
        f'<rect x="{i * bar:.1f}" y="{height - 20 - (height - 40) * count / peak:.1f}" '
        f'width="{max(bar - 1, 1):.1f}" height="{(height - 40) * count / peak:.1f}">'
        f"<title>{escape(label)}: {count}</title></rect>"
        for i, (label, count) in enumerate(series)
    )
    return (f'<svg id="per-{unit}" class="chart" role="img" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" aria-label="articles per {unit}">'
            f'<text x="0" y="12">peak {peak} per {unit}</text>{bars}'
            f'<text x="0" y="{height - 4}">{escape(series[0][0])}</text>'
            f'<text x="{width}" y="{height - 4}" text-anchor="end">{escape(series[-1][0])}</text></svg>')


def _table(title: str, rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<h2>{escape(title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_report(summary: Summary, top: int = 25) -> str:
    """The ``newsspider dataset report`` page."""
    span = " – ".join(summary.date_range) if summary.date_range else "-"
    coverage = [(name, f"{summary.coverage(name):.0%}", summary.filled[name]) for name in COVERAGE_FIELDS]
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>newsspider dataset report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 960px; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}
td:first-child {{ white-space: nowrap; }}
.chart rect {{ fill: #3b6ea5; }} .chart text {{ font-size: 12px; }}
</style></head><body>
<h1>newsspider dataset report</h1>
<p>{escape(display_path(summary.path))}: <b>{summary.articles}</b> articles ({summary.records} records),
published {escape(span)}; {len(summary.bad_lines)} bad lines.</p>
<h2>Articles per day</h2>
{_chart(summary.days)}
{_table("Field coverage", coverage, ("field", "share", "records"))}
{_table("Latest articles", summary.latest, ("published", "title", "source", "url"))}
{_table("Top tags", summary.tags.most_common(top), ("tag", "articles"))}
{_table("Top sources", summary.sources.most_common(top), ("source", "articles"))}
{_table("Categories", summary.categories.most_common(), ("category", "articles"))}
{_table("Shards", summary.shards, ("file", "bytes"))}
{_table("Bad lines", [(display_path(b.path), b.lineno, b.reason) for b in summary.bad_lines],
        ("file", "line", "reason"))}
</body></html>
"""
