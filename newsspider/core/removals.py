"""Articles the site removed: what an answer says, when a removal is believed (pure; Scrapy's
exception class only).

A refresh that asks again for a stored article and is answered 404 or 410, or redirected to a page
that is not that article (the home page, a category), has seen the article *gone*; the crawl
component (:mod:`newsspider.crawl.removals`) turns that into a provisional, then confirmed, removal
(:mod:`newsspider.dataset.removals` keeps them).  A run where most of what it refreshed is gone
has met a broken or blocking site, not a mass removal: :func:`mass_removal` says so.
"""

from __future__ import annotations

import re

from scrapy.exceptions import IgnoreRequest

from newsspider.core.errors import NewsspiderError

__all__ = ["GONE_STATUSES", "ArticleGone", "RemovalSettingError", "how_gone", "mass_removal",
           "parse_duration", "parse_share"]

#: the statuses that say an article is no longer there
GONE_STATUSES = (404, 410)
#: below this many articles gone, a run is never read as a mass removal (a handful is checked by hand)
MASS_FLOOR = 5


class ArticleGone(NewsspiderError, IgnoreRequest):
    """A stored article the site no longer serves: a removal seen, never a failed page."""

    failure = "removed"

    def __init__(self, url: str, how: str) -> None:
        super().__init__(f"removed from the site ({how}): {url}")
        self.url = url
        self.how = how


class RemovalSettingError(NewsspiderError, ValueError):
    """A NEWSSPIDER_REMOVED_* setting that is not a value of its kind."""


def how_gone(status: int, redirect_target: str | None = None) -> str | None:
    """How an answer says an article is gone (``404``, ``410``, ``redirect:<target>``), else None.

    >>> how_gone(404), how_gone(410), how_gone(200), how_gone(301, "https://x.org/bnews/")
    ('404', '410', None, 'redirect:https://x.org/bnews/')
    """
    if status in GONE_STATUSES:
        return str(status)
    if redirect_target:
        return f"redirect:{redirect_target}"
    return None


def mass_removal(gone: int, checked: int, max_share: float) -> str | None:
    """The one line saying why a run's removals are not believed, else None: more than *max_share* of
    the *checked* stored articles answered gone (and at least :data:`MASS_FLOOR` of them).

    >>> print(mass_removal(20, 20, 0.2))  # doctest: +NORMALIZE_WHITESPACE
    20 of 20 refreshed articles answered as removed, more than 20%: the site is broken or refusing
    the crawler; no removal was marked
    >>> mass_removal(4, 35, 0.2) is None, mass_removal(4, 4, 0.2) is None, mass_removal(9, 10, 1.0) is None
    (True, True, True)
    """
    if gone < MASS_FLOOR or not checked or gone / checked <= max_share:
        return None
    return (f"{gone} of {checked} refreshed articles answered as removed, more than {max_share:.0%}: the "
            "site is broken or refusing the crawler; no removal was marked")


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: object, what: str = "NEWSSPIDER_REMOVED_CONFIRM") -> float:
    """Seconds from a number of seconds or a duration (``90s``, ``30m``, ``12h``, ``1d``, ``2w``).

    >>> parse_duration(86400), parse_duration("1.5"), parse_duration("12h"), parse_duration(" 2d ")
    (86400.0, 1.5, 43200.0, 172800.0)
    >>> parse_duration("soon")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    newsspider.core.removals.RemovalSettingError: NEWSSPIDER_REMOVED_CONFIRM: not a duration (...): 'soon'
    """
    text = str(value).strip().lower()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw]?)", text)
    if match is None:
        raise RemovalSettingError(f"{what}: not a duration (seconds, or 90s, 30m, 12h, 1d, 2w): {value!r}")
    return float(match[1]) * _UNITS.get(match[2] or "s", 1)


def parse_share(value: object, what: str = "NEWSSPIDER_REMOVED_MAX_SHARE") -> float:
    """A share of the articles, above 0 and at most 1.

    >>> parse_share("0.2"), parse_share(1)
    (0.2, 1.0)
    >>> parse_share("20%")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    newsspider.core.removals.RemovalSettingError: NEWSSPIDER_REMOVED_MAX_SHARE: not a share ...: '20%'
    """
    try:
        share = float(str(value))
    except ValueError:
        share = -1.0
    if not 0 < share <= 1:
        raise RemovalSettingError(f"{what}: not a share above 0 and at most 1: {value!r}")
    return share
