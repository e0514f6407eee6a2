"""Reaching the site through proxies: proxy URLs, the environment's proxies, a pool (the handler that
downloads through them: :mod:`newsspider.access.handler`).

Every request of a crawl goes through a proxy when proxies are given
(``--proxy`` / ``NEWSSPIDER_PROXIES``), or when the environment names one the
way curl reads it (``http_proxy``, ``https_proxy``, ``all_proxy``,
``no_proxy``, upper or lower case).  Proxied requests are downloaded by the
curl_cffi handler of Scrapy's download-handler incubator (libcurl: SOCKS5 and
HTTP proxies, CONNECT for ``https://``), which lets the proxy resolve the
site's name; direct requests by Scrapy's default handler
(:class:`~newsspider.access.handler.RoutedHandler`), or every request by the curl_cffi one with
``--impersonate`` (:mod:`newsspider.access.impersonate`).

:class:`ProxyRoute` (a downloader middleware) puts each request on a proxy of
the pool, in turn.  A proxy that fails (refused, a connect timeout, a wrong
password, a SOCKS or CONNECT error, a 5xx of its own) has the request retried
through the pool, not counted as a failed page; after
``NEWSSPIDER_PROXY_MAX_FAILURES`` failures in a row it is taken out for
``NEWSSPIDER_PROXY_BACKOFF`` seconds (doubling each time), with one warning
line.  When every proxy is out at once the crawl stops with one line
(``every proxy failed: ...``), its frontier kept for ``--resume``.  Proxies do
not change the politeness: requests wait in the site's download slot whatever
proxy carries them.  A password is typed as it is (``/``, ``@`` and ``:`` too: read as curl reads
it) and never printed: see :mod:`newsspider.core.credentials`.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK

from newsspider.core import meta
from newsspider.core import stats as keys
from newsspider.core.credentials import encode_userinfo, redact, split_userinfo
from newsspider.core.errors import NewsspiderError
from newsspider.core.failures import stop_crawl

__all__ = ["ProxyPool", "ProxyRoute", "ProxyUrlError", "environment_proxy",
           "parse_proxy", "proxy_failure"]

logger = logging.getLogger(__name__)

#: proxy schemes newsspider can use (libcurl's, less SOCKS4)
SCHEMES = ("http", "https", "socks5", "socks5h")
#: curl's port for a proxy URL without one
DEFAULT_PORT = 1080
#: request meta key of the proxy the pool put a request on (its URL, as given)
KEY = meta.PROXY_URL
#: request meta key counting how often the request was retried because its proxy failed
RETRIES = meta.PROXY_RETRIES


class ProxyUrlError(NewsspiderError, ValueError):
    """A proxy URL that cannot be used (its message says why, with the password hidden)."""


def parse_proxy(text: str, *, environment: bool = False) -> str:
    """A proxy URL, checked and completed (port 1080 by default, as in curl; the password, unencoded
    as users type it, up to the last ``@``), its user and password percent-encoded.

    A proxy given without a scheme is refused, with both spellings: the local
    proxy of a circumvention client is shown as ``127.0.0.1:1080`` and is most
    often SOCKS, which curl's reading (``http://``) gets wrong, late, as a site
    that cannot be reached.  The *environment*'s variables are read as curl
    reads them, ``http://`` by default (see :func:`environment_proxy`).

    >>> parse_proxy("socks5h://127.0.0.1:9050")
    'socks5h://127.0.0.1:9050'
    >>> parse_proxy("127.0.0.1:8787", environment=True)
    'http://127.0.0.1:8787'
    >>> parse_proxy("127.0.0.1:1080")
    Traceback (most recent call last):
    ...
    newsspider.access.proxies.ProxyUrlError: proxy '127.0.0.1:1080' has no scheme: is it SOCKS? ...
    >>> parse_proxy("alice:pw@127.0.0.1:1080")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    newsspider.access.proxies.ProxyUrlError: ... use socks5h://***@127.0.0.1:1080; an HTTP proxy: http://***@...
    >>> parse_proxy("SOCKS5://user:p%40ss@[::1]")
    'socks5://user:p%40ss@[::1]:1080'
    >>> parse_proxy("socks5h://alice:p/ss@w:rd@127.0.0.1:1080")
    'socks5h://alice:p%2Fss%40w%3Ard@127.0.0.1:1080'
    >>> parse_proxy("socks4://127.0.0.1:1080")
    Traceback (most recent call last):
    ...
    newsspider.access.proxies.ProxyUrlError: proxy 'socks4://127.0.0.1:1080': socks4 is not supported ...
    >>> parse_proxy("socks5h://bob:pw@:1080")
    Traceback (most recent call last):
    ...
    newsspider.access.proxies.ProxyUrlError: proxy 'socks5h://***@:1080': no host
    >>> parse_proxy("http://bob:p/w@127.0.0.1:80a")
    Traceback (most recent call last):
    ...
    newsspider.access.proxies.ProxyUrlError: proxy 'http://***@127.0.0.1:80a': bad port
    """
    raw = text.strip()
    shown = redact(raw)
    if not raw:
        raise ProxyUrlError("a proxy URL is empty")
    if not split_userinfo(raw)[0]:
        if not environment:
            raise ProxyUrlError(f"proxy {shown!r} has no scheme: is it SOCKS? use socks5h://{shown}; "
                                f"an HTTP proxy: http://{shown}")
        raw = f"http://{raw}"
    raw = encode_userinfo(raw)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ProxyUrlError(f"proxy {shown!r}: bad port") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ProxyUrlError(f"proxy {shown!r}: {scheme} is not supported (use socks5h, http or https)")
    if not parts.hostname:
        raise ProxyUrlError(f"proxy {shown!r}: no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ProxyUrlError(f"proxy {shown!r}: a proxy URL is scheme://[user:password@]host[:port]")
    netloc = parts.netloc if port is not None else f"{parts.netloc}:{DEFAULT_PORT}"
    return f"{scheme}://{netloc}"


def parse_proxies(texts: Iterable[str], *, environment: bool = False) -> list[str]:
    """Several proxy URLs (see :func:`parse_proxy`), each once, in their order.

    >>> parse_proxies(["socks5h://127.0.0.1:1080", "http://127.0.0.1:8787", "socks5h://127.0.0.1:1080"])
    ['socks5h://127.0.0.1:1080', 'http://127.0.0.1:8787']
    """
    return list(dict.fromkeys(parse_proxy(text, environment=environment) for text in texts if text.strip()))


def _env(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name) or environ.get(name.upper()) or ""


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether *no_proxy* (curl's: ``*``, or host names, domains and IP addresses) covers *host*.

    >>> _bypassed("www.bannedbook.org", "localhost,.bannedbook.org")
    True
    >>> _bypassed("bannedbook.org", "bannedbook.org")
    True
    >>> _bypassed("notbannedbook.org", "bannedbook.org")
    False
    >>> _bypassed("127.0.0.1", "*")
    True
    """
    host = host.lower().rstrip(".")
    for entry in (e.strip().lower().rstrip(".") for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        entry = entry.lstrip(".")
        if host == entry or host.endswith("." + entry):
            return True
    return False


def environment_proxy(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy the environment names for *url*, as curl reads it; ``None`` to go direct.

    ``<scheme>_proxy`` first, then ``all_proxy``; ``no_proxy`` lists the hosts
    reached directly.  Lower case wins over upper case.

    >>> env = {"https_proxy": "socks5h://127.0.0.1:1080", "ALL_PROXY": "127.0.0.1:8787",
    ...        "no_proxy": "localhost"}
    >>> environment_proxy("https://www.bannedbook.org/bnews/", env)
    'socks5h://127.0.0.1:1080'
    >>> environment_proxy("http://www.bannedbook.org/bnews/", env)
    'http://127.0.0.1:8787'
    >>> environment_proxy("http://localhost:8000/", env) is None
    True
    >>> environment_proxy("http://www.bannedbook.org/", {}) is None
    True
    """
    environ = os.environ if environ is None else environ
    parts = urlsplit(url)
    if _bypassed(parts.hostname or "", _env(environ, "no_proxy")):
        return None
    value = _env(environ, f"{parts.scheme}_proxy") or _env(environ, "all_proxy")
    return parse_proxy(value, environment=True) if value else None


def environment_proxies(environ: Mapping[str, str] | None = None) -> list[str]:
    """Every proxy the environment names (checked: a bad one raises :class:`ProxyUrlError`).

    >>> environment_proxies({"http_proxy": "127.0.0.1:8787", "HTTPS_PROXY": "127.0.0.1:8787"})
    ['http://127.0.0.1:8787']
    """
    environ = os.environ if environ is None else environ
    return parse_proxies((_env(environ, name) for name in ("http_proxy", "https_proxy", "all_proxy")),
                         environment=True)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


#: why an ``http://`` proxy failed that does not speak HTTP: a SOCKS proxy answers an HTTP request with
#: bytes curl reads as HTTP/0.9, and closes a CONNECT (a proxy given without a scheme in the
#: environment is ``http://``, as curl reads it)
NOT_HTTP = "no HTTP proxy answers there"

# SOCKS5 reply codes (RFC 1928), as curl quotes them: "cannot complete SOCKS5 connection to X. (5)"
_SOCKS_REPLIES = {1: "general failure", 2: "not allowed by the proxy", 3: "network unreachable",
                  4: "host unreachable", 5: "connection refused", 6: "TTL expired",
                  7: "command not supported", 8: "address type not supported"}


def proxy_failure(exc: BaseException) -> str | None:
    """Why a request sent through a proxy failed *because of the proxy*, else ``None``.

    The curl_cffi handler raises Scrapy's exceptions ``from`` curl's, whose
    error code and message say who is to blame: the proxy when curl could not
    connect to it, when it turned the client away (password, SOCKS or CONNECT
    error), or when it could not reach the site; a timeout once connected, or
    an error of the site's answer, is the page's.

    >>> from curl_cffi.requests.exceptions import ConnectionError, ProxyError
    >>> from scrapy.exceptions import DownloadConnectionRefusedError
    >>> def raised(exc):
    ...     try:
    ...         raise DownloadConnectionRefusedError(str(exc)) from exc
    ...     except DownloadConnectionRefusedError as wrapped:
    ...         return wrapped
    >>> proxy_failure(raised(ConnectionError("curl: (7) Failed to connect to a:80 over proxy 127.0.0.1 "
    ...                                      "after 0 ms: Could not connect to server", 7)))
    'could not connect to the proxy'
    >>> proxy_failure(raised(ProxyError("curl: (97) User was rejected by the SOCKS5 server (1 2).", 97)))
    'authentication failed'
    >>> proxy_failure(raised(ProxyError("curl: (97) cannot complete SOCKS5 connection to 1.2.3.4. (4)", 97)))
    'could not reach the site: host unreachable'
    >>> proxy_failure(raised(ConnectionError("curl: (7) CONNECT tunnel failed, response 407", 7)))
    'authentication failed (HTTP 407)'
    >>> proxy_failure(raised(ConnectionError("curl: (7) Failed to connect to a:80 after 0 ms", 7))) is None
    True
    >>> proxy_failure(raised(ProxyError("curl: (56) Proxy CONNECT aborted", 56)))
    'no HTTP proxy answers there'
    """
    for cause in _causes(exc):
        if type(cause).__module__.startswith("curl_cffi") and (reason := _curl_reason(cause)):
            return reason
    return None


def _connection_died(exc: BaseException) -> bool:
    """Whether curl gave up on connections its pool held that the proxy had closed (error 55:
    tinyproxy closes each forwarded connection without saying so).

    >>> from curl_cffi.requests.exceptions import ConnectionError
    >>> _connection_died(ConnectionError("curl: (55) Connection died, tried 5 times before giving up", 55))
    True
    """
    return any(type(c).__module__.startswith("curl_cffi") and getattr(c, "code", None) == 55
               and "Connection died" in str(c) for c in _causes(exc))


def _curl_reason(cause: BaseException) -> str | None:
    code = getattr(cause, "code", None)
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
    if (code == 1 and "HTTP/0.9" in text) or (code == 56 and "Proxy CONNECT aborted" in text):
        return NOT_HTTP
    if code == 7 and " over proxy " in text:
        return "could not connect to the proxy"
    if code == 28 and " over proxy " in text and "Connection timed out" in text:
        return "timeout connecting to the proxy"
    return None


@dataclass
class _State:
    """What the pool knows of one proxy."""

    url: str
    failures_in_row: int = 0
    times_out: int = 0
    out_until: float = 0.0
    last_reason: str = ""
    requests: int = 0
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return redact(self.url)


class ProxyPool:
    """Proxies taken in turn; one that keeps failing is out for a while (pure bookkeeping).

    >>> pool = ProxyPool(["socks5h://a:1080", "socks5h://b:1080"], max_failures=1, backoff=60)
    >>> [pool.choose(now=0) for _ in range(3)]
    ['socks5h://a:1080', 'socks5h://b:1080', 'socks5h://a:1080']
    >>> pool.failed("socks5h://a:1080", "connection refused", now=0)
    True
    >>> [pool.choose(now=1) for _ in range(2)], pool.all_out(now=1)
    (['socks5h://b:1080', 'socks5h://b:1080'], False)
    >>> pool.choose(now=61)
    'socks5h://a:1080'
    >>> pool.failed("socks5h://b:1080", "timeout connecting to the proxy", now=1)
    True
    >>> pool.all_out(now=2), pool.choose(now=2) is None
    (True, True)
    """

    def __init__(self, urls: Sequence[str], max_failures: int = 3, backoff: float = 60.0,
                 max_backoff: float = 1800.0) -> None:
        self.states = {url: _State(url) for url in urls}
        self.max_failures = max(1, max_failures)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._turn = itertools.cycle(list(self.states))

    def __len__(self) -> int:
        return len(self.states)

    def live(self, now: float | None = None) -> list[str]:
        now = time.monotonic() if now is None else now
        return [url for url, state in self.states.items() if state.out_until <= now]

    def all_out(self, now: float | None = None) -> bool:
        return not self.live(now)

    def choose(self, candidates: Sequence[str] | None = None, now: float | None = None) -> str | None:
        """The next live proxy (among *candidates*, default all); ``None`` when every one is out."""
        now = time.monotonic() if now is None else now
        allowed = set(self.states) if candidates is None else set(candidates)
        for _ in range(len(self.states)):
            url = next(self._turn)
            if url in allowed and self.states[url].out_until <= now:
                self.states[url].requests += 1
                return url
        return None

    def succeeded(self, url: str) -> None:
        state = self.states.get(url)
        if state is not None:
            state.failures_in_row = 0

    def failed(self, url: str, reason: str, now: float | None = None) -> bool:
        """Count a failure of *url*; True when it is taken out by it."""
        state = self.states[url]
        now = time.monotonic() if now is None else now
        state.failures[reason] = state.failures.get(reason, 0) + 1
        state.last_reason = reason
        if state.out_until > now:  # already out: requests that were in flight
            return False
        state.failures_in_row += 1
        if state.failures_in_row < self.max_failures:
            return False
        state.failures_in_row = 0
        state.times_out += 1
        state.out_until = now + self.seconds_out(url)
        return True

    def seconds_out(self, url: str) -> float:
        """How long *url* is out after its latest failure (doubling with each time out)."""
        times = max(1, self.states[url].times_out)
        return min(self.max_backoff, self.backoff * 2 ** (times - 1))

    def summary(self) -> str:
        """Each proxy with the reason of its last failure, for the one line of a crawl that stopped.

        >>> pool = ProxyPool(["socks5h://u:p@127.0.0.1:1080"])
        >>> _ = pool.failed("socks5h://u:p@127.0.0.1:1080", "connection refused")
        >>> pool.summary()
        'socks5h://***@127.0.0.1:1080 (connection refused)'
        """
        return ", ".join(f"{s.name} ({_with_hint(s.name, s.last_reason) or 'out'})"
                         for s in self.states.values())


def _with_hint(name: str, reason: str) -> str:
    """*reason* of the proxy *name*, with what to try when it is a SOCKS proxy given as an HTTP one.

    >>> _with_hint("http://***@127.0.0.1:1080", NOT_HTTP)
    'no HTTP proxy answers there: is it SOCKS? try socks5h://***@127.0.0.1:1080'
    >>> _with_hint("http://127.0.0.1:1080", "could not connect to the proxy")
    'could not connect to the proxy'
    """
    if reason != NOT_HTTP:
        return reason
    return f"{reason}: is it SOCKS? try socks5h://{name.split('://', 1)[-1]}"


class ProxyRoute:
    """Downloader middleware: every request on a proxy of the pool; a failing proxy's requests
    retried through the others (see the module's docstring)."""

    def __init__(self, crawler: Crawler, proxies: Sequence[str], from_environment: bool,
                 max_failures: int, backoff: float) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.from_environment = from_environment
        self.pool = ProxyPool(proxies, max_failures=max_failures, backoff=backoff)
        self.max_retries = max(3, 2 * len(proxies))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProxyRoute:
        settings = crawler.settings
        proxies = parse_proxies(settings.getlist("NEWSSPIDER_PROXIES"))
        from_environment = not proxies and settings.getbool("NEWSSPIDER_PROXY_FROM_ENV")
        if from_environment:
            proxies = environment_proxies()
        if not proxies:
            raise NotConfigured
        route = cls(crawler, proxies, from_environment, settings.getint("NEWSSPIDER_PROXY_MAX_FAILURES"),
                    settings.getfloat("NEWSSPIDER_PROXY_BACKOFF"))
        logger.info("through %s: %s", "the environment's proxy" if from_environment and len(proxies) == 1
                    else f"{len(proxies)} proxies" if len(proxies) > 1 else "proxy",
                    ", ".join(redact(p) for p in proxies))
        return route

    def _candidates(self, request: Request) -> list[str] | None:
        """The proxies that may carry *request*: all of the pool, or the one the environment names."""
        if not self.from_environment:
            return None
        proxy = environment_proxy(request.url)
        return [proxy] if proxy else []

    def process_request(self, request: Request) -> Request | None:
        candidates = self._candidates(request)
        if candidates == []:  # no_proxy: direct
            request.meta.pop("proxy", None)
            request.meta.pop(KEY, None)
            return None
        proxy = self.pool.choose(candidates)
        if proxy is None:  # every proxy is out: the crawl stops, the request waits in the frontier
            self._every_proxy_failed()
            return self._back_to_frontier(request)
        request.meta["proxy"] = proxy
        request.meta[KEY] = proxy
        self.stats.inc_value(keys.proxy(redact(proxy), "requests"))
        return None

    def process_response(self, request: Request, response: Response) -> Request | Response:
        meta.refilter_redirect(request, response)  # a retry's redirect: filtered as usual
        proxy = request.meta.get(KEY)
        if proxy is None:
            return response
        if reason := _proxy_answer(response):
            retry = self._proxy_failed(request, proxy, reason)
            return retry if retry is not None else response
        self.pool.succeeded(proxy)
        return response

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        proxy = request.meta.get(KEY)
        if proxy is None:
            return None
        if _connection_died(exception):  # a kept-alive connection the proxy had closed: not its failure
            return self._reconnect(request, proxy)
        reason = proxy_failure(exception)
        if reason is None:
            return None
        return self._proxy_failed(request, proxy, reason)

    def _reconnect(self, request: Request, proxy: str) -> Request | None:
        """*request* again (on a new connection), counted as ``failed/connection_died`` of the proxy but
        not against it; after the pool's retries, the page's own retries take over."""
        self.stats.inc_value(keys.proxy(redact(proxy), "failed/connection_died"))
        retries = int(request.meta.get(RETRIES, 0))
        if retries >= self.max_retries:
            return None
        return _unrouted(request, retries + 1)

    def _proxy_failed(self, request: Request, proxy: str, reason: str) -> Request | None:
        """Count the proxy's failure; the request again for another proxy (None: give up on it)."""
        name = redact(proxy)
        self.stats.inc_value(keys.proxy(name, f"failed/{_stat_name(reason)}"))
        self.stats.inc_value(keys.PROXY_FAILURES)
        if self.pool.failed(proxy, reason):
            live = len(self.pool.live())
            logger.warning("proxy %s failed (%s): out for %.0f s; %s", name, reason,
                           self.pool.seconds_out(proxy),
                           f"{live} of {len(self.pool)} proxies left" if len(self.pool) > 1
                           else "no other proxy")
        if self.pool.all_out():
            self._every_proxy_failed()
            return self._back_to_frontier(request)
        retries = int(request.meta.get(RETRIES, 0))
        if retries >= self.max_retries:
            self.stats.inc_value(keys.PROXY_RETRIES_EXHAUSTED)
            return None
        self.stats.inc_value(keys.PROXY_RETRIES)
        return _unrouted(request, retries + 1)

    def _every_proxy_failed(self) -> None:
        stop_crawl(self.crawler, "proxies_failed", f"every proxy failed: {self.pool.summary()}")

    @staticmethod
    def _back_to_frontier(request: Request) -> Request:
        """*request* again, to wait in the frontier (kept for ``--resume``) while the crawl stops; a
        robots.txt request, which the frontier does not hold, is dropped instead."""
        if request.callback is NO_CALLBACK:
            raise IgnoreRequest("every proxy failed")
        return _unrouted(request, int(request.meta.get(RETRIES, 0)))


def _unrouted(request: Request, retries: int) -> Request:
    """A copy of *request* for the pool to route again (past the duplicate filter, which has its URL;
    a redirect made from it is filtered as one from *request* would be: see ProxyRoute)."""
    retry = meta.retry_past_filter(request)
    retry.meta[RETRIES] = retries
    retry.meta.pop(KEY, None)
    retry.meta.pop("proxy", None)
    return retry


def _stat_name(reason: str) -> str:
    """A failure reason as a stats key part.

    >>> _stat_name("could not reach the site: host unreachable")
    'could_not_reach_the_site_host_unreachable'
    """
    return re.sub(r"[^a-z0-9]+", "_", reason.lower()).strip("_")


def _proxy_answer(response: Response) -> str | None:
    """Why the proxy answered a forwarded request itself (a 407, or a 401, 403 or 5xx page of its
    own), else ``None``."""
    status = response.status
    if status == 407 or ((status in (401, 403) or status >= 500) and _from_proxy(response)):
        return ("authentication failed" if status in (401, 407) else "refused by the proxy" if status == 403
                else "the proxy failed") + f" (HTTP {status})"
    return None


def _from_proxy(response: Response) -> bool:
    """Whether a 5xx answer (tinyproxy's "500 Unable to connect", a 502) was written by the proxy
    (RFC 9209's ``Proxy-Status``, or a proxy's own error page naming itself), not passed on from
    the site."""
    headers = response.headers
    if headers.get("Proxy-Status") or headers.get("X-Squid-Error"):
        return True
    server = (headers.get("Server") or b"").decode("latin-1").lower()
    return any(name in server for name in ("tinyproxy", "squid", "privoxy", "polipo"))
