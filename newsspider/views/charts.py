"""Inline SVG charts for the HTML report: no script, every label escaped.

:func:`time_bins` puts daily counts on a real time axis (days, weeks,
months or years by the span, empty bins included), :func:`bar_chart` draws bins or
runs as bars, :func:`line_chart` draws one line per series over the runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from html import escape

__all__ = ["bar_chart", "line_chart", "time_bins", "time_chart"]

#: colours of the line chart's series, in order
PALETTE = ("#3b6ea5", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d5a97", "#30323d", "#e07a5f",
           "#2e4057", "#a44a3f", "#6c757d")
_DAY_SPAN = 92  # up to three months: a bin a day
_WEEK_SPAN = 3 * 366  # up to three years: a bin a week
_MONTH_SPAN = 30 * 366  # up to thirty years: a bin a month; beyond (a bad date far off): a bin a year


def _start(day: date, unit: str) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "year":
        return day.replace(month=1, day=1)
    return day


def _next(day: date, unit: str) -> date | None:
    """The next bin's start, None after the last day a date can have (9999-12-31)."""
    try:
        if unit == "week":
            return day + timedelta(days=7)
        if unit == "month":
            return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        if unit == "year":
            return day.replace(year=day.year + 1)
        return day + timedelta(days=1)
    except (OverflowError, ValueError):
        return None


def time_bins(days: Mapping[str, int]) -> tuple[str, list[tuple[date, int]]]:
    """Counts per day (``YYYY-MM-DD`` keys; others ignored) as a unit and every bin of the span, in order.

    >>> unit, bins = time_bins({"2020-01-07": 2, "2022-02-20": 1})
    >>> unit, len(bins), bins[0], bins[-1], sum(count for _, count in bins)
    ('week', 111, (datetime.date(2020, 1, 6), 2), (datetime.date(2022, 2, 14), 1), 3)
    >>> time_bins({"2024-03-01": 1, "2024-03-03": 4, "?": 9})
    ('day', [(datetime.date(2024, 3, 1), 1), (datetime.date(2024, 3, 2), 0), (datetime.date(2024, 3, 3), 4)])
    >>> time_bins({"2015-05-05": 1, "2024-01-31": 1})[1][-1]
    (datetime.date(2024, 1, 1), 1)
    >>> unit, bins = time_bins({"2024-01-01": 5, "9999-12-31": 1})  # a bad date, as far off as can be
    >>> unit, len(bins), bins[0], bins[-1]
    ('year', 7976, (datetime.date(2024, 1, 1), 5), (datetime.date(9999, 1, 1), 1))
    """
    parsed = {}
    for key, count in days.items():
        try:
            parsed[date.fromisoformat(key)] = count
        except (TypeError, ValueError):
            continue
    if not parsed:
        return "day", []
    first, last = min(parsed), max(parsed)
    span = (last - first).days
    unit = ("day" if span <= _DAY_SPAN else "week" if span <= _WEEK_SPAN else "month" if span <= _MONTH_SPAN
            else "year")
    counts: dict[date, int] = {}
    for day, count in parsed.items():
        counts[_start(day, unit)] = counts.get(_start(day, unit), 0) + count
    bins: list[tuple[date, int]] = []
    current: date | None = _start(first, unit)
    while current is not None and current <= last:
        bins.append((current, counts.get(current, 0)))
        current = _next(current, unit)
    return unit, bins


def _ticks(bins: Sequence[tuple[date, int]], unit: str) -> list[tuple[int, str]]:
    """Where the time axis is labelled: each year's first bin (each month's over a short span)."""
    ticks, seen = [], set()
    for i, (start, _) in enumerate(bins):
        by_month = unit == "day" or (unit == "week" and len(bins) < 60)
        label = start.strftime("%Y-%m") if by_month else str(start.year)
        if label not in seen:
            seen.add(label)
            ticks.append((i, label))
    step = max(1, len(ticks) // 12)  # at most about a dozen labels
    return ticks[::step]


def _empty(chart_id: str, sentence: str) -> str:
    return f'<p id="{escape(chart_id)}" class="empty">{escape(sentence)}</p>'


def bar_chart(chart_id: str, label: str, bars: Sequence[tuple[str, int]],
              axis: Sequence[tuple[int, str]] = (), width: int = 900, height: int = 220,
              empty: str = "Nothing to draw.") -> str:
    """An SVG bar chart: one bar per (label, value), in order; *axis* labels bars by index.  No bars, or
    bars of nothing, are the sentence *empty* instead (a chart of nothing says less).

    >>> bar_chart("c", "failures", [("#1", 0), ("#2", 0)], empty="None failed.")
    '<p id="c" class="empty">None failed.</p>'
    """
    if not any(value for _, value in bars):
        return _empty(chart_id, empty)
    peak = max(value for _, value in bars)
    slot, plot = width / len(bars), height - 40
    rects = "".join(
        f'<rect x="{i * slot:.2f}" y="{20 + plot - plot * value / peak:.2f}" '
        f'width="{max(slot - 1, 0.5):.2f}" height="{plot * value / peak:.2f}" data-label="{escape(name)}">'
        f"<title>{escape(name)}: {value}</title></rect>"
        for i, (name, value) in enumerate(bars))
    ticks = "".join(
        f'<line x1="{i * slot:.2f}" x2="{i * slot:.2f}" y1="{20 + plot}" y2="{25 + plot}" class="tick"/>'
        f'<text x="{i * slot:.2f}" y="{height - 4}">{escape(text)}</text>' for i, text in axis)
    return (f'<svg id="{escape(chart_id)}" class="chart" role="img" aria-label="{escape(label)}" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
            f'<text x="0" y="12">{escape(label)}, peak {peak}</text>{rects}'
            f'<line x1="0" x2="{width}" y1="{20 + plot}" y2="{20 + plot}" class="axis"/>{ticks}</svg>')


def time_chart(chart_id: str, days: Mapping[str, int], what: str = "articles",
               empty: str = "Nothing to draw.") -> str:
    """Counts per day on a real time axis (per day, week or month by the span)."""
    unit, bins = time_bins(days)
    return bar_chart(chart_id, f"{what} per {unit}", [(start.isoformat(), count) for start, count in bins],
                     _ticks(bins, unit), empty=empty)


def line_chart(chart_id: str, label: str, xs: Sequence[str], series: Mapping[str, Sequence[float | None]],
               top: float = 100.0, width: int = 900, height: int = 260,
               empty: str = "Nothing to draw.") -> str:
    """An SVG line chart: one line per series (values 0-*top*, None for a gap) over the labels *xs*."""
    if not xs:
        return _empty(chart_id, empty)
    plot_w, plot_h, left = width - 160, height - 40, 30
    step = plot_w / max(len(xs) - 1, 1)

    def point(i: int, value: float) -> str:
        return f"{left + i * step:.1f},{20 + plot_h - plot_h * min(value, top) / top:.1f}"

    lines, legend = [], []
    for n, (name, values) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        points = " ".join(point(i, v) for i, v in enumerate(values) if v is not None)
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}" '
                     f'data-series="{escape(name)}"/>')
        # every value a dot too: a series of one run is a point, not an empty line
        dots = (point(i, v).split(",") for i, v in enumerate(values) if v is not None)
        lines += [f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}" data-series="{escape(name)}"/>'
                  for x, y in dots]
        legend.append(f'<text x="{width - 120}" y="{20 + 14 * n}" fill="{colour}">{escape(name)}</text>')
    labels = "".join(f'<text x="{left + i * step:.1f}" y="{height - 4}" text-anchor="middle">'
                     f"{escape(x)}</text>"
                     for i, x in enumerate(xs) if len(xs) <= 20 or i % (len(xs) // 20 + 1) == 0)
    grid = "".join(f'<text x="0" y="{24 + plot_h - plot_h * f:.1f}">{top * f:.0f}</text>'
                   for f in (0, 0.5, 1))
    return (f'<svg id="{escape(chart_id)}" class="chart lines" role="img" aria-label="{escape(label)}" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">{grid}{"".join(lines)}'
            f'{"".join(legend)}{labels}</svg>')
