"""The docs: the site builds with warnings as errors, the reference pages' generated parts are what the code
writes now, every command they show is a command newsspider takes, and the samples of output are what
newsspider prints."""

from __future__ import annotations

import ast
import importlib.metadata
import io
import json
import os
import re
import shlex
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from cogapp import Cog

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

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


#: the command that writes the generated parts into the pages (docs/contributing.md shows it)
REGENERATE = "cog -r -I docs docs/*.md docs/reference/*.md"


def cog_check(pages: list[Path]) -> tuple[int, str]:
    """``cog --check`` over *pages* (their generated parts written by ``docs/generate.py``): its exit
    status (0: all up to date, 5: a part differs) and what it printed (the difference)."""
    said = io.StringIO()
    cog = Cog()
    cog.set_output(stdout=said, stderr=said)
    status = cog.main(["cog", "--check", "--diff", "-I", str(ROOT / "docs"), *map(str, pages)])
    return status, said.getvalue()


def test_the_reference_pages_hold_what_the_code_writes_now() -> None:
    """The generated parts are in the files (they read the same on GitHub as on the site), and they are
    what ``docs/generate.py`` writes from the code now."""
    from newsspider.crawl.addon import DEFAULTS

    settings = (ROOT / "docs" / "reference" / "settings.md").read_text("utf-8")
    assert all(f"`{name}`" in settings for name in DEFAULTS), "a setting is missing from settings.md"
    assert "## `newsspider dataset search`" in (ROOT / "docs" / "reference" / "cli.md").read_text("utf-8")
    assert "| `content_hash` |" in (ROOT / "docs" / "record.md").read_text("utf-8")
    status, said = cog_check(PAGES[1:])
    assert status == 0, f"a generated part of the docs is out of date: run {REGENERATE}\n{said}"


def test_the_generated_parts_check_can_fail(tmp_path: Path) -> None:
    page = tmp_path / "cli.md"
    page.write_text((ROOT / "docs" / "reference" / "cli.md").read_text("utf-8").replace("--since", "--sinse"),
                    "utf-8")
    status, said = cog_check([page])
    assert status == 5 and "--sinse" in said, said  # the check fails and shows the difference


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
    shown = [_mask(line) for line in _block_after(readme, "and prints what it stored", "text").splitlines()]
    assert [line for line in shown if line not in printed] == [], "README lines the demo does not print"
    # and the demo prints nothing the README leaves out: no other line, no warning about its own site
    assert [line for line in _mask(result.stdout).splitlines() if line not in shown] == []
    assert [line for line in result.stderr.splitlines() if " WARNING " in line or " ERROR " in line] == []

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


def test_ci_runs_the_readmes_test_command() -> None:
    """The README's second command is the one that runs the tests, and .ci/run runs it as written:
    what passes in CI is what a reader runs."""
    readme = (ROOT / "README.md").read_text("utf-8")
    block = readme.split("## Two commands", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    assert len(commands) == 2 and commands[1].endswith("pytest"), commands
    ci = (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
    assert commands[1] in ci, f".ci/run does not run the README's test command {commands[1]!r}"


def test_the_tests_setup_knows_what_the_tests_start() -> None:
    """Every program the tests start is one ``python -m tests.setup`` installs, and on this
    machine (after it ran) none is missing."""
    from tests.setup import REQUIREMENTS, missing

    assert {"redis-server", "chromium", "fonts-noto-cjk", "microsocks", "tinyproxy"} <= set(REQUIREMENTS)
    assert missing() == []


# --- the README's first command installs what the README then uses ---------------------------

#: what needs an extra: (the extra, whether a ``newsspider`` command's words need it)
NEEDS: list[tuple[str, Callable[[list[str]], bool]]] = [
    ("browse", lambda args: args[:1] == ["browse"]),
    ("data", lambda args: (args[:2] == ["dataset", "export"]
                           and _option(args, "--format") in {"xlsx", "parquet"})),
    ("archive", lambda args: args[:2] in (["dataset", "warc-index"], ["dataset", "wacz"])),
    ("browser", lambda args: "--browser" in args),
]


def _option(args: list[str], name: str) -> str | None:
    """The value of option *name* in *args* (``--name value`` or ``--name=value``)."""
    for i, word in enumerate(args):
        if word == name and i + 1 < len(args):
            return args[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]


def _distribution(requirement: str) -> str:
    """A requirement's distribution name, normalised (PEP 503).

    >>> _distribution("cdxj_indexer>=1.4,<2"), _distribution("newsspider[data,browse]")
    ('cdxj-indexer', 'newsspider')
    """
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match[0]).lower()


def pip_extras(line: str) -> set[str] | None:
    """The extras of newsspider that a shell line's ``pip install`` of this checkout names (with those
    they name in turn); None when the line installs no newsspider.

    >>> pip_extras("pip install . && newsspider demo")
    set()
    >>> sorted(pip_extras("pip install '.[data,browse]' && newsspider demo") or ())
    ['browse', 'data']
    >>> pip_extras("pip install pandas") is None
    True
    """
    optional = _pyproject()["optional-dependencies"]
    words = shlex.split(line, comments=True)
    if words[:2] != ["pip", "install"]:
        return None
    targets = [word for word in words[2:words.index("&&") if "&&" in words else None]
               if not word.startswith("-")]
    found = [re.fullmatch(r"\.(?:\[([^\]]*)\])?", target) for target in targets]
    if not any(found):
        return None
    todo = [extra.strip() for match in found if match and match[1] for extra in match[1].split(",")]
    extras: set[str] = set()
    while todo:
        extra = todo.pop()
        if extra not in extras:
            assert extra in optional, f"pip install names an extra pyproject.toml does not have: {extra}"
            extras.add(extra)
            todo += [name.strip() for requirement in optional[extra]
                     if _distribution(requirement) == "newsspider"
                     for name in requirement.split("[", 1)[1].rstrip("]").split(",")]
    return extras


def readme_needs() -> dict[str, list[str]]:
    """The extras the README's commands and Python examples need: extra -> what needs it."""
    readme = ROOT / "README.md"
    needs: dict[str, list[str]] = {}
    for _number, line in shell_lines(readme):
        for args in newsspider_commands(line):
            for extra, uses in NEEDS:
                if uses(args):
                    needs.setdefault(extra, []).append("newsspider " + shlex.join(args))
    # the Python examples: each module imported, through the distribution that provides it
    optional = _pyproject()["optional-dependencies"]
    core = {_distribution(r) for r in _pyproject()["dependencies"]}
    providers = importlib.metadata.packages_distributions()
    lines = readme.read_text("utf-8").splitlines()
    for number, line in enumerate(lines):
        if line.strip() != "```python":
            continue
        code = "\n".join(lines[number + 1:lines.index("```", number + 1)])
        for node in ast.walk(ast.parse(code)):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for module in names:
                top = module.partition(".")[0]
                for dist in map(_distribution, providers.get(top, [])):
                    if dist in core:
                        continue
                    for extra, requirements in optional.items():
                        if extra not in ("test", "docs", "all") and dist in map(_distribution, requirements):
                            needs.setdefault(extra, []).append(f"import {module}")
    return needs


def test_the_readmes_first_command_installs_what_the_readme_uses() -> None:
    first = next(line for _, line in shell_lines(ROOT / "README.md") if pip_extras(line) is not None)
    installed = pip_extras(first)
    assert installed is not None
    needs = readme_needs()
    assert {"browse", "data"} <= set(needs), f"is the README reader broken? {needs}"
    missing = {extra: uses for extra, uses in needs.items() if extra not in installed}
    assert not missing, f"the README's first command ({first!r}) does not install what it uses: {missing}"
    # and the core install stays light: what the extras add is not in it
    core = {_distribution(r) for r in _pyproject()["dependencies"]}
    assert not core & {"pandas", "pyarrow", "datasette", "playwright", "openpyxl"}


@pytest.mark.parametrize(("extra", "args", "blocked"), [
    ("browse", ["browse", "{data}", "--port", "0"], ["datasette", "uvicorn"]),
    ("data", ["dataset", "export", "{data}", "--format", "xlsx", "--out", "{data}/x.xlsx"], ["openpyxl"]),
    ("data", ["dataset", "export", "{data}", "--format", "parquet", "--out", "{data}/x.parquet"],
     ["pyarrow", "pandas"]),
    ("archive", ["dataset", "warc-index", "{data}"], ["cdxj_indexer", "wacz"]),
    ("archive", ["dataset", "wacz", "{data}", "--out", "{data}/x.wacz"], ["cdxj_indexer", "wacz"]),
])
def test_what_needs_an_extra_says_so_without_it(extra: str, args: list[str], blocked: list[str],
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """:data:`NEEDS` is right: without the extra's packages, the command it names asks for that extra."""
    from click.testing import CliRunner

    (tmp_path / "articles.jsonl").write_text("", "utf-8")
    args = [word.replace("{data}", str(tmp_path)) for word in args]
    assert [name for name, uses in NEEDS if uses(args)] == [extra]
    for module in list(sys.modules):
        if module.partition(".")[0] in blocked:
            monkeypatch.delitem(sys.modules, module)
    for module in blocked:
        monkeypatch.setitem(sys.modules, module, None)  # import module: ImportError, as when not installed
    for name, loaded in list(sys.modules.items()):  # and newsspider's modules that imported them already
        if name.startswith("newsspider.") and loaded is not None and any(
                (getattr(value, "__module__", None) or getattr(value, "__name__", None) or "")
                .partition(".")[0] in blocked
                for value in vars(loaded).values() if not isinstance(value, (str, int, float))):
            monkeypatch.delitem(sys.modules, name)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and f"pip install 'newsspider[{extra}]'" in result.output, result.output


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
