"""Serve the demo site on 127.0.0.1 (a thread for ``newsspider demo``, a process for the tests).

``python -m newsspider.demo.server [--port 0] [--name HOST] [--tls CERT KEY]``
prints the site's root URL on its first line of output and serves until it is
stopped (under another host name than 127.0.0.1 with ``--name``, over HTTPS
with ``--tls``).  ``GET /__requests__`` returns the server's own log of the
requests it answered (method, path, host, client address, user agent, time, and the status
and body bytes of a page it served) as
JSON, so that tests can check what a crawl fetched; ``POST /__add__?n=N``
publishes N new articles and ``POST /__edit__?id=ID`` changes one, so that
tests, and users of ``newsspider demo --serve``, can change the site between
crawls (a bad N or ID is a 400 or 404 with a one-line reason); ``POST /__remove__?id=ID&how=404|410|home``
takes an article down (its page answers 404, 410, or a redirect to the front page; with ``&unlink=1`` no
listing or related list shows it any more),
``POST /__restore__?id=ID`` puts it back, and ``POST /__gone__?all=1`` makes every article page answer
404 (``all=0``: as before), a broken site or a block.

Article pages carry validators, as WordPress behind a cache sends them: an
``ETag`` made from the page's content and ``Last-Modified`` (when the article
last changed), and a conditional GET whose validators still hold is answered
``304 Not Modified`` (``If-None-Match`` compared weakly, as RFC 9110 §13.1.2
has it, before ``If-Modified-Since``).  :attr:`DemoServer.validators` picks
them: ``strong`` (the default), ``weak`` (``W/`` ETags, as a CDN rewrites them),
``last-modified`` (no ETag) or ``none``.
"""

from __future__ import annotations

import argparse
import email.utils
import gzip
import hashlib
import json
import re
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from newsspider.demo.markup import LIVE
from newsspider.demo.pages import OTHER_HOST, REMOVED_ANSWERS, DemoSite

LOG_PATH = "/__requests__"
# POST endpoints for tests that change the site between crawls.
ADD_PATH = "/__add__"  # ?n=<count>: publish new articles
EDIT_PATH = "/__edit__"  # ?id=<article id>: change an article's text
REMOVE_PATH = "/__remove__"  # ?id=<article id>&how=404|410|home[&unlink=1]: take an article down
RESTORE_PATH = "/__restore__"  # ?id=<article id>: put it back
GONE_PATH = "/__gone__"  # ?all=1|0: every article page answers 404, or not
#: the most articles one POST /__add__ publishes
MAX_ADDED = 1000
#: what article pages say about their version (:attr:`DemoServer.validators`)
VALIDATOR_MODES = ("strong", "weak", "last-modified", "none")


def entity_tags(value: str) -> list[str]:
    """The entity tags of an ``If-None-Match`` value, their weakness dropped (for the weak comparison).

    >>> entity_tags('W/"a", "b,c" ,W/"d"'), entity_tags("*")
    (['"a"', '"b,c"', '"d"'], ['*'])
    """
    tags = []
    for match in re.finditer(r'\s*(?:W/)?("[^"]*"|\*)\s*(?:,|$)', value):
        tags.append(match[1])
    return tags


def validators(body: bytes, modified: float | None, mode: str) -> dict[str, str]:
    """The validator headers of a page with *body*, last changed at *modified*, in *mode*.

    >>> validators(b"x", 0.0, "weak")
    {'ETag': 'W/"11f6ad8ec52a2984abaafd7c"', 'Last-Modified': 'Thu, 01 Jan 1970 00:00:00 GMT'}
    >>> validators(b"x", 0.0, "last-modified"), validators(b"x", None, "strong")
    ({'Last-Modified': 'Thu, 01 Jan 1970 00:00:00 GMT'}, {})
    """
    if modified is None or mode == "none":
        return {}
    headers = {}
    if mode in ("strong", "weak"):
        tag = f'"{hashlib.sha1(body).hexdigest()[:24]}"'
        headers["ETag"] = f"W/{tag}" if mode == "weak" else tag
    headers["Last-Modified"] = email.utils.formatdate(modified, usegmt=True)
    return headers


def not_modified(headers: dict[str, str], if_none_match: str | None, if_modified_since: str | None) -> bool:
    """Whether a GET with these conditions gets a 304 for a page with validator *headers* (RFC 9110
    §13.2.2: If-None-Match, compared weakly, decides when it is sent; else If-Modified-Since).

    >>> page = validators(b"x", 0.0, "strong")
    >>> not_modified(page, 'W/"11f6ad8ec52a2984abaafd7c"', None), not_modified(page, '"other"', None)
    (True, False)
    >>> not_modified(page, None, "Thu, 01 Jan 1970 00:00:00 GMT"), not_modified(page, None, "yesterday")
    (True, False)
    """
    if if_none_match is not None:
        etag = headers.get("ETag")
        tags = entity_tags(if_none_match)
        return etag is not None and ("*" in tags or etag.removeprefix("W/") in tags)
    if if_modified_since is not None and "Last-Modified" in headers:
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return email.utils.parsedate_to_datetime(headers["Last-Modified"]) <= since
    return False


class DemoServer(ThreadingHTTPServer):
    """An HTTP server for a :class:`DemoSite`, relocated to its own address."""

    daemon_threads = True

    def __init__(self, port: int = 0, demo_site: DemoSite | None = None,
                 handler: type[BaseHTTPRequestHandler] | None = None, name: str = "127.0.0.1",
                 tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", port), handler or DemoHandler)
        self.site = demo_site or DemoSite()
        self.requests: list[dict[str, Any]] = []
        #: the validators article pages carry (one of VALIDATOR_MODES)
        self.validators = "strong"
        self.tls = tls
        scheme = "https" if tls else "http"
        self.root = f"{scheme}://{name}:{self.server_address[1]}"
        # Another host name for the same server: a crawl must not follow links to it.
        self.other_root = f"{scheme}://localhost:{self.server_address[1]}"

    def get_request(self) -> tuple[socket.socket, Any]:
        """A connection, wrapped in TLS with ``--tls`` (its handshake in the request's own thread)."""
        sock, address = super().get_request()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a crawl cancelling a download) is not an error of the site."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            super().handle_error(request, client_address)

    def relocate(self, text: str) -> str:
        return text.replace(LIVE, self.root).replace(OTHER_HOST, self.other_root)


class DemoHandler(BaseHTTPRequestHandler):
    server: DemoServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        if parts.path == ADD_PATH:
            count = query.get("n", "1")
            if not (count.isdigit() and 1 <= int(count) <= MAX_ADDED):
                self._refuse(400, f"n: a number of articles from 1 to {MAX_ADDED}")
                return
            added = self.server.site.add_articles(int(count))
            body = json.dumps([a.article_id for a in added]).encode()
        elif parts.path in (EDIT_PATH, REMOVE_PATH, RESTORE_PATH):
            article_id = query.get("id", "")
            if not article_id.isdigit():
                self._refuse(400, "id: the id of an article of the site")
                return
            if int(article_id) not in self.server.site.articles:
                self._refuse(404, f"no article {article_id} on this site")
                return
            if parts.path == REMOVE_PATH:
                if query.get("how", "404") not in REMOVED_ANSWERS:
                    self._refuse(400, f"how: one of {', '.join(REMOVED_ANSWERS)}")
                    return
                self.server.site.remove_article(int(article_id), query.get("how", "404"),
                                                unlink=query.get("unlink") == "1")
            elif parts.path == RESTORE_PATH:
                self.server.site.restore_article(int(article_id))
            else:
                self.server.site.edit_article(int(article_id))
            body = b"[]"
        elif parts.path == GONE_PATH:
            if query.get("all") not in ("0", "1"):
                self._refuse(400, "all: 1 (every article page answers 404) or 0")
                return
            self.server.site.all_gone = query["all"] == "1"
            body = b"[]"
        else:
            self._send(404, "text/plain", b"", None, True)
            return
        self._send(200, "application/json", body, None, True)

    def _refuse(self, status: int, why: str) -> None:
        """A change the site cannot make: *why*, in one line."""
        self._send(status, "text/plain; charset=utf-8", f"{why}\n".encode(), None, True)

    def _answer(self, send_body: bool) -> None:
        parts = urlsplit(self.path)
        if parts.path == LOG_PATH:
            body = json.dumps(self.server.requests, ensure_ascii=False).encode()
            self._send(200, "application/json", body, None, send_body)
            return
        entry = {
            "method": self.command, "path": self.path, "host": self.headers.get("Host", ""),
            "client": self.client_address[0], "user_agent": self.headers.get("User-Agent", ""),
            "time": time.time(),
        }
        self.server.requests.append(entry)
        page = self.server.site.get(parts.path, parts.query)
        location = self.server.relocate(page.location) if page.location else None
        body = self.server.relocate(page.body).encode("utf-8")
        extra = validators(body, page.modified, self.server.validators) if page.status == 200 else {}
        conditions = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        if extra and not_modified(extra, *conditions):
            entry.update(status=304, bytes=0)
            self.send_response(304)
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            return
        if page.gzip:
            body = gzip.compress(body, mtime=0)
        entry.update(status=page.status, bytes=len(body) if send_body else 0)
        self._send(page.status, page.content_type, body, location, send_body, extra)

    def _send(self, status: int, content_type: str, body: bytes, location: str | None,
              send_body: bool, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if location:
            self.send_header("Location", location)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is kept in memory instead."""


def serve_in_thread(port: int = 0, demo_site: DemoSite | None = None) -> DemoServer:
    """Start a :class:`DemoServer` in a daemon thread; call ``shutdown()`` to stop it."""
    server = DemoServer(port, demo_site)
    threading.Thread(target=server.serve_forever, name="newsspider-demo", daemon=True).start()
    return server


def server_options(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line options of a demo server (also the tests' mock server's)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0, help="port (0 picks a free one)")
    parser.add_argument("--name", default="127.0.0.1", help="the host name in the site's own links")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS with this certificate")
    return parser.parse_args(argv)


def tls_context(options: argparse.Namespace) -> ssl.SSLContext | None:
    """The server's TLS context for ``--tls CERT KEY``."""
    if not options.tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*options.tls)
    return context


def main(argv: list[str] | None = None) -> None:
    args = server_options("Serve the newsspider demo site on 127.0.0.1.", argv)
    server = DemoServer(args.port, name=args.name, tls=tls_context(args))
    print(server.root, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sys.stdout.flush()


if __name__ == "__main__":
    main()
