"""A mock bannedbook.org on 127.0.0.1: the bundled demo site in a server process of its own.

Modelled on Scrapy's tests/mockserver: the process binds port 0, prints its
root URL, and the tests read it; ``requests()`` returns the server's own log
of what it answered, so tests can check what a crawl fetched.
"""

from __future__ import annotations

import json
import subprocess
import sys
from types import TracebackType
from typing import Any
from urllib.request import Request, urlopen


class MockServer:
    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.root = ""

    def __enter__(self) -> MockServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "newsspider.demo.server", "--port", "0"],
            stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        self.root = self.proc.stdout.readline().strip()
        assert self.root.startswith("http://127.0.0.1:"), f"mock server did not start: {self.root!r}"
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def url(self, path: str) -> str:
        return self.root + path

    def requests(self) -> list[dict[str, Any]]:
        with urlopen(self.url("/__requests__"), timeout=10) as response:
            return json.loads(response.read())

    def add_articles(self, n: int) -> list[int]:
        """Publish *n* new articles on top of the listings; return their ids."""
        with urlopen(Request(self.url(f"/__add__?n={n}"), method="POST"), timeout=10) as response:
            return json.loads(response.read())

    def edit_article(self, article_id: int) -> None:
        with urlopen(Request(self.url(f"/__edit__?id={article_id}"), method="POST"), timeout=10):
            pass
