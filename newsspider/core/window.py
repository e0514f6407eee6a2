"""A window of time for a crawl: ``--since`` / ``--until`` (``NEWSSPIDER_SINCE`` / ``_UNTIL``).

Article URLs carry their day (``/bnews/<category>/<YYYYMMDD>/<id>.html``), so
the spider tells an article outside the window from its URL and never requests
it; listings are newest first, so a listing page that lists only articles older
than the window ends that listing's pagination, and one that lists only
articles newer than it sends the crawl ahead to the first page that reaches
the window (:mod:`newsspider.spiders.bannedbook`).  Days are compared as
``YYYY-MM-DD`` text.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import date

from newsspider.core.errors import NewsspiderError

__all__ = ["Window", "WindowError", "parse_day"]

_RELATIVE = re.compile(r"(?P<n>\d+)\s*(?P<unit>[dwmy])")


class WindowError(NewsspiderError, ValueError):
    """A ``--since`` / ``--until`` value that is not a day."""


def parse_day(value: str, today: date | None = None, what: str = "--since") -> str:
    """A day as ``YYYY-MM-DD`` from ``YYYY-MM-DD`` (or ``YYYYMMDD``), or from a span back from *today*:
    ``30d`` (days), ``8w`` (weeks), ``6m`` (months), ``2y`` (years).

    >>> parse_day("2024-01-01"), parse_day("20240101")
    ('2024-01-01', '2024-01-01')
    >>> today = date(2026, 3, 31)
    >>> [parse_day(v, today) for v in ("30d", "1w", "1m", "13m", "2y", "0d")]
    ['2026-03-01', '2026-03-24', '2026-02-28', '2025-02-28', '2024-03-31', '2026-03-31']
    >>> parse_day("2024-02-30", what="--until")
    Traceback (most recent call last):
    ...
    newsspider.core.window.WindowError: --until: not a day (YYYY-MM-DD, or 30d, 8w, 6m, 2y back...
    >>> parse_day("2100y", today)  # a span back past the calendar's first year
    Traceback (most recent call last):
    ...
    newsspider.core.window.WindowError: --since: 2100y goes back before year 1
    >>> parse_day("99999999d", today)
    Traceback (most recent call last):
    ...
    newsspider.core.window.WindowError: --since: 99999999d goes back before year 1
    >>> parse_day("2025y", today), parse_day("739705d", today)
    ('0001-03-31', '0001-01-01')
    """
    text = value.strip().lower()
    today = today or date.today()
    if match := _RELATIVE.fullmatch(text):
        n, unit = int(match["n"]), match["unit"]
        if unit in "dw":
            ordinal = today.toordinal() - n * (7 if unit == "w" else 1)
            if ordinal >= 1:
                return date.fromordinal(ordinal).isoformat()
        else:
            year, month = divmod(today.year * 12 + today.month - 1 - n * (12 if unit == "y" else 1), 12)
            if year >= 1:
                return _clamped(year, month + 1, today.day).isoformat()
        raise WindowError(f"{what}: {value.strip()} goes back before year 1")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}|\d{8}", text):
        digits = text.replace("-", "")
        with suppress(ValueError):
            return date(int(digits[:4]), int(digits[4:6]), int(digits[6:])).isoformat()
    raise WindowError(f"{what}: not a day (YYYY-MM-DD, or 30d, 8w, 6m, 2y back from today): {value!r}")


def _clamped(year: int, month: int, day: int) -> date:
    """*day* of that month, or its last day (*year* 1 to 9999, *month* 1 to 12).

    >>> _clamped(2023, 2, 31), _clamped(2024, 2, 30)
    (datetime.date(2023, 2, 28), datetime.date(2024, 2, 29))
    """
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Window:
    """The days a crawl keeps, both ends included; an empty end is open.

    >>> w = Window("2024-01-01", "2024-12-31")
    >>> [w.contains(d) for d in ("2023-12-31", "2024-06-01", "2025-01-01", "")]
    [False, True, False, True]
    >>> bool(Window()), str(w), str(Window(since="2024-01-01"))
    (False, '2024-01-01..2024-12-31', '2024-01-01..')
    """

    since: str = ""
    until: str = ""

    @classmethod
    def from_settings(cls, since: str | None, until: str | None, today: date | None = None) -> Window:
        """The window of the settings' values (days or spans back from *today*), checked."""
        window = cls(parse_day(since, today, "--since") if since else "",
                     parse_day(until, today, "--until") if until else "")
        if window.since and window.until and window.since > window.until:
            raise WindowError(f"--since {window.since} is after --until {window.until}")
        return window

    def __bool__(self) -> bool:
        return bool(self.since or self.until)

    def words(self) -> str:
        """The window in words; empty without one.

        >>> Window("2024-01-01").words(), Window(until="2020-06-30").words()
        ('since 2024-01-01', 'until 2020-06-30')
        >>> Window("2019-03-01", "2020-06-30").words(), Window().words()
        ('from 2019-03-01 to 2020-06-30', '')
        """
        if self.since and self.until:
            return f"from {self.since} to {self.until}"
        return f"since {self.since}" if self.since else f"until {self.until}" if self.until else ""

    def __str__(self) -> str:
        return f"{self.since}..{self.until}"

    def contains(self, day: str) -> bool:
        """Whether an article of *day* is kept (one without a day is)."""
        return not day or ((not self.since or day >= self.since) and (not self.until or day <= self.until))

    def older(self, day: str) -> bool:
        return bool(day and self.since and day < self.since)

    def newer(self, day: str) -> bool:
        return bool(day and self.until and day > self.until)

    def page_is_older(self, days: Iterable[str]) -> bool:
        """Whether a listing page of articles of *days* lists only articles older than the window
        (its pagination can only go further back).  A page without days, or with one, is not.

        >>> w = Window(since="2024-01-01")
        >>> w.page_is_older(["2023-05-01", "2023-04-30"]), w.page_is_older(["2024-01-01", "2023-12-31"])
        (True, False)
        >>> w.page_is_older([]), w.page_is_older(["2023-05-01", ""]), Window().page_is_older(["1999-01-01"])
        (False, False, False)
        """
        days = list(days)
        return bool(days) and all(self.older(day) for day in days)

    def page_is_newer(self, days: Iterable[str]) -> bool:
        """Whether a listing page lists only articles newer than the window (the window is further on).

        >>> w = Window(until="2019-12-31")
        >>> w.page_is_newer(["2021-01-01", "2020-01-01"]), w.page_is_newer(["2020-01-01", "2019-12-31"])
        (True, False)
        """
        days = list(days)
        return bool(days) and all(self.newer(day) for day in days)

    def expected(self, days: list[str], last_page: int | None, only_page: bool, listed: int) -> int | None:
        """The articles of the window a listing leads to, from its first page (articles of *days*,
        *listed* of them in the window): the page's pace of articles a day over the window's days,
        or a page's worth times the last page the pagination shows; None when it cannot tell.

        >>> page = ["2024-03-10"] * 10 + ["2024-03-01"] * 10  # 20 in 9 days, over 70 days
        >>> Window(since="2024-01-01").expected(page, None, False, 20)
        156
        >>> Window().expected(["2024-03-10"] * 20, 50, False, 20), Window().expected(["x"], None, True, 1)
        (1000, 1)
        >>> Window().expected(["2024-03-10"] * 20, None, False, 20) is None
        True
        """
        if only_page:
            return listed
        per_page = len(days)
        if self.since and days and all(days):
            newest = min(max(days), self.until) if self.until else max(days)
            spread = (date.fromisoformat(max(days)) - date.fromisoformat(min(days))).days
            if spread:
                span = (date.fromisoformat(newest) - date.fromisoformat(self.since)).days + 1
                estimate = max(round(per_page * span / spread), 0)
                return min(estimate, per_page * last_page) if last_page else estimate
        if last_page and not self:
            return per_page * last_page
        return None

    def record(self) -> dict[str, str] | None:
        """The window as the run record keeps it (None: the whole site)."""
        return {"since": self.since, "until": self.until} if self else None
