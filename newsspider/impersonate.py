"""A browser's TLS fingerprint for the crawl's requests (``--impersonate chrome``): curl_cffi.

A CDN judges a client by its TLS handshake as well as by its headers, and
Scrapy's (OpenSSL through Twisted, or Python's ssl through httpx) is no
browser's: a clearance earned by a browser (``--browser``) may then not hold
for plain requests.  With ``NEWSSPIDER_IMPERSONATE`` set to a curl_cffi
target (``chrome``, ``chrome152``, ``firefox``, ``safari``, …), every request
— direct or through a proxy, SOCKS included — is downloaded by the curl_cffi
download handler of Scrapy's download-handler incubator
(``scrapy-download-handlers-incubator``), whose TLS and HTTP/2 handshakes are
the browser's.  The request's own headers are sent as they are (the
User-Agent newsspider's, or the browser's that a clearance is bound to).

Needs the ``impersonate`` extra: ``pip install 'newsspider[impersonate]'``.
"""

from __future__ import annotations

import re
from importlib.util import find_spec
from typing import Any, ClassVar

__all__ = ["INSTALL", "ImpersonationUnavailable", "curl_proxy_failure", "impersonation_problem",
           "load_handler"]

#: how to get what --impersonate needs
INSTALL = "pip install 'newsspider[impersonate]'"
# SOCKS5 reply codes (RFC 1928), as curl quotes them: "cannot complete SOCKS5 connection to X. (5)"
_SOCKS_REPLIES = {1: "general failure", 2: "not allowed by the proxy", 3: "network unreachable",
                  4: "host unreachable", 5: "connection refused", 6: "TTL expired",
                  7: "command not supported", 8: "address type not supported"}


class ImpersonationUnavailable(RuntimeError):
    """``--impersonate`` cannot work here (curl_cffi missing, a browser it does not know)."""


def impersonation_problem(target: str) -> str | None:
    """Why ``--impersonate TARGET`` cannot work here, in one line, or ``None``."""
    if find_spec("curl_cffi") is None or find_spec("scrapy_download_handlers_incubator") is None:
        return f"--impersonate needs curl_cffi and Scrapy's download-handler incubator: {INSTALL}"
    import curl_cffi
    from curl_cffi.requests.impersonate import resolve_latest_browser_type

    known = curl_cffi.FingerprintManager.load_fingerprints()
    if resolve_latest_browser_type(target) not in known:
        families = sorted({re.sub(r"[\d_].*$", "", name) for name in known})
        return f"--impersonate {target!r}: not a browser curl_cffi knows (one of {', '.join(families)}, " \
               "or a version such as chrome136)"
    return None


def load_handler() -> type:
    """The download handler class (imported only when impersonating)."""
    from scrapy_download_handlers_incubator.handlers.curl_cffi import CurlCffiDownloadHandler

    class ImpersonatingHandler(CurlCffiDownloadHandler):  # type: ignore[misc]
        """The incubator's curl_cffi handler, used as newsspider's handler of every request."""

        experimental: ClassVar[bool] = False  # chosen on purpose: no "experimental" warning a crawl

    return ImpersonatingHandler


def curl_proxy_failure(cause: BaseException) -> str | None:
    """Why a request through a proxy failed because of the proxy, from a curl_cffi error, else ``None``.

    Tells apart what curl says (its error code, its message) as the other
    handler's errors are told apart (:func:`newsspider.proxies.proxy_failure`).

    >>> from curl_cffi.requests.exceptions import ConnectionError, ProxyError
    >>> curl_proxy_failure(ProxyError("curl: (97) User was rejected by the SOCKS5 server (1 2).", 97))
    'authentication failed'
    >>> curl_proxy_failure(ProxyError("curl: (97) cannot complete SOCKS5 connection to 127.0.0.1. (5)", 97))
    'could not reach the site: connection refused'
    >>> curl_proxy_failure(ConnectionError("curl: (7) CONNECT tunnel failed, response 407", 7))
    'authentication failed (HTTP 407)'
    >>> curl_proxy_failure(ConnectionError("curl: (7) Failed to connect to a:80 over proxy 127.0.0.1 after "
    ...                                    "0 ms: Could not connect to server", 7))
    'could not connect to the proxy'
    >>> curl_proxy_failure(ConnectionError("curl: (7) Failed to connect to a:80 after 0 ms", 7)) is None
    True
    """
    if not type(cause).__module__.startswith("curl_cffi"):
        return None
    code: Any = getattr(cause, "code", None)
    text = str(cause)
    if code == 5:
        return "the proxy's name does not resolve"
    if code == 97:
        if "rejected" in text or "authentication failed" in text.lower():
            return "authentication failed"
        if "No authentication method was acceptable" in text:
            return "authentication refused"
        if match := re.search(r"cannot complete SOCKS5 connection to .*?\((\d+)\)", text):
            return "could not reach the site: " + _SOCKS_REPLIES.get(int(match[1]), f"SOCKS reply {match[1]}")
        return "proxy error: " + re.sub(r"^.*?curl: \(\d+\)\s*", "", text).split(". See ")[0].rstrip(".")
    if match := re.search(r"CONNECT tunnel failed, response (\d+)", text):
        status = match[1]
        return (f"authentication failed (HTTP {status})" if status in ("401", "407")
                else f"the proxy failed (HTTP {status})")
    if code == 7 and " over proxy " in text:
        return "could not connect to the proxy"
    if code == 28 and " over proxy " in text and "Connection timed out" in text:
        return "timeout connecting to the proxy"
    return None
