"""MkDocs hook: the README as the site's home page.

``docs/index.md`` holds only the marker ``<!-- readme -->``, which this hook replaces with the README, its
links into ``docs/`` made the site's own. This one stays a hook, not a cog block: it is a site-only
transformation (on GitHub the README itself is the home page), and a copy of the README in the repository
would be one more file to keep in step. The reference pages' generated parts are written into the files by
cog (``docs/generate.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]


def readme() -> str:
    text = (ROOT / "README.md").read_text("utf-8")
    text = text.replace("](docs/", "](").replace(" ([LICENSE](LICENSE))", " (the LICENSE file)")
    return text.replace("The documentation is in [`docs/`](index.md), one page per task; ",
                        "The documentation is in `docs/`, one page per task (this site); ")


def on_page_markdown(markdown: str, **_: Any) -> str:
    return markdown.replace("<!-- readme -->", readme()) if "<!-- readme -->" in markdown else markdown
