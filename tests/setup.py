"""What the tests need besides Python packages, installed when missing: ``python -m tests.setup``.

The tests start real servers and programs: redis-server (distributed crawls), a headless Chromium
with CJK fonts (the report and the browser feature), microsocks (SOCKS5) and tinyproxy (HTTP)
proxies, each in a mount namespace of its own (unshare, from util-linux); kiwix-serve and zimcheck
(kiwix-tools, zim-tools: the offline edition); and pywb, the replay tool, in a virtualenv of its
own (it pins redis 2.x).  This module finds what is missing and installs it with Debian's
``apt-get`` (as root, or through ``sudo -n``); the README's test command and ``.ci/run`` run it
before pytest, and the suite's first step (``tests/conftest.py``) names what is still missing in
one line instead of letting a hundred tests fail on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable

__all__ = ["REQUIREMENTS", "install", "missing"]


def _command(*names: str) -> Callable[[], bool]:
    return lambda: any(shutil.which(name) for name in names)


def _cjk_font() -> bool:
    if not shutil.which("fc-list"):
        return False
    listed = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    return bool(listed.stdout.strip())


#: Debian package -> how to tell it is there
REQUIREMENTS: dict[str, Callable[[], bool]] = {
    "redis-server": _command("redis-server"),
    "microsocks": _command("microsocks"),
    "tinyproxy": _command("tinyproxy"),
    "util-linux": _command("unshare"),
    "chromium": _command("chromium", "chromium-browser"),
    "fonts-noto-cjk": _cjk_font,
    # the offline edition's readers and checkers (tests/test_zim.py): kiwix-serve, zimcheck
    "kiwix-tools": _command("kiwix-serve"),
    "zim-tools": _command("zimcheck"),
}


def missing() -> list[str]:
    """The Debian packages the tests need that this machine lacks."""
    return [package for package, present in REQUIREMENTS.items() if not present()]


def install(packages: list[str]) -> None:
    """Install *packages* with apt-get, as root or through ``sudo -n``; raise SystemExit with one
    line when that cannot be done here."""
    if os.geteuid() == 0:
        prefix: list[str] = []
    elif shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        prefix = ["sudo", "-n"]
    else:
        raise SystemExit(f"the tests need {', '.join(packages)}: install them as root "
                         f"(apt-get install {' '.join(packages)}), then run pytest")
    if not shutil.which("apt-get"):
        raise SystemExit(f"the tests need {', '.join(packages)}, and this machine has no apt-get: "
                         "install them with its package manager")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*prefix, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", *packages], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def main() -> None:
    from tests.pywb import wayback

    if needed := missing():
        print(f"installing {', '.join(needed)} (apt-get)", file=sys.stderr)
        install(needed)
        if still := missing():
            raise SystemExit(f"still missing after apt-get: {', '.join(still)}")
    # pywb's virtualenv, made up front so that its install shows here, not inside a test
    wayback()
    print("the tests' programs are installed", file=sys.stderr)


if __name__ == "__main__":
    main()
