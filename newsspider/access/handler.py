"""The download handler of ``http`` and ``https``: proxied requests through curl_cffi, direct ones through
Scrapy's default handler, every one within its deadlines."""

from __future__ import annotations

from scrapy import Request
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.misc import build_from_crawler

# The incubator's handlers use private Scrapy APIs; its 0.7 releases, which pyproject.toml pins,
# support Scrapy 2.19 (scrapy/scrapy#747: no SOCKS in Scrapy's default handler).
from scrapy_download_handlers_incubator.handlers.curl_cffi import CurlCffiDownloadHandler

from newsspider.access.deadlines import Deadlines
from newsspider.core import meta

__all__ = ["ProxiedHandler", "RoutedHandler"]


class ProxiedHandler(CurlCffiDownloadHandler):  # type: ignore[misc]
    """The incubator's curl_cffi download handler, not marked experimental: the warning it logs at
    every start is no one's to act on (newsspider's tests run every kind of proxy through it)."""

    experimental = False


class RoutedHandler(BaseDownloadHandler):
    """Download handler for ``http`` and ``https``: proxied requests through the curl_cffi handler
    (SOCKS5, HTTP and HTTPS proxies, the name resolved by the proxy), direct ones through Scrapy's
    default handler, as if no proxy were configured; with ``NEWSSPIDER_IMPERSONATE``, every request
    through the curl_cffi handler, presenting that browser's TLS fingerprint.  Either way within the
    download's deadlines (:mod:`newsspider.access.deadlines`)."""

    lazy = False

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.impersonating = bool(crawler.settings.get("NEWSSPIDER_IMPERSONATE"))
        self._proxied: ProxiedHandler | None = None
        self.deadlines = Deadlines(crawler)
        self.direct: BaseDownloadHandler = (self.proxied if self.impersonating
                                            else build_from_crawler(HTTP11DownloadHandler, crawler))

    @property
    def proxied(self) -> ProxiedHandler:
        """The curl_cffi handler, built for the first request that needs it."""
        if self._proxied is None:
            self._proxied = build_from_crawler(ProxiedHandler, self.crawler)
        return self._proxied

    async def download_request(self, request: Request) -> Response:
        handler = self.proxied if request.meta.get(meta.PROXY) else self.direct
        return await self.deadlines.download(request, handler.download_request(request))

    async def close(self) -> None:
        if not self.impersonating:
            await self.direct.close()
        if self._proxied is not None:
            await self._proxied.close()
