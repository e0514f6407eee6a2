"""The structure the code keeps: checks of the source itself."""

from __future__ import annotations

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
    assert spelled == [], "a stats key spelled outside newsspider/stats.py:\n" + "\n".join(spelled)


def test_the_check_finds_a_key_spelled_elsewhere(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('x = "newsspider/stored"\ny = f"newsspider/failed/{x}"\n"""newsspider/doc"""\n')
    assert [line for line, text in string_literals(module) if "newsspider/" in text] == [1, 2]
