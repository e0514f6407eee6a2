"""A mock bannedbook.org on 127.0.0.1: the bundled demo site plus a fault-injecting mode.

Modelled on Scrapy's tests/mockserver: ``python -m tests.mockserver`` binds port
0, prints its root URL, and serves until killed; :class:`MockServer` runs it
in a process of its own.  ``requests()`` returns the server's own log of what
it answered, so tests can check what a crawl fetched.

Faults are set per path by the tests (``POST /__fault__`` with a JSON body,
through :meth:`MockServer.fault`):

- ``status``: answer ``status`` (with ``Retry-After`` when given) ``times`` times (-1: always), then
  the page;
- ``close``: send the headers and half the body, then close the connection;
- ``slow``: wait ``delay`` seconds before answering; ``stall``: never answer;
- ``trickle``: send the headers (a Content-Length of 1 MiB) and a first kilobyte of the page, then
  ``rate`` bytes a second (0: nothing more) for ten minutes, a slow proxy's or a hostile server's answer;
- ``redirect``: answer 301 to ``location`` (``{root}`` and ``{other}`` are this server under its two names);
- ``page``: serve ``body`` (base64) as ``content_type`` (with ``encoding`` as its Content-Encoding,
  unchanged);
- ``endless``: a listing whose "next page" never ends (``path`` is a prefix: ``.../page/N/``);
- ``sprawl``: a listing trap (``path`` is a prefix): every page lists the same few articles and links to
  ever-new listings, two below it (``<page>sN/``) and one at ``location`` (``{n}``: a new number).

``POST /__sitemaps__`` (:meth:`MockServer.sitemaps`) switches the site's sitemaps
(:data:`newsspider.demo.pages.SITEMAP_MODES`: ``yoast``, the default; ``core``; ``partial``; ``off``).
``POST /__feeds__`` (:meth:`MockServer.feeds`) switches its feeds (:data:`newsspider.demo.pages.FEED_MODES`:
``on``, the default; ``stale``; ``off``).

``POST /__rewrite__`` (:meth:`MockServer.rewrite`) replaces a string in every page it serves from
then on, to plant a bad value on every page of the site.

``POST /__validators__`` (:meth:`MockServer.validators`) switches the validators article pages carry
(``strong`` ETags by default, ``weak`` ones, ``last-modified`` only, ``none``; see
:mod:`newsspider.demo.server`).

``POST /__challenge__`` (:meth:`MockServer.challenge`) puts the site behind a bot challenge that
behaves as Cloudflare's managed challenge does (:mod:`tests.challenge`).
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

from newsspider.demo.pages import FEED_MODES, SITEMAP_MODES, DemoSite
from newsspider.demo.server import VALIDATOR_MODES, DemoHandler, DemoServer, server_options, tls_context
from tests.challenge import Challenge

REPO = __file__.rsplit("/tests/", 1)[0]


@dataclass
class Fault:
    kind: str
    times: int = -1
    status: int = 200
    retry_after: str | None = None
    delay: float = 0.0
    location: str = ""
    body: bytes = b""
    content_type: str = "text/html"
    encoding: str = ""
    chunked: bool = False
    rate: int = 10
    hits: int = field(default=0)

    def active(self) -> bool:
        return self.times < 0 or self.hits < self.times


class FaultServer(DemoServer):
    def __init__(self, port: int = 0, name: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        super().__init__(port, DemoSite(), FaultHandler, name, tls)
        self.faults: dict[str, Fault] = {}
        self.rewrites: list[tuple[str, str]] = []
        self.stop_stalling = threading.Event()
        self.challenge: Challenge | None = None

    def relocate(self, text: str) -> str:
        for old, new in self.rewrites:
            text = text.replace(old, new)
        return super().relocate(text)

    def fault_for(self, path: str) -> Fault | None:
        fault = self.faults.get(path)
        if fault is None:
            fault = next((f for prefix, f in self.faults.items()
                          if f.kind in ("endless", "sprawl") and path.startswith(prefix)), None)
        return fault if fault is not None and fault.active() else None


class FaultHandler(DemoHandler):
    server: FaultServer

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path == "/__challenge__":
            spec = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self.server.challenge = Challenge(**spec) if spec else None
            self._send(200, "application/json", b"{}", None, True)
            return
        challenge = self.server.challenge
        if challenge is not None and challenge.is_answer(path):
            self._log(challenge="answer")
            posted = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, headers, body = challenge.answer(self.path, self.headers, posted)
            self._send_with(status, headers, body)
            return
        if path == "/__validators__":
            spec = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if spec.get("mode") not in VALIDATOR_MODES:
                self._refuse(400, f"mode: one of {', '.join(VALIDATOR_MODES)}")
                return
            self.server.validators = spec["mode"]
            self._send(200, "application/json", b"{}", None, True)
            return
        if path == "/__sitemaps__":
            spec = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self.server.site.sitemap_mode = spec["mode"]
            self._send(200, "application/json", b"{}", None, True)
            return
        if path == "/__feeds__":
            spec = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self.server.site.set_feed_mode(spec["mode"])
            self._send(200, "application/json", b"{}", None, True)
            return
        if path == "/__rewrite__":
            spec = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self.server.rewrites.append((spec["old"], spec["new"]))
            self._send(200, "application/json", b"{}", None, True)
            return
        if path != "/__fault__":
            super().do_POST()
            return
        spec = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        path = spec.pop("path")
        spec["body"] = base64.b64decode(spec.get("body", ""))
        self.server.faults[path] = Fault(**spec)
        self._send(200, "application/json", b"{}", None, True)

    def _log(self, **extra: Any) -> None:
        self.server.requests.append({"method": self.command, "path": self.path,
                                     "host": self.headers.get("Host", ""), "client": self.client_address[0],
                                     "user_agent": self.headers.get("User-Agent", ""), "time": time.time(),
                                     **extra})

    def _send_with(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _answer(self, send_body: bool) -> None:
        if self.path == "/__challenge__":
            counts = self.server.challenge.counts if self.server.challenge else {}
            self._send(200, "application/json", json.dumps(counts).encode(), None, send_body)
            return
        challenge = self.server.challenge
        if challenge is not None and challenge.guards(self.path) and not challenge.cleared(self.headers):
            self._log(challenge="served")
            self._send_with(*challenge.page())
            return
        fault = self.server.fault_for(self.path)
        if fault is None:
            super()._answer(send_body)
            return
        fault.hits += 1
        self._log(fault=fault.kind)
        getattr(self, f"_fault_{fault.kind}")(fault)

    def _fault_status(self, fault: Fault) -> None:
        self.send_response(fault.status)
        if fault.retry_after:
            self.send_header("Retry-After", fault.retry_after)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "9")
        self.end_headers()
        self.wfile.write(b"try again")

    def _fault_close(self, fault: Fault) -> None:
        page = self.server.site.get(urlsplit(self.path).path)
        body = self.server.relocate(page.body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True

    def _fault_slow(self, fault: Fault) -> None:
        time.sleep(fault.delay)
        super()._answer(True)

    def _fault_stall(self, fault: Fault) -> None:
        self.server.stop_stalling.wait(600)
        self.close_connection = True

    def _fault_trickle(self, fault: Fault) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Content-Length", str(1024 * 1024))
        self.end_headers()
        deadline = time.monotonic() + 600
        try:
            self.wfile.write(b"<html><body>" + b" " * 1012)
            self.wfile.flush()
            while time.monotonic() < deadline and not self.server.stop_stalling.wait(1):
                if fault.rate:
                    self.wfile.write(b" " * fault.rate)
                    self.wfile.flush()
        except OSError:  # the client gave up
            pass
        self.close_connection = True

    def _fault_redirect(self, fault: Fault) -> None:
        location = fault.location.format(root=self.server.root, other=self.server.other_root)
        self._send(301, "text/html", b"", location, True)

    def _fault_page(self, fault: Fault) -> None:
        if fault.encoding:  # sent as it is, with its Content-Encoding (gzip), chunked when asked
            self.send_response(fault.status)
            self.send_header("Content-Type", fault.content_type)
            self.send_header("Content-Encoding", fault.encoding)
            if fault.chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(fault.body), 1000):
                    piece = fault.body[start:start + 1000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(len(fault.body)))
            self.end_headers()
            self.wfile.write(fault.body)
            return
        body = self.server.relocate(fault.body.decode("latin-1")).encode("latin-1")
        self._send(fault.status, fault.content_type, body, None, True)

    def _fault_endless(self, fault: Fault) -> None:
        match = re.search(r"/page/(\d+)/$", self.path)
        page = int(match[1]) if match else 1
        base = self.path[: match.start() + 1] if match else self.path
        items = self.server.site.newest_first[:3]  # the same few articles on every page
        listing = self.server.site.listing("无尽的列表", "无尽的列表", base, items, 1).body
        next_url = f"{base}page/{page + 1}/"
        next_link = f'<link rel="next" href="{next_url}" /><a href="{next_url}">下一页</a>'
        body = listing.replace("</body>", next_link + "</body>")
        self._send(200, "text/html; charset=UTF-8", self.server.relocate(body).encode(), None, True)

    def _fault_sprawl(self, fault: Fault) -> None:
        path = urlsplit(self.path).path
        first = fault.hits * 3  # new numbers on every page
        links = [f"{path}s{first}/", f"{path}s{first + 1}/", fault.location.format(n=first + 2)]
        items = self.server.site.newest_first[:3]  # the same few articles on every page
        listing = self.server.site.listing("列表的列表", "列表的列表", path, items, 1).body
        more = "".join(f'<li><a href="{link}">{link}</a></li>' for link in links)
        body = listing.replace("</body>", f"<ul>{more}</ul></body>")
        self._send(200, "text/html; charset=UTF-8", self.server.relocate(body).encode(), None, True)


class MockServer:
    """Runs ``python -m tests.mockserver`` in a subprocess for the length of a ``with`` block.

    With *name*, the site's links use that host name; with *tls* (a certificate and key file), it
    serves HTTPS.  The tests reach its control endpoints at 127.0.0.1 either way.
    """

    def __init__(self, name: str | None = None, tls: tuple[str, str] | None = None) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.root = ""
        self.control = ""
        self.args = ["--name", name] if name else []
        self.args += ["--tls", *tls] if tls else []

    def __enter__(self) -> MockServer:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.mockserver", *self.args], cwd=REPO,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.root = self.proc.stdout.readline().strip()
        assert re.fullmatch(r"https?://[^/]+:\d+", self.root), f"mock server did not start: {self.root!r}"
        scheme, port = self.root.split(":", 1)[0], self.root.rsplit(":", 1)[1]
        self.control = f"{scheme}://127.0.0.1:{port}"
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def url(self, path: str) -> str:
        return self.root + path

    def _open(self, request: Request | str) -> Any:
        context = ssl._create_unverified_context() if self.control.startswith("https:") else None
        with urlopen(request, timeout=10, context=context) as response:
            return json.loads(response.read())

    def _post(self, path: str, data: bytes | None = None) -> Any:
        return self._open(Request(self.control + path, data=data, method="POST",
                                  headers={"Content-Type": "application/json"}))

    def requests(self) -> list[dict[str, Any]]:
        return self._open(self.control + "/__requests__")

    def add_articles(self, n: int) -> list[int]:
        """Publish *n* new articles on top of the listings; return their ids."""
        return self._post(f"/__add__?n={n}")

    def edit_article(self, article_id: int) -> None:
        self._post(f"/__edit__?id={article_id}")

    def remove_article(self, article_id: int, how: str = "404", unlink: bool = False) -> None:
        """Take an article down: its page answers *how* (``404``, ``410``, ``home``: a redirect home); with
        *unlink*, no listing or related list shows it any more."""
        self._post(f"/__remove__?id={article_id}&how={how}&unlink={int(unlink)}")

    def restore_article(self, article_id: int) -> None:
        self._post(f"/__restore__?id={article_id}")

    def all_gone(self, on: bool = True) -> None:
        """Every article page answers 404 (a broken site, a block), or (*on* False) as before."""
        self._post(f"/__gone__?all={int(on)}")

    def sitemaps(self, mode: str) -> None:
        """Switch the site's sitemaps: ``yoast`` (the default), ``core``, ``partial`` or ``off``."""
        assert mode in SITEMAP_MODES, mode
        self._post("/__sitemaps__", json.dumps({"mode": mode}).encode())

    def feeds(self, mode: str) -> None:
        """Switch the site's feeds: ``on`` (the default), ``stale`` (what they list now) or ``off``."""
        assert mode in FEED_MODES, mode
        self._post("/__feeds__", json.dumps({"mode": mode}).encode())

    def rewrite(self, old: str, new: str) -> None:
        """Replace *old* with *new* in every page served from now on."""
        self._post("/__rewrite__", json.dumps({"old": old, "new": new}).encode())

    def validators(self, mode: str) -> None:
        """What article pages say about their version from now on: ``strong`` ETags (the default),
        ``weak`` ones, ``last-modified`` only, or ``none``."""
        self._post("/__validators__", json.dumps({"mode": mode}).encode())

    def challenge(self, mode: str | None, **spec: Any) -> None:
        """Put the site behind a bot challenge (``mode``: ``all`` or ``listings``; ``None``: none)."""
        self._post("/__challenge__", json.dumps({"mode": mode, **spec} if mode else {}).encode())

    def challenge_counts(self) -> dict[str, int]:
        """Challenges served, answers accepted and refused, requests let through with a clearance."""
        return self._open(self.control + "/__challenge__")

    def fault(self, path: str, kind: str, body: bytes = b"", **spec: Any) -> None:
        """Make the server misbehave at *path* (see the module docstring)."""
        spec.update(path=path, kind=kind, body=base64.b64encode(body).decode())
        self._post("/__fault__", json.dumps(spec).encode())


class SharedServer(MockServer):
    """A view of a running :class:`MockServer` shared by the tests of a module: its request log starts
    when the view is made, and it refuses to change the site (a test that does takes its own server)."""

    def __init__(self, server: MockServer) -> None:
        super().__init__()
        self.root, self.control = server.root, server.control
        self.start = len(server.requests())

    def __enter__(self) -> MockServer:
        return self

    def __exit__(self, *exc: object) -> None:
        """The module's server goes on."""

    def requests(self) -> list[dict[str, Any]]:
        return super().requests()[self.start:]

    def _post(self, path: str, data: bytes | None = None) -> Any:
        raise AssertionError(f"a shared mock server cannot be changed ({path}): use the mockserver fixture")


def main() -> None:
    options = server_options("The tests' mock bannedbook.org.")
    server = FaultServer(options.port, options.name, tls_context(options))
    print(server.root, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
