"""The structure the code keeps: checks of the source itself."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "newsspider"


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


def test_stats_keys_are_spelled_only_in_the_stats_module() -> None:
    spelled = [f"{path.relative_to(PACKAGE.parent)}:{line}: {text}"
               for path in sorted(PACKAGE.rglob("*.py")) if path.name != "stats.py"
               for line, text in string_literals(path)
               if re.match(r"""^[fbrFBR]*["']newsspider/[a-z_]""", text)]
    assert spelled == [], "a stats key spelled outside newsspider/crawl/stats.py:\n" + "\n".join(spelled)


def test_the_check_finds_a_key_spelled_elsewhere(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('x = "newsspider/stored"\ny = f"newsspider/failed/{x}"\n"""newsspider/doc"""\n')
    assert [line for line, text in string_literals(module) if "newsspider/" in text] == [1, 2]


# The layers, lowest first: a module may import from its own layer and those below, never above.
# Extraction knows nothing of the rest; the dataset's core (read, write, export) knows extraction
# only, and imports no Scrapy; the memory knows the dataset; the tools over the dataset and the run
# history (runs, report, search) know the memory; the crawl's components come next (the crawl, the
# spider, the frontier, the archive, monitoring, the memory's Scrapy extension); the command line and
# the demo are on top.  A module in no layer fails the test: a new module says where it belongs.
LAYERS: list[tuple[str, ...]] = [
    ("newsspider.extract", "newsspider.__version__", "newsspider.credentials"),
    ("newsspider.dataset.layout", "newsspider.dataset.reader", "newsspider.dataset.storage",
     "newsspider.dataset.export", "newsspider.dataset.diff", "newsspider.dataset.charts",
     "newsspider.archive.reader"),
    ("newsspider.memory.sqlite", "newsspider.memory.redis"),
    ("newsspider.dataset.runs", "newsspider.dataset.report", "newsspider.dataset.search"),
    ("newsspider.crawl", "newsspider.spiders", "newsspider.frontier", "newsspider.archive",
     "newsspider.monitoring", "newsspider.memory.extension", "newsspider.settings"),
    ("newsspider.cli", "newsspider.__main__", "newsspider.demo"),
]
#: packages that only re-export or describe, at the layer of what they hold
PACKAGES = {"newsspider": 0, "newsspider.dataset": 1, "newsspider.memory": 2}
SCRAPY_FREE = LAYERS[0][1:] + LAYERS[1]  # extraction's loaders use itemloaders/parsel, not Scrapy


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return name.removesuffix(".__init__")


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names  # a submodule, not a name
                      if _is_module(f"{node.module}.{alias.name}")}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def layer_of(module: str) -> int | None:
    if module in PACKAGES:
        return PACKAGES[module]
    for number, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return number
    return None if module.startswith("newsspider") else -1


def test_imports_flow_one_way() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        own = layer_of(module)
        if own is None:
            wrong.append(f"{module} is in no layer (tests/test_layout.py LAYERS)")
            continue
        for imported in imports(path):
            if not imported.startswith("newsspider."):
                continue
            other = layer_of(imported)
            if other is None or other > own:
                wrong.append(f"{module} (layer {own}) imports {imported} (layer {other})")
    assert wrong == [], "\n".join(wrong)


def test_the_dataset_core_imports_no_scrapy() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        if any(module == p or module.startswith(p + ".") for p in SCRAPY_FREE):
            assert not {i for i in imports(path) if i.split(".")[0] in {"scrapy", "twisted"}}, module


def test_the_layer_check_finds_an_import_upwards(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from newsspider.crawl.runner import run_crawl\nimport newsspider.extract.site\n")
    assert {layer_of(i) for i in imports(module) if i.startswith("newsspider.")} == {4, 0}
    assert layer_of("newsspider.nosuchmodule") is None
