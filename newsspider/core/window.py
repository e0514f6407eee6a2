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

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

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
    """
    text = value.strip().lower()
    today = today or date.today()
    try:
        if match := _RELATIVE.fullmatch(text):
            n, unit = int(match["n"]), match["unit"]
            if unit in "dw":
                return (today - timedelta(days=n * (7 if unit == "w" else 1))).isoformat()
            months = today.year * 12 + today.month - 1 - n * (12 if unit == "y" else 1)
            year, month = divmod(months, 12)
            return _clamped(year, month + 1, today.day).isoformat()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}|\d{8}", text):
            digits = text.replace("-", "")
            return date(int(digits[:4]), int(digits[4:6]), int(digits[6:])).isoformat()
    except ValueError:
        pass
    raise WindowError(f"{what}: not a day (YYYY-MM-DD, or 30d, 8w, 6m, 2y back from today): {value!r}")


def _clamped(year: int, month: int, day: int) -> date:
    """*day* of that month, or its last day."""
    while True:
        try:
            return date(year, month, day)
        except ValueError:
            day -= 1


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
