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

import html
import ipaddress
import json
import socket
import sqlite3
from collections.abc import Awaitable, Callable, Collection, MutableMapping
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


async def archived_page(request: Any, datasette: Any) -> Response:
    """The page an article's record points to, as it was archived (scripts and live requests blocked)."""
    from newsspider.archive.reader import ArchiveError
    from newsspider.archive.reader import archived_page as read

    article_id = request.url_vars["article_id"]
    versions = await _versions(datasette, article_id)
    wanted = request.args.get("version")
    chosen = next((v for v in reversed(versions) if wanted in (None, "", str(v["version"]))), None)
    if chosen is None or not chosen["warc"]:
        return Response.text(f"article {article_id}: no archived page", status=404)
    data_dir = Path(datasette.newsspider_data_dir)
    try:
        page = read(data_dir, json.loads(chosen["warc"]))
    except ArchiveError as exc:
        return Response.text(str(exc), status=500)
    headers = {"Content-Security-Policy":
               "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:",
               "X-Archived-From": page.url, "X-Archived-At": page.date}
    return Response(page.body, content_type=page.header("Content-Type") or "text/html", headers=headers)


@hookimpl
def prepare_jinja2_environment(env: Any) -> None:
    from newsspider.core.time import readable_time

    env.filters["readable_time"] = readable_time


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    from newsspider.views.search.room import routes
    from newsspider.views.search.versions import versions_page

    return [*routes(), (rf"^/-/{PLUGIN}/page/(?P<article_id>[0-9]+)$", archived_page),
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
