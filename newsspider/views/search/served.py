"""The archived page as it was served, made fit to show inside the reading room.

:func:`parse` reads an archived HTML body (in the encoding its Content-Type
or its ``<meta>`` gives, as w3lib finds it) with lxml; :func:`rewrite` turns it
into the document the replay frame shows: its stylesheets and images pointed at
their archived copies (``/-/newsspider/asset?url=…``; one not archived is left
out, so that nothing is asked of the live site), its links to articles of the
archive pointed at their article pages (opened in the whole window), the other
web links kept to the live site (opened in a new window and marked), links of
other schemes (``javascript:``) and ``<base>`` / ``<meta http-equiv=refresh>``
taken out.  The page's scripts are left as they were served: the raw route's
Content-Security-Policy (:data:`POLICY`, a ``sandbox`` without scripts or
same-origin) and the frame's ``sandbox`` attribute keep them from running,
whichever way the page is opened.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from lxml import etree
from lxml import html as lhtml
from parsel import Selector
from w3lib.encoding import html_to_unicode

from newsspider.archive.assets import Assets
from newsspider.extract import site

__all__ = ["FRAME_SANDBOX", "Served", "asset_route", "assets_of", "parse", "policy", "rewrite", "web_url"]

PLUGIN = "newsspider"
#: what the replay frame's ``sandbox`` allows: a link the reader follows, in a new window or the whole one
FRAME_SANDBOX = "allow-popups allow-top-navigation-by-user-activation"
#: the mark of a link to the live site, shown after it (the archived page's own styles are kept)
_LIVE_MARK = ('a[data-newsspider="live"]::after { content: " \\2197"; font-size: .8em; } '
              'a[data-newsspider="live"] { text-decoration-style: dashed; }')


def policy(origin: str) -> str:
    """The Content-Security-Policy of an archived page and of an archived asset served by browse at
    *origin*: a sandbox without scripts nor same-origin (the page can never act as browse), nothing
    loaded but browse's own styles, images and fonts.

    >>> policy("http://127.0.0.1:8001").split("; ")[:2]
    ['sandbox allow-popups allow-top-navigation-by-user-activation', "default-src 'none'"]
    """
    return (f"sandbox {FRAME_SANDBOX}; default-src 'none'; style-src 'self' {origin} 'unsafe-inline'; "
            f"img-src 'self' {origin} data:; font-src 'self' {origin}; base-uri 'none'; form-action 'none'")


def web_url(base: str, href: str | None) -> str | None:
    """*href* made absolute against *base* when it is an http(s) URL, else None.

    >>> web_url("https://a.org/x/y.html", "../b.css"), web_url("https://a.org/", " javascript:alert(1)")
    ('https://a.org/b.css', None)
    >>> web_url("https://a.org/", "http://[::1"), web_url("https://a.org/", "")
    (None, None)
    """
    if not href or not href.strip():
        return None
    try:
        url = urljoin(base, href.strip())
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def asset_route(prefix: str, url: str, at: str | None = None) -> str:
    """The route that serves the archived *url*, nearest to the time *at*.

    >>> asset_route("/", "https://a.org/x.css?v=1")
    '/-/newsspider/asset?url=https%3A%2F%2Fa.org%2Fx.css%3Fv%3D1'
    """
    query = {"url": url, **({"at": at} if at else {})}
    return f"{prefix.rstrip('/')}/-/{PLUGIN}/asset?{urlencode(query)}"


@dataclass
class Served:
    """An archived HTML page, parsed: its URL (the base its links are relative to) and tree."""

    url: str
    doc: Any
    base: str = ""
    #: the page's stylesheets and images: how many it has, how many of them the archive holds
    wanted: int = 0
    found: int = 0
    links: list[str] = field(default_factory=list)


def parse(body: bytes, content_type: str | None, url: str) -> Served:
    """The archived page *body* (served as *content_type* from *url*) as a tree; an empty or unreadable
    body is an empty page."""
    _encoding, text = html_to_unicode(content_type, body)
    try:
        doc = lhtml.document_fromstring(text.encode("utf-8"), parser=lhtml.HTMLParser(encoding="utf-8"))
    except (etree.ParserError, ValueError):
        doc = lhtml.document_fromstring(b"<html><head></head><body></body></html>")
    base = url
    for element in doc.iter("base"):
        if element.get("href") and (absolute := web_url(url, element.get("href"))):
            base = absolute
            break
    served = Served(url, doc, base)
    served.links = [u for a in doc.iter("a", "area") if (u := web_url(base, a.get("href")))]
    return served


def _srcset(value: str, base: str, asset: Callable[[str], str | None]) -> str:
    """A ``srcset`` with only its archived candidates, pointed at the archive.

    >>> _srcset("a.png 1x, https://x/b.png 2x", "https://x/", lambda u: "/A" if u.endswith("b.png") else None)
    '/A 2x'
    """
    kept = []
    for candidate in value.split(","):
        url, _, descriptor = candidate.strip().partition(" ")
        if (absolute := web_url(base, url)) and (route := asset(absolute)):
            kept.append(f"{route} {descriptor.strip()}".strip())
    return ", ".join(kept)


def rewrite(served: Served, asset: Callable[[str], str | None],
            article: Callable[[str], str | None]) -> bytes:
    """The page's HTML (UTF-8) for the replay frame; *asset* gives the route of an archived image or
    stylesheet by its URL (None: not archived), *article* the article page of an article in the
    archive by its URL.  Sets ``served.wanted`` and ``served.found``."""
    doc, base = served.doc, served.base
    served.wanted = served.found = 0
    for element in Selector(root=doc, type="html").css(site.STYLESHEETS):
        link = element.root
        if (url := web_url(base, link.get("href"))) is None:
            continue
        served.wanted += 1
        if route := asset(url):
            served.found += 1
            link.set("href", route)
        else:
            link.getparent().remove(link)
    for img in list(doc.iter("img")):
        sources = [web_url(base, img.get(name)) for name in (*site.IMAGE_SOURCES[1:], site.IMAGE_SOURCES[0])]
        urls = [u for u in sources if u]
        if not urls and not img.get("srcset"):
            continue  # no image, or one in the page itself (data:)
        served.wanted += 1
        route = next((r for u in urls if (r := asset(u))), None)
        srcset = _srcset(img.get("srcset") or img.get("data-srcset") or "", base, asset)
        if route or srcset:
            served.found += 1
        img.attrib.pop("src", None)
        img.attrib.pop("srcset", None)
        if route:
            img.set("src", route)
        if srcset:
            img.set("srcset", srcset)
    for source in list(doc.iter("source")):
        srcset = _srcset(source.get("srcset") or "", base, asset)
        source.attrib.pop("src", None)
        if srcset:
            source.set("srcset", srcset)
        else:
            source.attrib.pop("srcset", None)
    for a in doc.iter("a", "area"):
        href = a.get("href")
        if href is None or href.strip().startswith("#"):
            continue
        url = web_url(base, href)
        for name in ("target", "rel", "ping"):
            a.attrib.pop(name, None)
        if url is None:
            del a.attrib["href"]
        elif page := article(url):
            a.set("href", page)
            a.set("target", "_top")
        else:
            a.set("href", url)
            a.set("target", "_blank")
            a.set("rel", "noopener noreferrer")
            a.set("data-newsspider", "live")
            a.set("title", f"the live site (not in the archive): {url}")
    for element in list(doc.iter("base", "meta")):
        equiv = (element.get("http-equiv") or "").strip().lower()
        if element.tag == "base" or equiv in ("refresh", "content-type") or element.get("charset"):
            element.getparent().remove(element)
    head = doc.find("head")
    if head is None:
        head = etree.Element("head")
        doc.insert(0, head)
    head.insert(0, etree.Element("meta", charset="utf-8"))
    style = etree.SubElement(head, "style")
    style.text = _LIVE_MARK
    return bytes(lhtml.tostring(doc.getroottree(), encoding="utf-8", method="html"))


def assets_of(datasette: Any) -> Assets:
    """The archived images and stylesheets of browse's data dir (indexed once, kept with *datasette*)."""
    assets = getattr(datasette, "newsspider_assets", None)
    if assets is None:
        assets = datasette.newsspider_assets = Assets(Path(datasette.newsspider_data_dir))
    return assets


async def refreshed_assets(datasette: Any) -> Assets:
    """:func:`assets_of`, with what the archive gained since it was last asked (read in a thread)."""
    assets = assets_of(datasette)
    await asyncio.to_thread(assets.refresh)
    return assets
