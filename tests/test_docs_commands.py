"""Every command the docs show, run as a reader would: against ``newsspider demo --serve``.

The live site, proxies, Redis and the notification receivers the docs name
stand for local ones, started here: the demo site for the site, real proxies
(microsocks with and without a password, tinyproxy) behind a host name only
they resolve, a real redis-server, an HTTP receiver and an SMTP server.  A
command is run with the names it shows replaced (:func:`localise`), in the
order the pages show them, in one directory, so that ``newsspider runs data``
reads the crawls the commands before it made.  Commands that keep running
(``schedule``, ``browse``) are stopped once they have shown they work.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.request import urlopen

import pytest

from tests.conftest import FAST, REPO
from tests.proxies import NAME, HttpProxy, Proxy, Socks
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.test_distributed import RedisServer
from tests.test_docs import PAGES, shell_lines

#: what a command's words name, and what stands for it here (filled in by the stand_ins fixture)
LIVE = "https://www.bannedbook.org"
SHOWN_LOCAL_SITE = "http://127.0.0.1:8000"
SHOWN_PROXIES = ["socks5h://127.0.0.1:1080", "http://127.0.0.1:8787", "socks5h://user:password@proxy.example:1080",
                 "socks5h://127.0.0.1:9050", "socks5h://10.0.0.5:1080", "socks5h://10.0.0.6:1080",
                 "http://10.0.0.7:3128"]
SHOWN_REDIS = "redis://redis.example.internal:6379/0"
SHOWN_WEBHOOK = "https://hooks.example.org/newsspider"
#: commands that crawl or count the site: they get the stand-in site's address and the test's speed
CRAWLING = {"crawl", "schedule", "estimate"}
#: the commands that run until stopped, and what they print or serve once they work
SERVING = {"--every": "crawl ended with exit status 0", "--cron": "scheduler started",
           "browse": "(read-only; Ctrl-C stops)"}


@dataclass
class Shown:
    """A command as a page shows it: the environment set before it and its words."""

    where: str
    env: dict[str, str]
    words: list[str]

    @property
    def subcommand(self) -> str:
        return self.words[1] if len(self.words) > 1 else ""


def shown_commands() -> list[Shown]:
    """The ``newsspider`` and ``scrapy crawl`` commands of the docs' shell blocks, in page order."""
    found = []
    for page in PAGES:
        for number, line in shell_lines(page):
            words, current = shlex.split(line, comments=True), []
            for word in [*words, "&&"]:
                if word not in {"&&", ";", "|", "||"}:
                    current.append(word)
                    continue
                env = {}
                while current and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", current[0]):
                    name, value = current.pop(0).split("=", 1)
                    env[name] = value
                if current[:1] == ["newsspider"] or current[:2] == ["scrapy", "crawl"]:
                    found.append(Shown(f"{page.relative_to(REPO)}:{number}", env, current))
                current = []
    return found


@dataclass
class StandIns:
    site: str  # the demo site's root, http://127.0.0.1:PORT
    replace: dict[str, str]
    smtp_port: int

    def localise(self, shown: Shown, workdir: Path) -> tuple[list[str], dict[str, str]]:
        """The command to run for *shown*, and its environment.

        A proxied command reaches the site under a name only the proxies
        resolve, so it works only through them; the live site's ``https_proxy``
        stands for the demo's ``http_proxy`` too (the demo is plain HTTP).
        """
        proxied = any(word in SHOWN_PROXIES for word in [*shown.words, *shown.env.values()])
        site = self.site.replace("127.0.0.1", NAME) if proxied else self.site
        words = []
        for word in shown.words:
            for name, local in {LIVE: site, SHOWN_LOCAL_SITE: site, "/srv/archive": str(workdir / "srv"),
                                "NEWSSPIDER_DATA_DIR=data": f"NEWSSPIDER_DATA_DIR={workdir / 'data'}",
                                **self.replace}.items():
                word = word.replace(name, local)
            words.append(word)
        env = {name: self.replace.get(value, value) for name, value in shown.env.items()}
        if "https_proxy" in env:
            env["http_proxy"] = env["https_proxy"]
        if words[0] == "scrapy":
            return [sys.executable, "-m", "scrapy", *words[1:], *FAST], env
        command, rest = words[1], words[2:]
        if command in CRAWLING:
            rest = FAST + rest  # the command's own settings after: they win
            if "--start-url" not in rest:  # the live site's front page, as default
                rest += ["--start-url", f"{site}/bnews/"]
        if any(word.startswith("NEWSSPIDER_SMTP_HOST=") for word in rest):
            rest += ["-s", f"NEWSSPIDER_SMTP_PORT={self.smtp_port}"]
        return [sys.executable, "-m", "newsspider", command, *rest], env


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reader")


@pytest.fixture(scope="module")
def stand_ins(workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIns]:
    demo = subprocess.Popen([sys.executable, "-m", "newsspider", "demo", "--serve"], cwd=workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert demo.stdout is not None
    site = ""
    for line in demo.stdout:
        if match := re.match(r"Serving the demo site at (http://127\.0\.0\.1:\d+)/bnews/", line):
            site = match[1]
            break
    assert site, f"newsspider demo --serve did not serve: {demo.stderr.read() if demo.stderr else ''}"
    proxies: list[Proxy] = [Socks(), HttpProxy(), Socks("user", "password"), Socks(), Socks(), Socks(),
                            HttpProxy()]
    redis = RedisServer(tmp_path_factory.mktemp("redis"), "--save", "", "--appendonly", "no").start()
    try:
        for proxy in proxies:
            proxy.start()
        with HttpReceiver() as hook, SmtpReceiver() as smtp:
            replace = dict(zip(SHOWN_PROXIES, (proxy.url for proxy in proxies), strict=True))
            replace |= {SHOWN_REDIS: redis.url(), SHOWN_WEBHOOK: hook.url("/newsspider"),
                        "NEWSSPIDER_SMTP_HOST=localhost": "NEWSSPIDER_SMTP_HOST=127.0.0.1"}
            yield StandIns(site, replace, smtp.port)
    finally:
        for proxy in proxies:
            proxy.stop()
        redis.stop()
        demo.send_signal(signal.SIGINT)  # Ctrl-C: the demo site stops, and says nothing went wrong
        assert demo.wait(timeout=30) == 0


SHOWN = shown_commands()


def _run_until_it_works(command: list[str], env: dict[str, str], cwd: Path, sign: str) -> tuple[int, str]:
    """Start a command that runs until stopped; once it shows *sign* (printed, or a page it serves),
    stop it as a user would (Ctrl-C) and return its exit status and output."""
    log = cwd / "serving.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        printed = log.read_text("utf-8", "replace")
        if sign in printed:
            served = re.search(r"http://127\.0\.0\.1:\d+/\S+", printed)
            if served is None:
                break
            try:  # and it serves what it says it does
                with urlopen(served[0], timeout=5) as page:
                    if page.status == 200:
                        break
            except OSError:
                pass
        time.sleep(0.2)
    else:
        proc.kill()
        proc.wait()
        pytest.fail(f"{shlex.join(command)} did not show {sign!r}: {log.read_text('utf-8', 'replace')}")
    proc.send_signal(signal.SIGINT)
    status = proc.wait(timeout=120)
    return status, log.read_text("utf-8", "replace")


def test_the_shown_commands_are_found() -> None:
    kinds = {shown.subcommand for shown in SHOWN}
    assert len(SHOWN) >= 45 and {"crawl", "schedule", "browse", "dataset", "runs", "reextract"} <= kinds
    assert any(shown.env for shown in SHOWN), "the environment before a command was lost"


@pytest.mark.parametrize("shown", SHOWN, ids=[shown.where for shown in SHOWN])
def test_every_command_shown_in_the_docs_works(shown: Shown, stand_ins: StandIns, workdir: Path) -> None:
    command, env = stand_ins.localise(shown, workdir)
    env = {**os.environ, "HOME": str(workdir), "NO_COLOR": "1", **env}
    cwd = REPO if shown.words[0] == "scrapy" else workdir
    serving = [SERVING[word] for word in command[3:] if word in SERVING]
    if serving and command[2] == "newsspider":
        status, output = _run_until_it_works(command, env, cwd, serving[0])
    else:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        status, output = done.returncode, done.stdout + done.stderr
    assert status == 0, f"{shown.where}: {shlex.join(shown.words)} ran as {shlex.join(command)}:\n{output}"
    assert "Traceback" not in output
    for secret in ("password@", ":password"):
        assert secret not in output, "a proxy password was printed"
    if shown.words == ["newsspider", "demo"]:  # after the demo --serve above: "it stores nothing"
        assert ", 0 stored, " in output, output
    if command[2:4] == ["newsspider", "crawl"]:
        assert re.search(r"^Crawl finished: [1-9]\d* pages", output, re.MULTILINE), output


def python_blocks() -> list[tuple[str, str]]:
    """``(where, code)`` of each ``python`` block of the docs."""
    found = []
    for page in PAGES:
        lines = page.read_text("utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if line.strip() == "```python":
                end = lines.index("```", number)
                found.append((f"{page.relative_to(REPO)}:{number}", "\n".join(lines[number:end])))
    return found


@pytest.mark.parametrize(("where", "code"), python_blocks(), ids=[where for where, _ in python_blocks()])
def test_every_python_example_in_the_docs_runs(where: str, code: str, stand_ins: StandIns,
                                               workdir: Path) -> None:
    """After the commands above: the data dirs they made are there to read."""
    env = {**os.environ, "HF_HOME": str(workdir / "hf"), "HF_DATASETS_OFFLINE": "1"}
    checked = code + "\nprint('ran', len(locals()))\n"
    done = subprocess.run([sys.executable, "-c", checked], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and "ran" in done.stdout, f"{where}:\n{done.stderr}"
