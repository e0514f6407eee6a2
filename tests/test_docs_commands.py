"""Every command the docs show, run as a reader would: against ``newsspider demo --serve``.

The live site, proxies, Redis and the notification receivers the docs name
stand for local ones, started here: the demo site for the site, real proxies
(microsocks with and without a password, tinyproxy) behind a host name only
they resolve, a real redis-server, an HTTP receiver and an SMTP server.  A
command is run with the names it shows replaced (:func:`localise`), in the
order the pages show them, in one directory, so that ``newsspider runs data``
reads the crawls the commands before it made.  Commands that keep running
(``schedule``, ``browse``) are stopped once they have shown they work.

The samples of what a crawl prints are run too, each in the situation the
text around it sets up, and must print what they show.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

from tests import forkrun
from tests.conftest import DEGRADED, FAST, REPO
from tests.mockserver import MockServer
from tests.proxies import NAME, HttpProxy, Proxy, Socks
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.test_distributed import RedisServer
from tests.test_docs import PAGES, output_samples, shell_lines

# One worker runs this module (the docs' commands run in order in one working directory).
pytestmark = pytest.mark.xdist_group("docs_commands")

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
SERVING = {"--every": " INFO Crawl finished: ", "--cron": "scheduler started",
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
        done = (forkrun.run(command[3:], cwd=cwd, env=env, timeout=300) if command[2] == "newsspider" else
                subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300))
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


# --- what the docs show a crawl printing -------------------------------------------------------
#
# The samples of crawling.md and monitoring.md (a ``$ newsspider …`` line, then what it printed) are
# run against the situation the text around them sets up, and must print what they show: each line
# shown, in that order (a "…" line stands for lines left out), with the times, rates and the
# ports this machine gave standing for those shown.

#: the ports the samples show, and what each stands for
SHOWN_PORTS = {"site": 8000, "proxy": 1080, "dead proxy": 1081, "nothing": 8001}


def _mask(text: str) -> str:
    text = re.sub(r"\b\d\d:\d\d:\d\d\b", "HH:MM:SS", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", text)
    text = re.sub(r"\(\d+(\.\d+)?/s\)", "(N/s)", text)
    text = re.sub(r"\d+(\.\d+)? pages/s", "N pages/s", text)
    text = re.sub(r" in \d+\.\d s\b", " in N s", text)
    return re.sub(r"Chromium \d+(\.\d+)+", "Chromium N", text)


def _in_order(shown: list[str], printed: list[str]) -> list[str]:
    """The shown lines that the printed ones do not hold in that order ("…" skips any lines; the
    progress lines, which come with time, are left out on both sides)."""
    missing, at = [], 0
    printed = [line for line in printed if " INFO progress: " not in line]
    for line in shown:
        if line.strip() in ("…", "") or " INFO progress: " in line:
            continue
        try:
            at = printed.index(line, at) + 1
        except ValueError:
            missing.append(line)
    return missing


def crawl_samples(page: str) -> dict[str, list[str]]:
    """The samples of a page: command (``newsspider …``, a comment cut) -> the lines shown."""
    samples = output_samples(REPO / "docs" / page)
    return {command.split("#")[0].strip(): lines for _, command, lines in samples}


def _free_port() -> int:
    """A port nothing listens on (the samples' proxy that is down and site that is not there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: crawling.md's samples: what the text around each sets up on the site, and the exit status
SITUATIONS: dict[str, tuple[dict[str, Any] | None, int]] = {
    "--proxy socks5h://127.0.0.1:1080": (None, 0),  # through a local SOCKS proxy
    "--proxy socks5h://alice:pw@127.0.0.1:1081": (None, 1),  # the proxy is down
    "http://127.0.0.1:8001/bnews/": (None, 1),  # nothing there
    "--browser": ({"mode": "all", "uses": 30}, 0),  # every page challenged, 30 requests a clearance
    "--data-dir data/challenged -s": ({"mode": "listings"}, DEGRADED),  # the challenge on deeper listings
    "--data-dir data/other -s": ({"mode": "all"}, 1),  # every page but robots.txt challenged
}


def situation(command: str) -> tuple[dict[str, Any] | None, int]:
    """The situation of the sample *command*: the first of :data:`SITUATIONS` it names."""
    return next(value for key, value in SITUATIONS.items() if key in command)


def run_sample(command: str, ports: dict[str, int], cwd: Path) -> tuple[int, list[str]]:
    """Run a sample's command with this machine's ports; its exit status and what it printed
    (stdout and stderr as a terminal shows them), masked, with the shown ports back."""
    words = shlex.split(command)[1:]
    for name, port in ports.items():
        words = [word.replace(f"127.0.0.1:{SHOWN_PORTS[name]}", f"127.0.0.1:{port}") for word in words]
    if words[0] == "crawl" and "--start-url" not in words:  # the live site's front page
        words += ["--start-url", f"http://127.0.0.1:{ports['site']}/bnews/", *FAST]
    done = forkrun.run(words, cwd=cwd, timeout=300, merge=True)  # stdout and stderr as a terminal shows them
    lines = [_mask(line) for line in done.stdout.splitlines()]
    for name, port in ports.items():
        lines = [line.replace(f"127.0.0.1:{port}", f"127.0.0.1:{SHOWN_PORTS[name]}") for line in lines]
    return done.returncode, lines


CRAWL_SAMPLES = crawl_samples("crawling.md")


def test_every_crawl_sample_has_its_situation() -> None:
    assert len(CRAWL_SAMPLES) == 6, list(CRAWL_SAMPLES)
    assert all(situation(command) for command in CRAWL_SAMPLES)


@pytest.mark.parametrize("command", list(CRAWL_SAMPLES),
                         ids=[next(key for key in SITUATIONS if key in c) for c in CRAWL_SAMPLES])
def test_every_crawl_sample_in_the_docs_is_what_newsspider_prints(command: str, mockserver: MockServer,
                                                                   tmp_path: Path) -> None:
    challenge, status = situation(command)
    if challenge:
        mockserver.challenge(**challenge)
    with Socks() as proxy:
        ports = {"site": int(mockserver.root.rsplit(":", 1)[1]), "proxy": proxy.port,
                 "dead proxy": _free_port(), "nothing": _free_port()}
        returncode, printed = run_sample(command, ports, tmp_path)
    assert returncode == status, "\n".join(printed)
    assert _in_order([_mask(line) for line in CRAWL_SAMPLES[command]], printed) == [], "\n".join(printed)


def test_the_degraded_run_in_the_monitoring_page_is_what_newsspider_prints(mockserver: MockServer,
                                                                            tmp_path: Path) -> None:
    """monitoring.md: a crawl, then the site renames ``p#summary`` and publishes 30 articles, then
    the crawl shown (exit 3) and ``runs data --run 2``."""
    samples = crawl_samples("monitoring.md")
    assert list(samples) == ["newsspider crawl --data-dir data", "newsspider runs data --run 2"]
    ports = {"site": int(mockserver.root.rsplit(":", 1)[1])}
    assert run_sample("newsspider crawl --data-dir data", ports, tmp_path)[0] == 0
    mockserver.add_articles(30)
    mockserver.rewrite('<p id="summary">', '<p class="lead">')
    for command, status in zip(samples, (DEGRADED, 0), strict=True):
        returncode, printed = run_sample(command, ports, tmp_path)
        assert returncode == status, "\n".join(printed)
        assert _in_order([_mask(line) for line in samples[command]], printed) == [], "\n".join(printed)
