"""The docs: the site builds with warnings as errors, every command they show is a command newsspider
takes, and the samples of output are what newsspider prints."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import click
import pytest

from newsspider.cli import main
from tests.conftest import run_cli

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHELL = {"sh", "bash", "console", "shell"}


def shell_lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, line)`` of each line of the page's shell code blocks, continuations joined."""
    found, fence, pending, start = [], None, "", 0
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if line.startswith("```"):
            fence = line[3:].strip() if fence is None else None
            continue
        if fence in SHELL:
            if not pending:
                start = number
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            found.append((start, pending + line))
            pending = ""
    return found


def newsspider_commands(line: str) -> list[list[str]]:
    """The ``newsspider`` invocations of one shell line: its words after ``newsspider``, one list each
    (commands joined by ``&&``, ``;`` or ``|``; environment assignments before a command skipped).

    >>> newsspider_commands("pip install . && newsspider demo   # install, then crawl")
    [['demo']]
    >>> newsspider_commands("https_proxy=socks5h://127.0.0.1:1080 newsspider crawl")
    [['crawl']]
    """
    words = shlex.split(line, comments=True)
    commands, current = [], []
    for word in [*words, "&&"]:
        if word in {"&&", ";", "|", "||"}:
            while current and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", current[0]):
                current.pop(0)
            if current and current[0] == "newsspider":
                commands.append(current[1:])
            current = []
        else:
            current.append(word)
    return commands


def _unparsed(ctx: click.Context) -> list[str]:
    """A group's subcommand and its arguments (click 8.2+ deprecates protected_args; pinned below 9)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [*ctx.protected_args, *ctx.args]


def parse(args: list[str]) -> None:
    """Parse ``newsspider ARGS`` as the command would, without running it (click raises on a command,
    option or value it does not take)."""
    command: click.Command = main
    ctx = command.make_context("newsspider", list(args), resilient_parsing=False)
    while isinstance(command, click.Group) and (tokens := _unparsed(ctx)):
        name, *rest = tokens
        sub = command.get_command(ctx, name)
        if sub is None:
            raise click.UsageError(f"no such command {name!r}")
        command, ctx = sub, sub.make_context(name, rest, parent=ctx, resilient_parsing=False)


def test_the_docs_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    build = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)]
    result = subprocess.run(build, cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    settings = (tmp_path / "reference" / "settings" / "index.html").read_text("utf-8")
    from newsspider.crawl.addon import DEFAULTS

    assert all(name in settings for name in DEFAULTS), "a setting is missing from the settings page"
    cli = (tmp_path / "reference" / "cli" / "index.html").read_text("utf-8")
    assert "newsspider dataset search" in cli and "--since" in cli
    record = (tmp_path / "record" / "index.html").read_text("utf-8")
    assert "<code>content_hash</code>" in record and "sha256:" in record.lower()


def test_every_command_in_the_docs_is_one_newsspider_takes() -> None:
    shown, wrong = 0, []
    for page in PAGES:
        for number, line in shell_lines(page):
            for args in newsspider_commands(line):
                shown += 1
                try:
                    parse(args)
                except click.exceptions.Exit:  # --help, --version
                    pass
                except click.ClickException as exc:
                    wrong.append(f"{page.relative_to(ROOT)}:{number}: newsspider {shlex.join(args)}: "
                                 f"{exc.format_message()}")
    assert not wrong, "\n".join(wrong)
    assert shown >= 40, f"only {shown} commands found: is the shell-block reader broken?"


@pytest.mark.parametrize("args", [["crawl", "--no-such-option"], ["nosuchcommand"],
                                  ["dataset", "serach", "x"], ["dataset", "export", "x", "--format", "doc"],
                                  ["demo", "--port", "x"]])
def test_the_command_check_can_fail(args: list[str]) -> None:
    with pytest.raises(click.ClickException):
        parse(args)


def _mask(text: str) -> str:
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    text = re.sub(r"\b\d\d:\d\d:\d\d\b", "HH:MM:SS", text)
    text = re.sub(r"\(\d+(\.\d+)?/s\)", "(N/s)", text)
    text = re.sub(r"\(\d{1,3}(,\d{3})* bytes\)", "(N bytes)", text)  # a shard's size: ports, offsets
    # a few responses more or fewer, as redirects and shortlinks race with the articles they lead to
    return re.sub(r"Web archive: \d+ responses", "Web archive: N responses", text)


def _block_after(text: str, phrase: str, kind: str) -> str:
    start = text.index(phrase)
    return text[start:].split(f"```{kind}\n", 1)[1].split("```", 1)[0]


def output_samples(path: Path) -> list[tuple[int, str, list[str]]]:
    """``(line number, command, output lines)`` of each ``$ newsspider …`` sample in a page's plain blocks."""
    found: list[tuple[int, str, list[str]]] = []
    fence = None
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if line.startswith("```"):
            fence = line[3:].strip() if fence is None else None
        elif fence == "" and line.startswith("$ newsspider "):
            found.append((number, line[2:], []))
        elif fence == "" and found and found[-1][0] < number and line.startswith("$ "):
            found.append((number, "", []))  # another program's: not checked here
        elif fence == "" and found:
            found[-1][2].append(line)
    return [sample for sample in found if sample[1]]


def test_the_readme_shows_what_the_demo_prints(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    result = run_cli("demo", "--data-dir", "data/demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    printed = [_mask(line) for line in (result.stdout + result.stderr).splitlines()]
    shown = [_mask(line) for line in _block_after(readme, "crawls it, and prints", "text").splitlines()]
    assert [line for line in shown if line not in printed] == [], "README lines the demo does not print"
    # and the demo prints nothing the README leaves out
    assert [line for line in _mask(result.stdout).splitlines() if line not in shown] == []

    record = json.loads(_block_after(readme, "## One record", "json"))
    stored = next(json.loads(line) for line in (tmp_path / "data/demo/articles.jsonl").open(encoding="utf-8")
                  if json.loads(line)["article_id"] == record["article_id"])
    assert stored["body"].startswith(record["body"].rstrip("…"))
    for varying in ("body", "crawled_at", "warc"):  # cut short, the time, where in the WARC
        record.pop(varying), stored.pop(varying)
    assert json.loads(_mask(json.dumps(record))) == json.loads(_mask(json.dumps(stored)))

    # every sample of what a dataset command prints over the demo's data is what it prints
    checked = 0
    for page in PAGES:
        for number, command, shown_lines in output_samples(page):
            args = shlex.split(command)[1:]
            if args[0] != "dataset" or "data/demo" not in args:
                continue
            printed = run_cli(*args, cwd=tmp_path)
            assert printed.returncode == 0, printed.stderr
            where = f"{page.relative_to(ROOT)}:{number}"
            assert _mask(printed.stdout).splitlines() == [_mask(line) for line in shown_lines], where
            checked += 1
    assert checked >= 3


def test_the_docs_serve_the_demo_one_way_and_crawl_it_into_their_own_data_dirs() -> None:
    """A reader has newsspider, not this repository's tests: the demo site is `newsspider demo --serve`,
    at the port the examples use; a sample that crawls it crawls into a data dir of its own (the
    README's demo fills data/demo, so a sample crawling into it would store nothing); and the demo
    site's changes (new articles, an edit), which the recurring crawls are tried with, are told."""
    pages = {page: page.read_text("utf-8") for page in PAGES}
    assert [page.name for page, text in pages.items() if "newsspider.demo.server" in text] == []
    uses = [page.name for page, text in pages.items() if "127.0.0.1:8000/bnews/" in text]
    assert uses and all("demo --serve --port 8000" in pages[ROOT / "README.md"] + pages[page]
                        for page in PAGES if page.name in uses)
    into_demo = [f"{page.name}:{number}" for page in PAGES for number, command, _ in output_samples(page)
                 if command.split()[1] == "crawl" and "--data-dir data/demo " in command + " "]
    assert into_demo == []
    recurring = pages[ROOT / "docs" / "recurring.md"]
    assert "/__add__?n=" in recurring and "/__edit__?id=" in recurring
