"""Times as newsspider writes them: timestamps, file stamps, durations (pure; no Scrapy)."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["clock", "duration", "readable_time", "utc_now_iso", "utc_stamp"]


def utc_now_iso() -> str:
    """The current time as an ISO 8601 UTC timestamp with a ``Z`` suffix, to the second.

    >>> len(utc_now_iso()), utc_now_iso().endswith("Z")
    (20, True)
    """
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def utc_stamp() -> str:
    """The current UTC time for a file's name, to the second (``20250102T030405``).

    >>> len(utc_stamp()), utc_stamp()[8]
    (15, 'T')
    """
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")


def clock(seconds: float) -> str:
    """A duration as a clock shows it, for a crawl's ETA.

    >>> clock(42), clock(754), clock(7300)
    ('42s', '12m34s', '2h01m')
    """
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def duration(seconds: float) -> str:
    """A duration in one rounded unit, for an estimate.

    >>> duration(0.8), duration(90), duration(5400), duration(86400 * 40)
    ('1 s', '2 min', '1.5 h', '40.0 days')
    """
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def readable_time(value: str | None) -> str:
    """An ISO 8601 date or time as a Chinese reader reads it, to the minute, in the time it gives (the
    site's own clock for a publication time); "UTC" said when it is UTC (a capture time).  Anything else
    as it is.

    >>> readable_time("2020-01-01T12:30:00+08:00"), readable_time("2019-12-31T08:05:00")
    ('2020年1月1日 12:30', '2019年12月31日 08:05')
    >>> readable_time("2026-11-28T07:14:15Z"), readable_time("2020-03-04")
    ('2026年11月28日 07:14 UTC', '2020年3月4日')
    >>> readable_time("not a date"), readable_time(None)
    ('not a date', '')
    """
    if not value:
        return ""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return value
    day = f"{when.year}年{when.month}月{when.day}日"
    if len(value) <= len("2020-01-01"):
        return day
    zone = " UTC" if when.utcoffset() is not None and not when.utcoffset() else ""
    return f"{day} {when:%H:%M}{zone}"
