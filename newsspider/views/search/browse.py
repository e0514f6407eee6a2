"""The archive in the browser: Datasette over the database, with this module as its plugin.

The plugin (and the template in ``templates/``) gives the ``articles`` table a search box that runs the
Chinese-aware query of :mod:`newsspider.views.search.tokens` (the SQL function
``newsspider_match(q)`` turns a query into the FTS5 expression), links every
article to its live URL, to its archived page read from the WARC, and to its
versions (:mod:`newsspider.views.search.versions`).  :func:`metadata` sets the facets (tags, category,
source, year) and explains each column from the published schema.

:class:`HostCheck` wraps the app: it answers only requests whose ``Host`` is
this machine's (``localhost``, an IP address) or a name the user allowed, so
that a web page whose name is rebound to 127.0.0.1 (DNS rebinding) cannot
read the archive through the visitor's browser.  Nothing served holds a
path of this machine: the data dir is kept on the Datasette object
(:func:`configure`), not in the metadata Datasette shows at
``/-/metadata.json``, and the introspection pages that list the database's
file (``/-/databases``, ``/-/threads``) are not served.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import json
import socket
import sqlite3
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasette import Response, hookimpl
from datasette.filters import FilterArguments
from markupsafe import Markup

from newsspider.core.errors import NewsspiderError
from newsspider.extract.items import FIELDS, schema
from newsspider.views.search.tokens import QueryError, match_expression

__all__ = ["PLUGIN", "HostCheck", "ListenError", "configure", "host_allowed", "listen", "metadata",
           "serves_others"]

PLUGIN = "newsspider"
TABLE = "articles"


def metadata(database: str) -> dict[str, Any]:
    """Datasette metadata for the database named *database* (public: no path in it)."""
    descriptions = {name: spec.get("description", "") for name, spec in schema()["properties"].items()}
    descriptions["year"] = "The year of published_date (for the facet)."
    return {
        "title": "newsspider archive",
        "description": "Articles archived by newsspider. Search: Han characters match anywhere (中国 finds "
                       "中国人 and 中國), Latin words and numbers whole, several words all, \"a phrase\" "
                       "exactly.",
        "databases": {database: {"tables": {
            TABLE: {
                "sort_desc": "published_date",
                "facets": [{"array": "tags"}, "category", "source", "year"],
                # shown folded by the template (Datasette's own "columns" would list them unfolded)
                "newsspider_columns": {name: descriptions.get(name, "") for name in [*FIELDS, "year"]},
                "label_column": "title",
            },
            "versions": {"description": "Every stored version of every article."},
            **{name: {"hidden": True} for name in ("meta", "progress", "search", "search_config",
                                                    "search_content", "search_data", "search_docsize",
                                                    "search_idx")},
        }}},
    }


def _match(query: str) -> str:
    try:
        return match_expression(query)
    except QueryError:
        return '""'


def configure(datasette: Any, data_dir: Path) -> None:
    """Tell the plugin's pages of *datasette* where the data dir is (its WARC files)."""
    datasette.newsspider_data_dir = data_dir


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    from newsspider.views.search.database import BUSY

    conn.create_function("newsspider_match", 1, _match, deterministic=True)
    # the database is read-only here but not immutable: a build may commit while a page reads it
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY * 1000)}")


@hookimpl
def filters_from_request(request: Any, table: str) -> FilterArguments | None:
    if table != TABLE:
        return None
    query = (request.args.get("_q") or "").strip()
    context = {"newsspider_query": query}
    if not query:
        return FilterArguments([], {}, [], context)
    return FilterArguments(
        ["rowid in (select rowid from search where search match newsspider_match(:newsspider_q))"],
        {"newsspider_q": query}, [f"hold {query}"], context)


#: the templates: the articles table with its search box above Datasette's own page
TEMPLATES = Path(__file__).with_name("templates")


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, datasette: Any) -> Markup | None:
    if table not in (TABLE, "versions"):
        return None
    keys = row.keys() if hasattr(row, "keys") else []
    article_id = row["article_id"] if "article_id" in keys else None
    if column == "warc" and value and article_id:
        version = row["version"] if "version" in keys else ""
        href = datasette.urls.path(f"/-/{PLUGIN}/page/{article_id}?version={version}")
        return Markup(f'<a class="archived" href="{html.escape(href)}">archived page</a>')
    if column == "article_id" and value:
        href = datasette.urls.path(f"/-/{PLUGIN}/versions/{value}")
        link = f'<a class="versions" href="{html.escape(href)}">versions</a>'
        return Markup(f"{html.escape(str(value))} {link}")
    if column == "url" and value:
        live = html.escape(value)
        return Markup(f'<a class="live" href="{live}" rel="noreferrer">{live}</a>')
    return None


def _database(datasette: Any) -> Any:
    return next(db for name, db in datasette.databases.items() if name != "_internal" and not db.is_memory)


async def _versions(datasette: Any, article_id: str) -> list[dict[str, Any]]:
    result = await _database(datasette).execute(
        f"SELECT {', '.join(FIELDS)} FROM versions WHERE article_id = ? ORDER BY version", [article_id])
    return [dict(zip(FIELDS, row, strict=True)) for row in result.rows]


@dataclass
class _Capture:
    """The archived page of one version of an article, read and rewritten for the replay frame."""

    versions: list[dict[str, Any]]
    chosen: dict[str, Any] | None = None
    page: Any = None
    served: Any = None
    html: bytes = b""
    error: str | None = None


async def _capture(request: Any, datasette: Any) -> _Capture:
    """The version of the article the request names (``?version=N``; the newest by default), its archived
    page read from the WARC (bounded, confined to ``DATA_DIR/warc/``) and rewritten (:mod:`.served`)."""
    from newsspider.archive.reader import ArchiveError
    from newsspider.archive.reader import archived_page as read
    from newsspider.extract import site
    from newsspider.views.search.served import asset_route, parse, refreshed_assets, rewrite

    article_id = request.url_vars["article_id"]
    capture = _Capture(await _versions(datasette, article_id))
    wanted = request.args.get("version")
    capture.chosen = next((v for v in reversed(capture.versions) if wanted in (None, "", str(v["version"]))),
                          None)
    if capture.chosen is None or not capture.chosen["warc"]:
        return capture
    data_dir = Path(datasette.newsspider_data_dir)
    try:
        pointer = json.loads(capture.chosen["warc"])
        capture.page = page = await asyncio.to_thread(read, data_dir, pointer)
    except (ArchiveError, ValueError, TypeError, AttributeError, KeyError) as exc:
        capture.error = str(exc) if isinstance(exc, ArchiveError) else "its pointer into the archive is bad"
        return capture
    served = capture.served = await asyncio.to_thread(parse, page.body, page.header("Content-Type"), page.url)
    ids = sorted({parts[0] for link in served.links if (parts := site.article_parts(site.article_url(link)))})
    archived: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        result = await _database(datasette).execute(
            f"SELECT article_id FROM articles WHERE article_id IN ({', '.join('?' * len(chunk))})", chunk)
        archived.update(row[0] for row in result.rows)
    assets = await refreshed_assets(datasette)
    prefix = datasette.urls.path("/")

    def asset(url: str) -> str | None:
        return asset_route(prefix, url, page.date) if assets.find(url, page.date) else None

    def article(url: str) -> str | None:
        parts = site.article_parts(site.article_url(url))
        return (datasette.urls.path(f"/-/{PLUGIN}/article/{parts[0]}")
                if parts and parts[0] in archived else None)

    capture.html = await asyncio.to_thread(rewrite, served, asset, article)
    return capture


async def archived_page(request: Any, datasette: Any) -> Response:
    """The archived page of an article in the reading room: a banner (capture time, original URL, the
    article page, the other captures) over the page as it was served, in a sandboxed frame."""
    from newsspider.views.search.room import _page, web_link
    from newsspider.views.search.served import FRAME_SANDBOX

    article_id = request.url_vars["article_id"]
    capture = await _capture(request, datasette)
    chosen = capture.chosen
    title = ((chosen or (capture.versions[-1] if capture.versions else {})).get("title")) or article_id
    versions = [{"version": v["version"], "crawled_at": v["crawled_at"],
                 "href": (datasette.urls.path(f"/-/{PLUGIN}/page/{article_id}") + f"?version={v['version']}"
                          if v["warc"] else None),
                 "current": chosen is not None and v["version"] == chosen["version"]}
                for v in capture.versions]
    context = {
        "article_id": article_id, "title": title, "chosen": chosen, "versions": versions,
        "page": capture.page, "served": capture.served, "error": capture.error, "sandbox": FRAME_SANDBOX,
        "live": web_link(capture.page.url) if capture.page else None,
        "article_url": datasette.urls.path(f"/-/{PLUGIN}/article/{article_id}") if capture.versions else None,
        "raw_url": (datasette.urls.path(f"/-/{PLUGIN}/page/{article_id}/raw")
                    + f"?version={chosen['version']}" if chosen is not None else None),
    }
    status = 200 if capture.page is not None else (500 if capture.error else 404)
    return await _page(datasette, request, "room_replay.html", context, status=status)


async def archived_raw(request: Any, datasette: Any) -> Response:
    """The archived HTML for the replay frame: rewritten (:mod:`.served`), under a Content-Security-Policy
    that sandboxes it (no script, no same-origin) even when it is opened on its own."""
    from newsspider.views.search.served import policy

    capture = await _capture(request, datasette)
    if capture.page is None:
        why = capture.error or "no archived page"
        return Response.text(f"article {request.url_vars['article_id']}: {why}\n",
                             status=500 if capture.error else 404, headers=_SAFE)
    headers = {**_SAFE, "Content-Security-Policy": policy(f"{request.scheme}://{request.host}"),
               "Referrer-Policy": "no-referrer", "X-Frame-Options": "SAMEORIGIN",
               "X-Archived-From": capture.page.url, "X-Archived-At": capture.page.date}
    return Response(capture.html, content_type="text/html; charset=utf-8", headers=headers)


#: headers of everything served from the archive
_SAFE = {"X-Content-Type-Options": "nosniff"}


async def archived_asset(request: Any, datasette: Any) -> Response:
    """An archived image or stylesheet (``?url=``, nearest in time to ``?at=``), with its Content-Type;
    anything else, or a URL the archive does not hold as one, is 404."""
    from newsspider.archive.assets import is_asset
    from newsspider.archive.reader import ArchiveError
    from newsspider.archive.reader import archived_page as read
    from newsspider.views.search.served import policy, refreshed_assets

    url = request.args.get("url") or ""
    assets = await refreshed_assets(datasette)
    found = assets.find(url, request.args.get("at")) if url else None
    if found is None:
        return Response.text("Not in the archive as an image or a stylesheet.\n", status=404, headers=_SAFE)
    try:
        page = await asyncio.to_thread(read, Path(datasette.newsspider_data_dir), found.pointer)
    except ArchiveError:
        return Response.text("Its archived record cannot be read.\n", status=404, headers=_SAFE)
    content_type = page.header("Content-Type") or ""
    if not is_asset(content_type):
        return Response.text("Not an image or a stylesheet.\n", status=404, headers=_SAFE)
    media, _, params = content_type.partition(";")
    charset = next((p.strip() for p in params.split(";") if p.strip().lower().startswith("charset=")), "")
    headers = {**_SAFE, "Content-Security-Policy": policy(f"{request.scheme}://{request.host}"),
               "Cache-Control": "private, max-age=3600", "X-Archived-From": page.url,
               "X-Archived-At": page.date}
    return Response(page.body, content_type=media.strip().lower() + (f"; {charset}" if charset else ""),
                    headers=headers)


@hookimpl
def prepare_jinja2_environment(env: Any) -> None:
    from newsspider.core.time import readable_time

    env.filters["readable_time"] = readable_time


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    from newsspider.views.search.room import routes
    from newsspider.views.search.versions import versions_page

    return [*routes(), (rf"^/-/{PLUGIN}/page/(?P<article_id>[0-9]+)$", archived_page),
            (rf"^/-/{PLUGIN}/page/(?P<article_id>[0-9]+)/raw$", archived_raw),
            (rf"^/-/{PLUGIN}/asset$", archived_asset),
            (rf"^/-/{PLUGIN}/versions/(?P<article_id>[0-9]+)$", versions_page)]


#: the names of this machine that a browser may send as Host (addresses are checked apart)
LOCAL_NAMES = frozenset({"localhost"})
#: Datasette's pages that show the database's absolute path: not served
HIDDEN_PATHS = ("/-/databases", "/-/threads")
REFUSED = (b"This archive answers only to 127.0.0.1, localhost and the names given to "
           b"newsspider browse --allow-host NAME.\n")


def host_name(header: str) -> str | None:
    """The name or address of a ``Host`` header, lower case, without its port; None when it is no host.

    >>> host_name("LocalHost:8001"), host_name("[::1]:8001"), host_name("127.0.0.1")
    ('localhost', '::1', '127.0.0.1')
    >>> host_name("evil.example:80@127.0.0.1"), host_name(""), host_name("[::1")
    (None, None, None)
    """
    header = header.strip().lower()
    if header.startswith("["):
        address, bracket, port = header[1:].partition("]")
        if not bracket or (port and not (port[:1] == ":" and port[1:].isdigit())):
            return None
        return address or None
    name, colon, port = header.partition(":")
    if colon and not port.isdigit():
        return None
    if not name or not all(c.isalnum() or c in "-._" for c in name):
        return None
    return name.rstrip(".")


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(header: str, allowed: Collection[str] = ()) -> bool:
    """Whether a request with this ``Host`` header is answered: an IP address (no name to rebind),
    localhost, or one of the *allowed* names.

    >>> [host_allowed(h) for h in ("127.0.0.1:8001", "localhost", "[::1]:80", "192.168.1.5:8001")]
    [True, True, True, True]
    >>> [host_allowed(h) for h in ("evil.example:8001", "127.0.0.1.evil.example", "", "a b")]
    [False, False, False, False]
    >>> host_allowed("Archive.Example.org", ["archive.example.org"])
    True
    """
    name = host_name(header)
    return name is not None and (_is_address(name) or name in LOCAL_NAMES
                                 or name in {a.lower().rstrip(".") for a in allowed})


def serves_others(host: str, allowed: Collection[str]) -> bool:
    """Whether browse serves people other than this machine's user: bound to an address other than a
    loopback one, or answering names of its own (behind a reverse proxy).

    >>> serves_others("127.0.0.1", []), serves_others("localhost", []), serves_others("::1", [])
    (False, False, False)
    >>> serves_others("0.0.0.0", []), serves_others("127.0.0.1", ["archive.example.org"])
    (True, True)
    """
    if allowed:
        return True
    if host.lower() == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name: whoever it resolves for


class ListenError(NewsspiderError, OSError):
    """An address or port browse cannot listen on (``--host``, ``--port``)."""


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to *host* and *port* (0: a free one), for the server to listen on."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        listening = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ListenError(f"--host {host}: {exc.strerror or exc}") from exc
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind(address)
    except OSError as exc:
        listening.close()
        raise ListenError(f"--port {port}: {exc.strerror or exc}") from exc
    return listening


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class HostCheck:
    """An ASGI app that passes to *app* only the requests :func:`host_allowed` allows (400 otherwise,
    in one line), and none for :data:`HIDDEN_PATHS`."""

    def __init__(self, app: App, allowed: Collection[str]) -> None:
        self.app, self.allowed = app, frozenset(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # Datasette has none
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return
        host = next((value.decode("latin-1") for key, value in scope.get("headers", ())
                     if key == b"host"), "")
        path = scope.get("path", "")
        if not host_allowed(host, self.allowed):
            await _answer(send, 400, REFUSED)
        elif any(path == hidden or path.startswith(hidden + ".") for hidden in HIDDEN_PATHS):
            await _answer(send, 404, b"Not served by newsspider browse.\n")
        else:
            await self.app(scope, receive, send)


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"x-content-type-options", b"nosniff")]})
    await send({"type": "http.response.body", "body": body})
