"""The generated parts of the reference pages, written from the code so that they cannot drift from it.

cog runs these functions from the blocks in the pages (``<!-- [[[cog ... ]]] -->`` ... ``<!-- [[[end]]] -->``)
and writes their output into the files, so that the pages read the same on GitHub as on the site;
``tests/test_docs.py`` fails when a page is not what they write now. Regenerate the pages with::

    cog -r -I docs docs/*.md docs/reference/*.md

- :func:`settings_table`: newsspider's settings, from ``newsspider.crawl.addon.DEFAULTS`` and the comment
  above each entry in ``newsspider/crawl/addon.py`` (a ``# --- Title ---`` comment starts a group);
- :func:`politeness_table`: the project's Scrapy settings, from ``newsspider/settings.py``;
- :func:`cli_reference`: every command's ``--help``, from the click commands;
- :func:`schema_table`: the record's fields, from ``newsspider/schema/article.schema.json``.
"""

from __future__ import annotations

import ast
import io
import json
import tokenize
from importlib import resources
from pathlib import Path
from typing import Any

import click

import newsspider.crawl.addon
import newsspider.settings
from newsspider.cli import main

PACKAGE = Path(newsspider.settings.__file__).parent


def _comments(source: str) -> dict[int, str]:
    """Each comment of ``source`` by its line number (the text after ``#``, stripped)."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {tok.start[0]: tok.string[1:].strip() for tok in tokens if tok.type == tokenize.COMMENT}


def _entries(path: Path, assigned: str | None) -> list[tuple[str, str, str]]:
    """``(group, name, comment)`` of each key of the dict ``assigned`` (or each module-level
    assignment when ``assigned`` is None), the comment being the comment lines right above it."""
    source = path.read_text("utf-8")
    comments, tree = _comments(source), ast.parse(source)
    if assigned is None:
        targets = [(n.targets[0].id, n.lineno) for n in tree.body
                   if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)]
    else:
        found = next(n.value for n in ast.walk(tree) if isinstance(n, ast.AnnAssign | ast.Assign)
                     and isinstance(n.value, ast.Dict)
                     and any(isinstance(t, ast.Name) and t.id == assigned
                             for t in ([n.target] if isinstance(n, ast.AnnAssign) else n.targets)))
        assert isinstance(found, ast.Dict)
        targets = [(k.value, k.lineno) for k in found.keys if isinstance(k, ast.Constant)]
    entries, group = [], ""
    for name, line in targets:
        above: list[str] = []
        number = line - 1
        while number in comments and not comments[number].startswith("---"):
            above.insert(0, comments[number])
            number -= 1
        for title_line in range(line - 1, 0, -1):  # the nearest "# --- title ---" above
            if comments.get(title_line, "").startswith("---"):
                group = comments[title_line].strip("- ")
                break
        entries.append((group, name, " ".join(above)))
    return entries


def _value(value: Any) -> str:
    text = repr(value)
    return f"`{text}`" if len(text) <= 60 else f"`{text[:57]}...`"


def _cell(text: str) -> str:
    """Text as a table cell's: a ``|`` does not end the cell, and markup it names (``<h2>``) is shown, not
    made an element (on GitHub and on the site alike).

    >>> _cell("The article's <h2>, else og:title | <title>")
    "The article's &lt;h2&gt;, else og:title &#124; &lt;title&gt;"
    """
    return text.replace("|", "&#124;").replace("<", "&lt;").replace(">", "&gt;")


def settings_table() -> str:
    """newsspider's settings: a table per group, a row per setting (a setting without a comment of
    its own shares the row of the one above it)."""
    rows: list[tuple[str, list[str], str]] = []
    for group, name, comment in _entries(PACKAGE / "crawl" / "addon.py", "DEFAULTS"):
        if not comment and rows and rows[-1][0] == group:
            rows[-1][1].append(name)
        else:
            rows.append((group, [name], comment))
    out, current = [], None
    for group, names, comment in rows:
        if group != current:
            out += ["", f"### {group or 'Crawling'}", ""]
            out += ["| setting | default | meaning |", "| --- | --- | --- |"]
            current = group
        names_text = ", ".join(f"`{n}`" for n in names)
        defaults = ", ".join(_value(newsspider.crawl.addon.DEFAULTS[n]) for n in names)
        out.append(f"| {names_text} | {defaults} | {_cell(comment)} |")
    return "\n".join(out) + "\n"


def politeness_table() -> str:
    out = ["| setting | value | note |", "| --- | --- | --- |"]
    for _group, name, comment in _entries(PACKAGE / "settings.py", None):
        out.append(f"| `{name}` | {_value(getattr(newsspider.settings, name))} | {_cell(comment)} |")
    return "\n".join(out) + "\n"


def _commands(command: click.Command, ctx: click.Context) -> list[tuple[str, click.Context]]:
    found = [(ctx.command_path, ctx)]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                found += _commands(sub, click.Context(sub, info_name=name, parent=ctx, max_content_width=100,
                                                      terminal_width=100))
    return found


def cli_reference() -> str:
    # main's context settings (-h as well as --help), as ``newsspider`` runs it
    root = click.Context(main, info_name="newsspider", max_content_width=100, terminal_width=100,
                         **main.context_settings)
    out = []
    for path, ctx in _commands(main, root):
        out += [f"## `{path}`", "", "```text", ctx.command.get_help(ctx), "```", ""]
    return "\n".join(out)


def _type(spec: dict[str, Any]) -> str:
    kinds = spec.get("type", "")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    names = []
    for kind in kinds:
        if kind == "array":
            item = spec.get("items", {}).get("type", "")
            names.append(f"list of {item}s")
        else:
            names.append(kind)
    return " or ".join(names)


def schema_table() -> str:
    schema_file = resources.files("newsspider").joinpath("schema/article.schema.json")
    schema = json.loads(schema_file.read_text("utf-8"))
    required = set(schema.get("required", []))
    out = ["| field | type | always there | content |", "| --- | --- | --- | --- |"]
    for name, spec in schema["properties"].items():
        text = spec.get("description", "")
        inner = spec.get("properties") or spec.get("items", {}).get("properties") or {}
        if inner:
            text += " " + "; ".join(f"`{k}`: {v.get('description', '')}" for k, v in inner.items())
        out.append(f"| `{name}` | {_type(spec)} | {'yes' if name in required else 'no'} | "
                   f"{_cell(text)} |")
    return "\n".join(out) + "\n"


def part(text: str) -> str:
    """A generated part as cog writes it into a page: a blank line on each side, so that Markdown reads
    it apart from the HTML comments (the cog markers) around it.

    >>> part("| a |\\n")
    '\\n| a |\\n\\n'
    """
    return "\n" + text.strip("\n") + "\n\n"
