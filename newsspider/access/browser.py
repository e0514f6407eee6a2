"""The headless browser that passes bot challenges (``--browser``): Playwright driving a Chromium.

It is asked for one thing, :meth:`ClearanceBrowser.clear`: open a challenged
URL, let the page's script run until the site serves the page itself, and
return the cookies it was given and the User-Agent they are bound to.  It
does not fetch the crawl's pages (the approach of FlareSolverr): the crawl
goes on over plain HTTP with what it returns.

The browser runs a stranger's script, so each clearance gets a fresh
browser context (an empty, in-memory profile, closed afterwards), downloads
are refused, service workers blocked, and images, media and fonts not
loaded.  Chromium's sandbox is on, except as root, where Chromium refuses it
(one warning line).  Chromium is found on the ``PATH`` (Debian's
``chromium``) unless ``NEWSSPIDER_BROWSER_PATH`` names one; failing both,
Playwright's own (``playwright install chromium``).

Needs the ``browser`` extra: ``pip install 'newsspider[browser]'``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from importlib.util import find_spec
from typing import Any
from urllib.parse import unquote, urlsplit

from scrapy.settings import BaseSettings

from newsspider.access.challenges import challenge_of
from newsspider.core.errors import NewsspiderError

__all__ = ["INSTALL", "BrowserUnavailable", "ClearanceBrowser", "browser_proxy", "find_chromium",
           "missing_browser"]

logger = logging.getLogger(__name__)

#: how to get what --browser needs
INSTALL = "pip install 'newsspider[browser]'"
# What Chromium needs on a machine with no outside network but the site's (no update checks, no sync).
_ARGS = ["--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--disable-gpu", "--disable-dev-shm-usage"]
_HEAVY = {"image", "media", "font"}


class BrowserUnavailable(NewsspiderError, RuntimeError):
    """``--browser`` cannot work on this machine (no Playwright, no Chromium, a proxy it cannot use)."""


def find_chromium(configured: str = "") -> str | None:
    """The Chromium to run: *configured* if given, else the first on the ``PATH``, else ``None``
    (Playwright's own)."""
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


def missing_browser(settings: BaseSettings, proxies: list[str]) -> str | None:
    """Why ``--browser`` cannot work here, in one line, or ``None``.

    Checked before anything is fetched: Playwright installed, a Chromium to
    run, and no SOCKS proxy with a password (Chromium cannot use one).
    """
    if find_spec("playwright") is None:
        return f"--browser needs Playwright, which is not installed: {INSTALL}"
    configured = settings.get("NEWSSPIDER_BROWSER_PATH") or ""
    if configured and not os.access(configured, os.X_OK):
        return f"NEWSSPIDER_BROWSER_PATH: {configured} is not a program that can be run"
    if not configured and find_chromium() is None and not _playwright_chromium():
        return ("--browser found no Chromium: install one (apt-get install chromium, or playwright install "
                "chromium) or name it with -s NEWSSPIDER_BROWSER_PATH=...")
    for proxy in proxies:
        if urlsplit(proxy).scheme.startswith("socks") and urlsplit(proxy).password:
            from newsspider.core.credentials import redact

            return (f"--browser cannot go through {redact(proxy)}: Chromium does not support SOCKS proxies "
                    "with a password (use one without, or an HTTP proxy)")
    return None


def _playwright_chromium() -> bool:
    """Whether Playwright has downloaded a Chromium of its own (``playwright install chromium``)."""
    folder = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or os.path.expanduser("~/.cache/ms-playwright")
    return os.path.isdir(folder) and any(name.startswith("chromium") for name in os.listdir(folder))


def browser_proxy(url: str | None) -> dict[str, str] | None:
    """Playwright's proxy settings for a crawl's proxy URL (Chromium resolves names through SOCKS5).

    >>> browser_proxy("socks5h://127.0.0.1:1080")
    {'server': 'socks5://127.0.0.1:1080'}
    >>> browser_proxy("http://u%40x:p@10.0.0.7:3128")
    {'server': 'http://10.0.0.7:3128', 'username': 'u@x', 'password': 'p'}
    >>> browser_proxy(None) is None
    True
    """
    if not url:
        return None
    parts = urlsplit(url)
    scheme = "socks5" if parts.scheme.startswith("socks5") else parts.scheme
    proxy = {"server": f"{scheme}://{parts.hostname}:{parts.port}"}
    if parts.username:
        proxy.update(username=unquote(parts.username), password=unquote(parts.password or ""))
    return proxy


class ClearanceBrowser:
    """One headless Chromium for the crawl, started at the first challenge and closed with the crawl."""

    def __init__(self, timeout: float = 60.0, executable: str | None = None,
                 ignore_https_errors: bool = True) -> None:
        self.timeout = timeout
        self.executable = executable
        self.ignore_https_errors = ignore_https_errors
        self.sessions = 0
        self._playwright: Any = None
        self._browser: Any = None
        self._user_agent = ""

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> ClearanceBrowser:
        return cls(settings.getfloat("NEWSSPIDER_BROWSER_TIMEOUT"),
                   find_chromium(settings.get("NEWSSPIDER_BROWSER_PATH") or ""),
                   not settings.getbool("DOWNLOAD_VERIFY_CERTIFICATES"))

    async def _start(self) -> None:
        from playwright.async_api import async_playwright

        root = hasattr(os, "geteuid") and os.geteuid() == 0
        if root:
            logger.warning("browser: running as root, where Chromium refuses its sandbox: the challenges' "
                           "scripts run without it (run newsspider as another user to keep it)")
        self._playwright = await async_playwright().start()
        try:
            self._browser = await self._playwright.chromium.launch(
                executable_path=self.executable, headless=True, chromium_sandbox=not root, args=_ARGS,
                handle_sigint=False, handle_sigterm=False, handle_sighup=False)
        except Exception:
            await self._playwright.stop()
            self._playwright = None
            raise
        context = await self._browser.new_context()
        try:
            page = await context.new_page()
            agent = await page.evaluate("navigator.userAgent")
        finally:
            await context.close()
        # A headless Chromium names itself "HeadlessChrome", which a CDN refuses at once.
        self._user_agent = str(agent).replace("HeadlessChrome", "Chrome")
        logger.info("browser: started Chromium %s (%s) to pass bot challenges", self._browser.version,
                    self.executable or "Playwright's own")

    async def clear(self, url: str, proxy: str | None = None) -> tuple[dict[str, str], str]:
        """Open *url* (through *proxy*) until the site serves the page itself; its cookies and the
        User-Agent they are bound to.  Raises :class:`TimeoutError` after the timeout."""
        if self._browser is None:
            await self._start()
        self.sessions += 1
        context = await self._browser.new_context(
            user_agent=self._user_agent, proxy=browser_proxy(proxy), accept_downloads=False,
            service_workers="block", ignore_https_errors=self.ignore_https_errors)
        try:
            page = await context.new_page()
            await page.route("**/*", _light)
            documents: list[Any] = []
            page.on("response", lambda r: documents.append(r)
                    if r.request.is_navigation_request() and r.frame == page.main_frame else None)
            deadline = time.monotonic() + self.timeout
            await page.goto(url, wait_until="commit", timeout=self.timeout * 1000)
            while not (documents and await _served(documents[-1])):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the challenge at {url} was not passed in {self.timeout:.0f} s")
                await asyncio.sleep(0.1)
            host = urlsplit(url).hostname or ""
            cookies = {c["name"]: c["value"] for c in await context.cookies()
                       if host.endswith(c.get("domain", "").lstrip("."))}
            return cookies, self._user_agent
        finally:
            await context.close()

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None


async def _light(route: Any) -> None:
    """Images, media and fonts are not loaded: a challenge needs its script, not its pictures."""
    if route.request.resource_type in _HEAVY:
        await route.abort()
    else:
        await route.continue_()


async def _served(response: Any) -> bool:
    """Whether a page's document is the site's own (not a challenge, not a redirect)."""
    if 300 <= response.status < 400:
        return False
    try:
        body = await response.body()
    except Exception:  # a document the browser navigated away from: not the last word
        return False
    return challenge_of(response.status, await response.all_headers(), body) is None
