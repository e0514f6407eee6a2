"""pywb, the replay tool, for the tests: in a virtualenv of its own (it pins redis 2.x).

``python -m tests.pywb`` makes it (``.ci/run`` does, so that CI's log shows
it); the tests make it on first use otherwise.  ``NEWSSPIDER_TEST_WAYBACK``
names another ``wayback`` executable to use.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

PYWB = "pywb==2.10.0"


def wayback() -> Path:
    """pywb's ``wayback`` server command, installed when missing."""
    if given := os.environ.get("NEWSSPIDER_TEST_WAYBACK"):
        return Path(given)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsspider-tests"
    venv = cache / PYWB.replace("==", "-")
    command = venv / "bin" / "wayback"
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(cache / ".pywb.lock"):
        if not command.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                            "--disable-pip-version-check", PYWB], check=True)
    return command


if __name__ == "__main__":
    print(wayback())
