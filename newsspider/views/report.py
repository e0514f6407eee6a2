"""What a dataset holds, at a glance: ``dataset info`` as text, ``dataset report`` as one HTML page.

The HTML page is self-contained (inline SVG charts, no script, no outside
resource) and escapes everything that comes from crawled pages.  Articles
are drawn on a real time axis; with the data dir's run history, the field
coverage and the failures of each run are drawn too, so a selector that
stopped matching shows as a cliff.  A run that stored only a few articles (a
``--refresh`` that found one changed) is not drawn: its coverage says
nothing of the selectors, and a line falling to it would look like one.
The page fits a phone's screen and a laptop's (charts scale, a wide table
scrolls in its own box), and what is empty is a sentence, not an empty
chart or table.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from newsspider.dataset.reader import BadLine, Errors, display_path, iter_articles, shard_paths
from newsspider.dataset.removals import current_states
from newsspider.memory import Run
from newsspider.views.charts import bar_chart, line_chart, time_chart
from newsspider.views.runs import COVERAGE_FIELDS, TRACKED_FIELDS, run_record

__all__ = ["Summary", "html_report", "info_text", "summarize"]

# Optional fields whose share of records shows whether a selector stopped matching.
LATEST = 20
#: a run that stored fewer articles is left out of the coverage chart (shown in the table, marked "few");
#: the default of NEWSSPIDER_MONITOR_MIN_ARTICLES, under which the checks do not compare a run either
MIN_ARTICLES = 20


@dataclass
class Summary:
    """Counts over the latest version of every article of a dataset."""

    path: Path
    articles: int = 0
    records: int = 0
    days: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    tags: Counter[str] = field(default_factory=Counter)
    #: (tag, YYYY-MM of publication) -> articles
    tag_months: Counter[tuple[str, str]] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    filled: Counter[str] = field(default_factory=Counter)
    shards: list[tuple[str, int]] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)
    #: (published_date, title, source, url) of the most recently published articles
    latest: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    #: articles the site removed (the removals log beside the shards): confirmed, and seen gone once
    removed: int = 0
    provisional: int = 0

    @property
    def date_range(self) -> tuple[str, str] | None:
        return (min(self.days), max(self.days)) if self.days else None

    def coverage(self, name: str) -> float:
        return self.filled[name] / self.articles if self.articles else 0.0


def summarize(path: str | Path, errors: Errors = "raise") -> Summary:
    """Read the dataset once for its versions and once for its latest records.

    A bad line raises :class:`~newsspider.dataset.reader.DatasetError`, or with
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
        month = (record.get("published_date") or "?")[:7]
        summary.tag_months.update((tag, month) for tag in record.get("tags") or [])
        if record.get("source"):
            summary.sources[record["source"]] += 1
        summary.filled.update(name for name in COVERAGE_FIELDS if record.get(name))
        row = (record.get("published_date") or "", record.get("title") or "", record.get("source") or "",
               record.get("url") or "", str(record.get("article_id") or ""))
        if len(summary.latest) < LATEST:
            heapq.heappush(summary.latest, row)
        else:
            heapq.heappushpop(summary.latest, row)
    summary.latest.sort(reverse=True)
    states = current_states(path, summary.bad_lines.append, warn=False).values()
    summary.removed = sum(1 for s in states if s.state == "confirmed")
    summary.provisional = sum(1 for s in states if s.state == "provisional")
    return summary


def most_common(counter: Counter[str], n: int | None = None) -> list[tuple[str, int]]:
    """The *n* most common names, the most first and a tie by name (the same dataset always shows
    the same order, whatever order its articles were crawled in).

    >>> most_common(Counter({"b": 2, "c": 1, "a": 2}), 2)
    [('a', 2), ('b', 2)]
    """
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:n]


def _top(counter: Counter[str], n: int) -> str:
    return ", ".join(f"{name} ({count})" for name, count in most_common(counter, n)) or "-"


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
    if summary.removed or summary.provisional:  # after the shards: what the removals log says
        lines.insert(-1, f"removed:      {summary.removed} confirmed removed from the site, "
                         f"{summary.provisional} seen gone once (provisional)")
    lines += [f"  {bad}" for bad in summary.bad_lines[:20]]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    """A table cell: a short value (a number, a date, a word) kept on one line, text wrapped.

    >>> _cell(41), _cell("1 (few)"), _cell("<b>")
    ('<td class="short">41</td>', '<td class="short">1 (few)</td>', '<td class="short">&lt;b&gt;</td>')
    >>> _cell("coverage/fields: summary: on 0% of the records")
    '<td class="text">coverage/fields: summary: on 0% of the records</td>'
    """
    text = str(value)
    kind = "short" if len(text) <= 20 and text.count(" ") <= 1 else "text"
    return f'<td class="{kind}">{escape(text)}</td>'


def _table(title: str, rows: list[tuple[Any, ...]], header: tuple[str, ...], empty: str,
           table_id: str | None = None, classes: list[str] | None = None) -> str:
    """A titled table in a box of its own that scrolls when it is wider than the page; no rows: the
    sentence *empty* instead."""
    if not rows:
        return f"<h2>{escape(title)}</h2><p class=\"empty\">{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join((f'<tr class="{escape(classes[i])}">' if classes and classes[i] else "<tr>")
                   + "".join(map(_cell, row)) + "</tr>" for i, row in enumerate(rows))
    ident = f' id="{escape(table_id)}"' if table_id else ""
    return (f'<h2>{escape(title)}</h2><div class="wide"><table{ident}><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _latest(rows: list[tuple[str, str, str, str, str]]) -> str:
    """The latest articles: the title links to the article's URL, the id is there for ``dataset page``."""
    body = "".join(
        f'<tr>{_cell(day)}{_cell(article_id)}<td class="text">'
        + (f'<a href="{escape(url)}" rel="noreferrer">{escape(title)}</a>'
           if url.startswith(("http://", "https://")) else escape(title))
        + f"</td>{_cell(source)}</tr>"
        for day, title, source, url, article_id in rows)
    if not rows:
        return '<h2>Latest articles</h2><p class="empty">No articles.</p>'
    return ('<h2>Latest articles</h2><div class="wide"><table id="latest-articles"><thead><tr>'
            f"<th>published</th><th>id</th><th>title</th><th>source</th></tr></thead><tbody>{body}</tbody>"
            "</table></div>")


def _tags_over_time(summary: Summary, top: int = 10) -> str:
    """The top tags' articles per year (per month over a span of two years or less), as a table."""
    months = sorted({month for _, month in summary.tag_months if month[:1].isdigit()})
    if not months:
        return '<p id="tags-over-time" class="empty">No tagged articles.</p>'
    by_year = len(months) > 24 or (months[0][:4] != months[-1][:4] and len(months) > 12)
    periods = sorted({m[:4] for m in months}) if by_year else months
    counts: Counter[tuple[str, str]] = Counter()
    for (tag, month), count in summary.tag_months.items():
        counts[tag, month[:4] if by_year else month] += count
    peak = max(counts.values(), default=1)
    head = "".join(f"<th>{escape(p)}</th>" for p in periods)
    rows = []
    for tag, total in most_common(summary.tags, top):
        cells = "".join(
            f'<td style="background: rgba(59, 110, 165, {counts[tag, p] / peak:.2f})">'
            f'{counts[tag, p] or ""}</td>' for p in periods)
        rows.append(f"<tr>{_cell(tag)}{_cell(total)}{cells}</tr>")
    return (f'<div class="wide"><table id="tags-over-time" class="heat"><thead><tr><th>tag</th><th>all</th>'
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def _names(runs: list[dict[str, Any]], most: int = 10) -> str:
    """Runs named as a reader reads them.

    >>> _names([{"run": 2}]), _names([{"run": 2}, {"run": 5}, {"run": 7}])
    ('run #2', 'runs #2, #5 and #7')
    >>> _names([{"run": n} for n in range(1, 14)], most=3)
    'runs #1, #2, #3 and 10 more'
    """
    names = [f"#{r['run']}" for r in runs]
    if len(names) > most:
        names = [*names[:most], f"{len(names) - most} more"]
    return ("run " if len(runs) == 1 else "runs ") + (
        names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])


def _runs_section(runs: list[Run], min_articles: int = MIN_ARTICLES) -> str:
    """Field coverage per run (a chart and a table) and failures per run, from the run history."""
    if not runs:
        return ('<h2>Field coverage per run</h2><p class="empty">No run history here (a single .jsonl file, '
                "or a distributed crawl's: see newsspider runs).</p>")
    records = [run_record(run) for run in runs]
    # a run that stored nothing (the site had nothing new) has no coverage: not a run at 0%; one that
    # stored a few (a --refresh that found one article changed) has no coverage worth drawing
    measured = [r for r in records if r["quality"] and r["quality"].get("stored")]
    charted = [r for r in measured if r["quality"]["stored"] >= min_articles]
    few = [r for r in measured if r["quality"]["stored"] < min_articles]
    series = {name: [r["quality"]["coverage"].get(name) for r in charted] for name in TRACKED_FIELDS}
    chart = line_chart("coverage-chart", "field coverage per run (% of the records stored)",
                       [f"#{r['run']}" for r in charted], series,
                       empty=f"No run stored {min_articles} articles or more: too few to draw coverage from "
                             "(the table has each run's).")
    notes = []
    if few:
        notes.append(f"{_names(few)} stored fewer than {min_articles} articles: "
                     f"{'its' if len(few) == 1 else 'their'} coverage is in the table (marked few), "
                     "not drawn; a few records say nothing of the selectors, and the checks do not "
                     "compare such a run either.")
    if len(measured) < len(records):
        notes.append(f"{len(records) - len(measured)} of {len(records)} runs stored nothing new "
                      "(or kept no measure) and are left out of the chart.")
    chart += "".join(f"<p>{escape(note)}</p>" for note in notes)
    header = ("run", "started", "status", "stored", "failed", "dropped", "removed", "restored",
              *TRACKED_FIELDS, "checks failed")

    def cells(r: dict[str, Any]) -> list[str]:
        if not r["quality"]:
            return ["-"] * len(TRACKED_FIELDS)
        if not r["quality"].get("stored"):
            return ["nothing new", *[""] * (len(TRACKED_FIELDS) - 1)]
        return [f"{r['quality']['coverage'].get(n, 0):.0f}" for n in TRACKED_FIELDS]

    def stored(r: dict[str, Any]) -> str:
        if not r["quality"]:
            return "-"
        count = r["quality"]["stored"]
        return f"{count} (few)" if 0 < count < min_articles else str(count)

    def removals(r: dict[str, Any], what: str) -> str:
        counts = (r["quality"] or {}).get("removals")
        return "-" if not counts else str(counts["provisional"] + counts["confirmed"] if what == "removed"
                                          else counts["restored"])

    rows = [(r["run"], r["started_at"][:16], r["status"], stored(r), r["failed"], r["dropped"],
             removals(r, "removed"), removals(r, "restored"), *cells(r), "; ".join(r["checks"]))
            for r in records]
    table = _table("Coverage per run", rows, header, "", "coverage-per-run",
                   ["few" if r in few else "" for r in records])
    failures = bar_chart("failures-per-run", "failed pages per run",
                         [(f"#{r['run']}", int(r["failed"])) for r in records],
                         [(i, f"#{r['run']}") for i, r in enumerate(records)
                          if len(records) <= 30 or i % (len(records) // 30 + 1) == 0],
                         empty="No page failed in any run.")
    return f"<h2>Field coverage per run</h2>{chart}{table}<h2>Failures per run</h2>{failures}"


def _removed(summary: Summary) -> str:
    """The articles the site removed, in the report's first lines (nothing when none)."""
    if not (summary.removed or summary.provisional):
        return ""
    return (f" {summary.removed} removed from the site (confirmed), {summary.provisional} seen gone once "
            "(provisional).")


def html_report(summary: Summary, runs: list[Run] | None = None, top: int = 25,
                min_articles: int = MIN_ARTICLES) -> str:
    """The ``newsspider dataset report`` page (with the data dir's run history, *runs*; a run that
    stored fewer than *min_articles* is not drawn in the coverage chart)."""
    span = " – ".join(summary.date_range) if summary.date_range else "-"
    coverage = [(name, f"{summary.coverage(name):.0%}", summary.filled[name]) for name in COVERAGE_FIELDS]
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>newsspider dataset report</title>
<style>
body {{ font-family: sans-serif; margin: 1em auto; padding: 0 1em; max-width: 1280px;
        overflow-wrap: anywhere; }}
.wide {{ overflow-x: auto; margin-bottom: 1.5em; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; vertical-align: top; }}
th, td.short {{ white-space: nowrap; }} td.text {{ min-width: 16em; }}
tr.few td {{ color: #777; font-style: italic; }}
svg.chart {{ max-width: 100%; height: auto; }}
.chart rect {{ fill: #3b6ea5; }} .chart text {{ font-size: 12px; }}
.chart line {{ stroke: #888; }} .heat td {{ text-align: right; }} .heat td:first-child {{ text-align: left; }}
</style></head><body>
<h1>newsspider dataset report</h1>
<p>{escape(display_path(summary.path))}: <b>{summary.articles}</b> articles ({summary.records} records),
published {escape(span)}; {len(summary.bad_lines)} bad lines.{_removed(summary)}</p>
<h2>Articles over time</h2>
{time_chart("articles-over-time", summary.days, empty="No article has a publication date.")}
<h2>Top tags over time</h2>
{_tags_over_time(summary)}
{_runs_section(runs or [], min_articles)}
{_table("Field coverage of the dataset", coverage, ("field", "share", "records"), "No articles.")}
{_latest(summary.latest)}
{_table("Top tags", most_common(summary.tags, top), ("tag", "articles"), "No article has a tag.")}
{_table("Top sources", most_common(summary.sources, top), ("source", "articles"),
        "No article names its source.")}
{_table("Categories", most_common(summary.categories), ("category", "articles"), "No articles.")}
{_table("Shards", summary.shards, ("file", "bytes"), "No shards.")}
{_table("Bad lines", [(display_path(b.path), b.lineno, b.reason) for b in summary.bad_lines],
        ("file", "line", "reason"), "No bad lines.")}
</body></html>
"""
