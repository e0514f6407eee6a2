"""The structure the code keeps: checks of the source itself."""

from __future__ import annotations

import ast
import graphlib
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "newsspider"

#: Each package (or root module) and the packages it may import; itself and the root's ``__version__``
#: always. Lowest first. Every import counts: module-level, inside a function, under TYPE_CHECKING.
ALLOWED: dict[str, set[str]] = {
    "core": set(),                                       # the kernel: the vocabulary every package shares
    "settings": set(),                                   # Scrapy's project settings
    "extract": {"core"},                                 # the site, and how a page becomes a record
    "demo": {"extract"},                                 # the demo site
    "dataset": {"core", "extract"},                      # the files; no Scrapy
    "memory": {"core", "dataset"},                       # what a crawl remembers between runs
    "frontier": {"core", "dataset", "memory"},           # where the pending requests wait
    "archive": {"core", "extract", "dataset", "memory"},  # the web archive
    "access": {"core"},                                  # reaching the site: proxies, challenges, browser
    "spiders": {"core", "extract", "memory"},            # crawl policy: what to follow, in what order
    "views": {"core", "extract", "dataset", "memory", "archive"},  # runs, report, search, browse
    "monitoring": {"core", "memory", "views"},           # each run's quality and its checks
    "crawl": {"core", "extract", "dataset", "memory", "access", "archive", "frontier", "monitoring"},
    "run": {"core", "extract", "dataset", "memory", "access", "archive", "spiders", "crawl", "settings"},
    "cli": {"core", "dataset", "memory", "views", "archive", "access", "run", "demo"},
    "__main__": {"cli"},
}
#: the packages of the crawl's Scrapy components: only the add-on puts them together
COMPONENTS = {"access", "archive", "crawl", "frontier", "monitoring", "spiders"}
ADDON = "newsspider.crawl.addon"
#: modules that import neither Scrapy nor Twisted, even indirectly
SCRAPY_FREE = ["newsspider.dataset", "newsspider.dataset.export", "newsspider.dataset.storage",
               "newsspider.dataset.diff", "newsspider.core.errors", "newsspider.core.time",
               "newsspider.core.credentials", "newsspider.core.window", "newsspider.core.stats",
               "newsspider.core.signals", "newsspider.core.scope", "newsspider.core.seen",
               "newsspider.core.summary"]


def string_literals(path: Path) -> list[tuple[int, str]]:
    """``(line, text)`` of each string literal of a module outside its docstrings and doctests."""
    found = []
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text("utf-8")).readline))
    for tok in tokens:
        if tok.type == tokenize.STRING and not tok.string.lstrip("rbuRBU").startswith(('"""', "'''")):
            found.append((tok.start[0], tok.string))
        elif getattr(tokenize, "FSTRING_START", None) == tok.type:
            found.append((tok.start[0], tok.string + tok.line[tok.end[1]:]))
    return found


#: a stats key in a string literal (an f-string is one literal on Python 3.11: anywhere in it)
STATS_KEY = re.compile(r"""["'{]newsspider/[a-z_]""")


def test_stats_keys_are_spelled_only_in_the_stats_module() -> None:
    spelled = [f"{path.relative_to(PACKAGE.parent)}:{line}: {text}"
               for path in sorted(PACKAGE.rglob("*.py")) if path != PACKAGE / "core" / "stats.py"
               for line, text in string_literals(path)
               if STATS_KEY.search(text)]
    assert spelled == [], "a stats key spelled outside newsspider/core/stats.py:\n" + "\n".join(spelled)


def test_the_check_finds_a_key_spelled_elsewhere(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('x = "newsspider/stored"\ny = f"newsspider/failed/{x}"\n"""newsspider/doc"""\n'
                      "z = f\"{s.get('newsspider/stored', 0)} stored\"\n")
    assert [line for line, text in string_literals(module) if STATS_KEY.search(text)] == [1, 2, 4]


def test_request_meta_keys_are_spelled_only_in_the_meta_module() -> None:
    from newsspider.core import meta

    values = {value for name, value in vars(meta).items()
              if name.isupper() and isinstance(value, str) and value.startswith("newsspider_")}
    assert values, "core/meta.py names newsspider's request.meta keys"
    spelled = [f"{path.relative_to(PACKAGE.parent)}:{line}: {text}"
               for path in sorted(PACKAGE.rglob("*.py")) if path != PACKAGE / "core" / "meta.py"
               for line, text in string_literals(path)
               if any(f"{quote}{value}{quote}" in text for value in values for quote in "'\"")]
    assert spelled == [], "a request.meta key spelled outside newsspider/core/meta.py:\n" + "\n".join(spelled)


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return name.removesuffix(".__init__")


def package_of(module: str) -> str:
    """The package a module belongs to: ``newsspider.crawl.addon`` -> ``crawl``; the root -> ``newsspider``.

    >>> package_of("newsspider.core.stats"), package_of("newsspider.cli"), package_of("newsspider")
    ('core', 'cli', 'newsspider')
    """
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(path: Path) -> set[str]:
    """Every module a file imports: at module level, inside functions, under TYPE_CHECKING."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names  # a submodule, not a name
                      if _is_module(f"{node.module}.{alias.name}")}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def own_imports() -> dict[str, set[str]]:
    """Each newsspider module and the newsspider modules it imports."""
    return {module_name(path): {i for i in imports(path) if i == "newsspider" or i.startswith("newsspider.")}
            for path in sorted(PACKAGE.rglob("*.py"))}


def package_graph(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    """The packages and the other packages they import (the root's ``__version__`` left out)."""
    graph: dict[str, set[str]] = {}
    for module, imported in modules.items():
        own = package_of(module)
        graph.setdefault(own, set()).update(
            package_of(i) for i in imported if package_of(i) not in (own, "newsspider"))
    return graph


def test_every_package_has_a_place_in_the_table() -> None:
    missing = sorted({package_of(m) for m in own_imports()} - set(ALLOWED) - {"newsspider"})
    assert missing == [], f"packages not in tests/test_layout.py ALLOWED: {missing}"


def test_imports_follow_the_table() -> None:
    wrong = [f"{module} imports {imported}"
             for module, imported_modules in own_imports().items()
             for imported in sorted(imported_modules)
             if package_of(module) in ALLOWED
             and package_of(imported) not in ALLOWED[package_of(module)] | {package_of(module), "newsspider"}]
    assert wrong == [], "imports against tests/test_layout.py ALLOWED:\n" + "\n".join(wrong)


def test_the_packages_import_each_other_without_a_cycle() -> None:
    graphlib.TopologicalSorter(package_graph(own_imports())).prepare()  # CycleError names the cycle


def test_the_table_has_no_cycle_and_the_kernel_imports_nothing() -> None:
    graphlib.TopologicalSorter(ALLOWED).prepare()
    assert ALLOWED["core"] == set()
    assert package_graph(own_imports()).get("core", set()) == set()


def test_only_the_addon_puts_the_components_together() -> None:
    wrong = [f"{module} imports {imported}"
             for module, imported_modules in own_imports().items()
             if package_of(module) in COMPONENTS and module != ADDON
             for imported in sorted(imported_modules)
             if package_of(imported) in COMPONENTS - {package_of(module)}]
    assert wrong == [], "\n".join(wrong)


def test_the_dataset_core_and_the_kernel_load_no_scrapy() -> None:
    code = (f"import sys; import {', '.join(SCRAPY_FREE)}; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'scrapy', 'twisted'}))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=PACKAGE.parent).stdout
    assert loaded.strip() == "[]"


def allowed_drawn() -> str:
    """:data:`ALLOWED` as docs/contributing.md shows it: each package, lowest first, and its imports."""
    order = list(ALLOWED)
    return "\n".join(f"{name:<11}-> {', '.join(sorted(ALLOWED[name], key=order.index)) or '(nothing)'}"
                     for name in order)


def test_the_contributing_page_draws_the_table() -> None:
    page = (PACKAGE.parent / "docs" / "contributing.md").read_text("utf-8")
    assert f"```text\n{allowed_drawn()}\n```" in page, \
        "docs/contributing.md's Layout shows tests/test_layout.py ALLOWED as:\n" + allowed_drawn()


def test_the_cycle_check_finds_a_cycle() -> None:
    modules = {"newsspider.core.a": set(), "newsspider.crawl.b": {"newsspider.archive.c"},
               "newsspider.archive.c": {"newsspider.crawl.stats", "newsspider"}}
    assert package_graph(modules) == {"core": set(), "crawl": {"archive"}, "archive": {"crawl"}}
    try:
        graphlib.TopologicalSorter(package_graph(modules)).prepare()
    except graphlib.CycleError:
        pass
    else:
        raise AssertionError("the cycle crawl -> archive -> crawl was not found")


def test_no_private_name_is_imported_from_another_package() -> None:
    """A helper that another package needs is public (in its module's ``__all__`` where it has one)."""
    crossing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        own = parts[0] if len(parts) > 1 else ""
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("newsspider."):
                other = node.module.split(".")[1] if node.module else ""
                crossing += [f"{path.relative_to(PACKAGE.parent)} imports {node.module}.{alias.name}"
                             for alias in node.names if alias.name.startswith("_") and other != own]
    assert crossing == [], "\n".join(crossing)
