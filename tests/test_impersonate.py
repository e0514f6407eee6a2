"""A browser's TLS fingerprint (``--impersonate``): curl_cffi, direct and through real proxies.

A relay in front of the HTTPS test site keeps the first bytes of each
connection, the TLS ClientHello, and passes everything on: a browser's hello
(BoringSSL's) lists GREASE cipher suites (RFC 8701), OpenSSL's never does.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

from tests.conftest import run_cli
from tests.proxies import Socks
from tests.test_proxies import PASSWORD, PUBLIC, certificate, crawl, errors, named_site, stored_ids

__all__ = ["certificate"]  # a fixture of test_proxies, used here too


class HelloRelay:
    """TCP relay on 127.0.0.1 to *port*, keeping the first record each client sends."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.hellos: list[bytes] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = self.server.getsockname()[1]

    def __enter__(self) -> HelloRelay:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.port))
        first = client.recv(65536)
        self.hellos.append(first)
        upstream.sendall(first)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            sock.close()


def cipher_suites(hello: bytes) -> list[int]:
    """The cipher suites a TLS ClientHello offers."""
    assert hello[0] == 0x16 and hello[5] == 0x01, "not a TLS ClientHello"
    at = 5 + 4 + 2 + 32  # record header, handshake header, version, random
    at += 1 + hello[at]  # session id
    (length,) = struct.unpack_from("!H", hello, at)
    return list(struct.unpack_from(f"!{length // 2}H", hello, at + 2))


def grease(suite: int) -> bool:
    return suite >> 8 == suite & 0xFF and suite & 0x0F == 0x0A


@pytest.fixture(scope="module")
def tls_site(certificate: tuple[str, str]) -> Iterator[object]:
    with named_site(certificate) as server:
        yield server


@pytest.mark.parametrize("impersonate", [False, True], ids=["scrapy", "chrome"])
def test_the_tls_handshake_is_a_browsers_only_when_impersonating(impersonate: bool, tls_site,
                                                                 tmp_path: Path) -> None:
    port = int(tls_site.root.rsplit(":", 1)[1])
    with HelloRelay(port) as relay:
        # through the relay by its address: robots.txt and the start page cross it
        start = f"https://127.0.0.1:{relay.address}/bnews/"
        result = run_cli("crawl", "--start-url", start, "--data-dir", str(tmp_path),
                         "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
                         "-s", "CLOSESPIDER_PAGECOUNT=2",
                         *(["--impersonate", "chrome"] if impersonate else []))
    assert "Traceback" not in result.stderr, result.stderr
    assert relay.hellos, result.stderr
    suites = [cipher_suites(hello) for hello in relay.hellos]
    assert all(any(grease(s) for s in offered) == impersonate for offered in suites), suites


def test_an_impersonating_crawl_through_a_socks_proxy_stores_everything(tls_site, tmp_path: Path) -> None:
    with Socks() as proxy:
        result = crawl(tls_site, tmp_path, "--proxy", proxy.url, "--impersonate", "chrome")
        assert result.returncode == 0, result.stderr
    assert sorted(stored_ids(tmp_path)) == sorted(PUBLIC)  # under a name only the proxy resolves


def test_proxy_failures_are_named_through_curl_too(tls_site, tmp_path: Path) -> None:
    with Socks() as dead:
        pass  # its port is closed now
    down = crawl(tls_site, tmp_path / "down", "--proxy", dead.url, "--impersonate", "chrome")
    assert down.returncode == 1
    assert errors(down) == [f"Error: every proxy failed: {dead.url} (could not connect to the proxy); "
                            "stopped after 0 articles"]
    with Socks(user="alice", password=PASSWORD) as proxy:
        wrong = proxy.url.replace(PASSWORD, "wrong-pw")
        bad = crawl(tls_site, tmp_path / "bad", "--proxy", wrong, "--impersonate", "chrome")
    shown = proxy.url.replace(f"alice:{PASSWORD}", "***")
    assert errors(bad) == [f"Error: every proxy failed: {shown} (authentication failed); "
                           "stopped after 0 articles"]
    assert "wrong-pw" not in bad.stderr + bad.stdout


def test_impersonate_a_browser_curl_does_not_know_is_one_line(tmp_path: Path) -> None:
    result = run_cli("crawl", "--impersonate", "netscape", "--start-url", "http://127.0.0.1:9/bnews/",
                     "--data-dir", str(tmp_path), timeout=60)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: --impersonate 'netscape': not a browser curl_cffi knows (one of chrome, ")
