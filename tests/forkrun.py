"""The ``newsspider`` command run as ``python -m newsspider`` runs it, without paying for its imports.

A test that runs the command (``tests.conftest.run_cli``) wants what a user gets: a process of its
own, with its own exit status, standard output and error, working directory and environment, and
nothing of the test process's state (no reactor, no logging set-up, no threads).  Starting Python
and importing Scrapy, Twisted and newsspider costs about a second of CPU, paid some 250 times a
suite.  So the command runs in a process forked from multiprocessing's *fork server*: a clean,
single-threaded process started once, that imported those modules and nothing else, and forks a
child for each run.  The child takes the test's working directory and environment, writes its
output to files, runs the command's ``main`` with the program name ``python -m`` gives it, and
exits with its status.  :func:`start` starts one without waiting, for a test that kills it with
SIGKILL (which no process can tell from how it was started).  Tests of the process itself (the
signals it handles, what ``ps`` shows, a terminal, limits set before it starts) start
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
        if fd == 2 and err == out:  # stderr into stdout (subprocess's stderr=STDOUT): one file, one offset
            os.dup2(1, 2)
            break
        target = os.open(path, os.O_WRONLY | os.O_TRUNC)
        os.dup2(target, fd)
        os.close(target)
    # the streams as the interpreter made them at start (the locale's encoding and error handlers)
    sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False),  # noqa: SIM115
                                  encoding=sys.__stdout__.encoding,
                                  errors=sys.__stdout__.errors)
    sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False),  # noqa: SIM115
                                  encoding=sys.__stderr__.encoding,
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


def run(args: Sequence[str], *, cwd: Path | str | None = None, timeout: float | None = None,
        env: Mapping[str, str] | None = None, merge: bool = False) -> subprocess.CompletedProcess[str]:
    """``python -m newsspider ARGS`` in *cwd* with *env* (default: this process's environment): its status
    and output (with *merge*, stderr written into stdout as ``stderr=subprocess.STDOUT`` does)."""
    command = [sys.executable, "-m", "newsspider", *args]
    environ = dict(os.environ if env is None else env)
    if os.environ.get("NEWSSPIDER_TEST_SUBPROCESS"):
        return subprocess.run(command, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT if merge else subprocess.PIPE, text=True, cwd=cwd,
                              timeout=timeout, env=environ)
    started = start(args, cwd=cwd, env=environ, merge=merge)
    try:
        status = started.wait(timeout)
    except subprocess.TimeoutExpired:
        started.kill()
        started.wait()
        raise subprocess.TimeoutExpired(command, timeout or 0, started.stdout(), started.stderr()) from None
    finally:
        out, err = started.stdout(), started.stderr()
        started.close()
    return subprocess.CompletedProcess(command, status, out, None if merge else err)


class Started:
    """A command running in a forked process (:func:`start`): a real process of its own, to kill or wait
    for, whose output is read from files once it has ended."""

    def __init__(self, args: Sequence[str], cwd: Path | str | None, environ: Mapping[str, str],
                 merge: bool) -> None:
        self._scratch = tempfile.TemporaryDirectory(prefix="newsspider-run-")
        self._out = Path(self._scratch.name, "stdout")
        self._err = self._out if merge else Path(self._scratch.name, "stderr")
        self._out.touch()
        self._err.touch()
        self._process = _context.Process(target=_command, args=(
            list(args), None if cwd is None else str(cwd), dict(environ), str(self._out), str(self._err)))
        self._process.start()

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    def poll(self) -> int | None:
        """Its exit status (negative: the signal that ended it), or None while it runs."""
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        """Its exit status once it has ended; :class:`subprocess.TimeoutExpired` after *timeout* seconds."""
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired("newsspider", timeout or 0)
        return self._process.exitcode

    def kill(self) -> None:
        """SIGKILL, as :meth:`subprocess.Popen.kill`."""
        if self._process.exitcode is None:
            self._process.kill()

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Its stdout and stderr once it has ended (as :meth:`subprocess.Popen.communicate`); the
        files are then removed."""
        self.wait(timeout)
        out, err = self.stdout(), self.stderr()
        self.close()
        return out, err

    def stdout(self) -> str:
        return _read(self._out)

    def stderr(self) -> str:
        return _read(self._err)

    def close(self) -> None:
        """Forget its output files (once it has ended)."""
        self._scratch.cleanup()


def start(args: Sequence[str], *, cwd: Path | str | None = None, env: Mapping[str, str] | None = None,
          merge: bool = False) -> Started:
    """``python -m newsspider ARGS`` started in a forked process, not waited for: for a test that kills
    it with SIGKILL, which nothing in a process can tell from how it was started (signals that a
    process handles, and what ``ps`` shows, are tested on ``python -m newsspider`` itself)."""
    return Started(args, cwd, dict(os.environ if env is None else env), merge)


def _read(path: Path) -> str:
    # as subprocess's text mode reads a pipe: the locale's encoding (UTF-8 here), universal newlines
    return path.read_bytes().decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
