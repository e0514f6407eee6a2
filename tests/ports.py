"""Ports the servers the tests start chose themselves (port 0), read back from /proc."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


def listening_port(pid: int) -> int | None:
    """The TCP port process *pid* listens on (read from /proc: the process picked it itself)."""
    try:
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[len("socket:["):-1]
                  for fd in os.listdir(f"/proc/{pid}/fd")
                  if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")}
        lines = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
            return int(fields[1].rsplit(":", 1)[1], 16)
    return None


def wait_listening(proc: subprocess.Popen[str] | subprocess.Popen[bytes], timeout: float = 30) -> int:
    """The port *proc* listens on, once it does (it was started with port 0)."""
    deadline = time.monotonic() + timeout
    while (port := listening_port(proc.pid)) is None:
        assert proc.poll() is None, f"the server exited with status {proc.returncode}"
        assert time.monotonic() < deadline, "the server did not listen"
        time.sleep(0.05)
    return port
