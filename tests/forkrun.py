"""The ``newsspider`` command run as ``python -m newsspider`` runs it, without paying for its imports.

A test that runs the command (``tests.conftest.run_cli``) wants what a user gets: a process of its
own, with its own exit status, standard output and error, working directory and environment, and
nothing of the test process's state (no reactor, no logging set-up, no threads).  Starting Python
and importing Scrapy, Twisted and newsspider costs about a second of CPU, paid some 250 times a
suite.  So the command runs in a process forked from multiprocessing's *fork server*: a clean,
single-threaded process started once, that imported those modules and nothing else, and forks a
child for each run.  The child takes the test's working directory and environment, writes its
output to files, runs the command's ``main`` with the program name ``python -m`` gives it, and
exits with its status.  Tests of the process itself (signals, kills, what ``ps`` shows) start
``python -m newsspider`` with :mod:`subprocess` as before.

``NEWSSPIDER_TEST_SUBPROCESS=1`` runs every command in a new interpreter instead (the old way), to
check that the two agree.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

#: what the fork server imports once, so that no command run pays for it again
PRELOAD = [
    "tests.forkrun", "newsspider.cli", "newsspider.run.runner", "newsspider.crawl.addon",
    "newsspider.spiders.bannedbook", "scrapy.crawler", "scrapy.core.engine", "scrapy.core.downloader",
    "scrapy.core.scraper", "twisted.internet.asyncioreactor", "newsspider.views.search.database",
]

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)


def _command(args: Sequence[str], cwd: str | None, environ: Mapping[str, str], out: str, err: str) -> None:
    """The child: the command as a new process would run it; exits with its status."""
    import logging

    os.environ.clear()
    os.environ.update(environ)
    if cwd is not None:
        os.chdir(cwd)
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_TRUNC)
        os.dup2(target, fd)
        os.close(target)
    # the streams as the interpreter made them at start (the locale's encoding and error handlers)
    sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False),  # noqa: SIM115 encoding=sys.__stdout__.encoding,
                                  errors=sys.__stdout__.errors)
    sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False),  # noqa: SIM115 encoding=sys.__stderr__.encoding,
                                  errors=sys.__stderr__.errors, line_buffering=True)
    sys.argv = [str(Path(__file__).parents[1] / "newsspider" / "__main__.py"), *args]
    status = 0
    try:
        from newsspider.cli import main

        main.main(args=list(args), prog_name="python -m newsspider")
    except SystemExit as exc:  # what the interpreter makes of it
        if exc.code is None:
            status = 0
        elif isinstance(exc.code, int):
            status = exc.code
        else:
            print(exc.code, file=sys.stderr)
            status = 1
    except BaseException:
        import traceback

        traceback.print_exc()
        status = 1
    finally:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError):
                stream.flush()
    os._exit(status)


def run(args: Sequence[str], *, cwd: Path | str | None = None,
        timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m newsspider ARGS`` in *cwd* with this process's environment: its status and output."""
    command = [sys.executable, "-m", "newsspider", *args]
    if os.environ.get("NEWSSPIDER_TEST_SUBPROCESS"):
        return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=timeout)
    with tempfile.TemporaryDirectory(prefix="newsspider-run-") as scratch:
        out, err = Path(scratch, "stdout"), Path(scratch, "stderr")
        out.touch()
        err.touch()
        child = _context.Process(target=_command, args=(list(args), None if cwd is None else str(cwd),
                                                        dict(os.environ), str(out), str(err)))
        child.start()
        child.join(timeout)
        if child.exitcode is None:
            child.kill()
            child.join()
            raise subprocess.TimeoutExpired(command, timeout or 0, _read(out), _read(err))
        return subprocess.CompletedProcess(command, child.exitcode, _read(out), _read(err))


def _read(path: Path) -> str:
    # as subprocess's text mode reads a pipe: the locale's encoding (UTF-8 here), universal newlines
    return path.read_bytes().decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
