"""Bot challenges recognised (pure: a response's status, headers and first bytes), and what passing one
earns. The downloader middleware that passes them is :mod:`newsspider.access.clearance`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from scrapy.exceptions import IgnoreRequest

from newsspider.core.errors import NewsspiderError

__all__ = ["MAX_TRIES", "Challenged", "Clearance", "challenge_of", "with_cookies"]

#: times one request may be challenged again after a clearance before it fails as ``challenge``
MAX_TRIES = 3

# The pages of the common CDNs' challenges (looked for only in a 403/429/503 answer's first bytes).
_PAGES = {
    "cloudflare": (b"<title>Just a moment...</title>", b"/cdn-cgi/challenge-platform/",
                   b"cf-browser-verification", b"cf_chl_opt"),
    "ddos-guard": (b"ddos-guard.net/", b"DDoS-Guard"),
    "sucuri": (b"sucuri_cloudproxy_js",),
    "imperva": (b"_Incapsula_Resource", b"Incapsula incident ID"),
    "akamai": (b"/_sec/cp_challenge/",),
}


def challenge_of(status: int, headers: Mapping[str, str], body: bytes) -> str | None:
    """Which CDN's bot challenge a response is (``cloudflare``, ``ddos-guard``, …), or ``None``.

    *headers* are looked up by lower-case name.

    >>> challenge_of(403, {"cf-mitigated": "challenge", "server": "cloudflare"}, b"")
    'cloudflare'
    >>> challenge_of(503, {"server": "cloudflare"}, b"<html><title>Just a moment...</title>")
    'cloudflare'
    >>> challenge_of(403, {"server": "cloudflare"}, b"<h1>Access denied</h1> Error 1020")  # a block
    >>> challenge_of(200, {"server": "cloudflare"}, b"<title>Just a moment...</title>")  # an article
    >>> challenge_of(403, {"server": "nginx"}, b"<p>Forbidden</p>")
    """
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return "cloudflare"
    if status not in (403, 429, 503):
        return None
    head = body[:16384]
    for name, marks in _PAGES.items():
        if any(mark in head for mark in marks):
            return name
    return None


def with_cookies(header: str | None, cookies: Mapping[str, str]) -> str:
    """A ``Cookie`` header with *cookies* set in it (replacing cookies of the same names).

    >>> with_cookies("a=1; cf_clearance=old", {"cf_clearance": "new"})
    'a=1; cf_clearance=new'
    >>> with_cookies(None, {"cf_clearance": "x", "__cf_bm": "y"})
    'cf_clearance=x; __cf_bm=y'
    """
    kept = [part.strip() for part in (header or "").split(";")
            if part.strip() and part.split("=", 1)[0].strip() not in cookies]
    return "; ".join([*kept, *(f"{name}={value}" for name, value in cookies.items())])


class Challenged(NewsspiderError, IgnoreRequest):
    """A page that stayed behind a bot challenge (failure reason ``challenge``)."""

    failure = "challenge"


@dataclass(frozen=True)
class Clearance:
    """What a browser earned by passing a challenge: its cookies and the User-Agent they are bound to."""

    number: int
    cookies: dict[str, str]
    user_agent: str
    obtained_at: float = field(default_factory=time.monotonic)
