"""A fast static file server for the benchmark site: Twisted's static.File, in a process of its own.

``python -m benchmarks.server ROOT [LOG]`` listens on 127.0.0.1 (a free port), prints its root URL, and
serves ROOT until it is stopped, writing each request to LOG (combined log format) when given.
Directory URLs serve their index.html.
"""

from __future__ import annotations

import sys

from twisted.internet import reactor
from twisted.web.server import Site
from twisted.web.static import File


def main() -> None:
    log = sys.argv[2] if len(sys.argv) > 2 else None
    site = Site(File(sys.argv[1], defaultType="text/html"), logPath=log)
    site.displayTracebacks = False
    port = reactor.listenTCP(0, site, interface="127.0.0.1")  # type: ignore[attr-defined]
    print(f"http://127.0.0.1:{port.getHost().port}", flush=True)
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
