"""Real proxies for the tests: Debian's microsocks (SOCKS5) and tinyproxy (HTTP, CONNECT).

Each runs in a mount namespace of its own (``unshare --mount``, as root) whose
``/etc/hosts`` maps :data:`NAME`, a name this machine cannot resolve, to
127.0.0.1: a crawl reaches a site under that name only when the proxy resolves
it.  Each binds its outgoing connections to :data:`EXIT`, so the site's own
request log shows which requests came through a proxy.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tests.ports import listening_port

#: a host name that only the proxies resolve (to 127.0.0.1)
NAME = "www.bannedbook.test"
#: the address the proxies' outgoing connections come from
EXIT = "127.0.0.2"


class Proxy:
    """A proxy process for the length of a ``with`` block; :attr:`url` is how to reach it."""

    scheme = "socks5h"

    def __init__(self, user: str | None = None, password: str | None = None) -> None:
        self.user, self.password = user, password
        self.dir = Path(tempfile.mkdtemp(prefix="newsspider-proxy-"))
        (self.dir / "hosts").write_text(f"127.0.0.1 localhost\n127.0.0.1 {NAME}\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def command(self) -> list[str]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        auth = f"{self.user}:{self.password}@" if self.user else ""
        return f"{self.scheme}://{auth}127.0.0.1:{self.port}"

    def start(self) -> Proxy:
        for _ in range(20):
            script = f'mount --bind {self.dir / "hosts"} /etc/hosts && exec "$@"'
            self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                          script, "proxy", *self.command()],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                if (port := listening_port(self.proc.pid)) is not None:
                    self.port = port
                    return self
                time.sleep(0.02)
            self.stop()  # its port was taken (tinyproxy needs one given): try another
        raise RuntimeError(f"{type(self).__name__} did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Socks(Proxy):
    """microsocks: SOCKS5, with a user and password when given."""

    def command(self) -> list[str]:
        auth = ["-u", self.user, "-P", self.password or ""] if self.user else []
        return ["microsocks", "-i", "127.0.0.1", "-p", "0", "-b", EXIT, *auth]


class HttpProxy(Proxy):
    """tinyproxy: an HTTP proxy (CONNECT for https:// URLs), with basic auth when given."""

    scheme = "http"

    def command(self) -> list[str]:
        port = random.randint(20000, 60000)
        auth = f"BasicAuth {self.user} {self.password}\n" if self.user else ""
        (self.dir / "tinyproxy.conf").write_text(
            f"Port {port}\nListen 127.0.0.1\nBind {EXIT}\nTimeout 30\nMaxClients 200\nLogLevel Critical\n"
            f"{auth}")
        return ["tinyproxy", "-d", "-c", str(self.dir / "tinyproxy.conf")]
