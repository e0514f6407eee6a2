"""A browser's TLS fingerprint for the crawl's requests (``--impersonate chrome``): curl_cffi.

A CDN judges a client by its TLS handshake as well as by its headers, and
Scrapy's (OpenSSL through Twisted, plain libcurl for proxied requests) is no
browser's: a clearance earned by a browser (``--browser``) may then not hold
for plain requests.  With ``NEWSSPIDER_IMPERSONATE`` set to a curl_cffi
target (``chrome``, ``chrome152``, ``firefox``, ``safari``, …), every request
— direct or through a proxy, SOCKS included — is downloaded by the curl_cffi
download handler (:class:`newsspider.access.handler.RoutedHandler`), whose TLS and
HTTP/2 handshakes are then the browser's.  The request's own headers are
sent as they are (the User-Agent newsspider's, or the browser's that a
clearance is bound to).
"""

from __future__ import annotations

import re

from newsspider.core.errors import NewsspiderError

__all__ = ["ImpersonationUnavailable", "impersonation_problem"]


class ImpersonationUnavailable(NewsspiderError, RuntimeError):
    """``--impersonate`` names a browser curl_cffi does not know."""


def impersonation_problem(target: str) -> str | None:
    """Why ``--impersonate TARGET`` cannot work, in one line, or ``None``.

    >>> impersonation_problem("chrome") is None
    True
    >>> impersonation_problem("netscape")  # doctest: +ELLIPSIS
    "--impersonate 'netscape': not a browser curl_cffi knows (one of chrome, ..."
    """
    import curl_cffi
    from curl_cffi.requests.impersonate import resolve_latest_browser_type

    known = curl_cffi.FingerprintManager.load_fingerprints()
    if resolve_latest_browser_type(target) not in known:
        families = sorted({re.sub(r"[\d_].*$", "", name) for name in known})
        return f"--impersonate {target!r}: not a browser curl_cffi knows (one of {', '.join(families)}, " \
               "or a version such as chrome136)"
    return None
