"""The versions page of the reading room (``/-/newsspider/versions/ID``): an article's stored versions,
newest first, each with the fields that changed since the version before it and what changed in them.

A text field's change is its character diff (:func:`~newsspider.dataset.diff.char_diff`; Chinese has no
spaces to split words on); a body's is paragraph by paragraph, the changed paragraphs with one unchanged
paragraph either side and the others folded (:func:`~newsspider.dataset.diff.paragraph_diff`); a list of
names (tags, related URLs) is compared item by item.  The fields that did not change are folded.  The page
is rendered by ``templates/room_versions.html`` (autoescaped: the pieces are the site's text).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Literal

from datasette import Response

from newsspider.dataset.diff import IGNORED, Piece, Stretch, char_diff, item_diff, paragraph_diff
from newsspider.extract.items import FIELDS
from newsspider.views.search.room import _database, _page, _url

__all__ = ["Change", "Version", "history", "versions_page"]

PLUGIN = "newsspider"
#: the record's fields a reader compares (the others differ between any two versions)
COMPARED = tuple(name for name in FIELDS if name not in IGNORED)
#: fields whose values are JSON lists in the database
LISTS = ("images", "tags", "related_urls")


@dataclass
class Change:
    """What changed in one field: text (its character diff), paragraphs (a body's) or items (a list's)."""

    name: str
    kind: Literal["text", "paragraphs", "items"]
    pieces: list[Piece] = field(default_factory=list)
    stretches: list[Stretch] = field(default_factory=list)


@dataclass
class Version:
    """One stored version as the page shows it."""

    number: int
    #: the version compared with (the one before it); None for the first
    since: int | None
    crawled_at: str
    content_hash: str
    archived: bool
    #: None for the first version (nothing before it to compare with)
    changes: list[Change] | None
    #: the fields that did not change (all of them for the first version): (name, value as shown)
    unchanged: list[tuple[str, str]]


def _value(name: str, raw: Any) -> Any:
    """A field's value from the database: lists parsed, None as it is."""
    if name in LISTS and isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _shown(value: Any) -> str:
    """A field's value as one text.

    >>> _shown(["人权", "新疆"]), _shown(None), _shown([{"url": "a"}]), _shown(2)
    ('人权, 新疆', '', '[{"url": "a"}]', '2')
    """
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def change(name: str, old: Any, new: Any) -> Change:
    """What changed in field *name* from *old* to *new* (values as the database holds them).

    >>> change("title", "旧标题", "新标题").pieces
    [('-', '旧'), ('+', '新'), ('=', '标题')]
    >>> change("tags", '["人权", "新疆"]', '["人权"]').pieces
    [('=', '人权'), ('-', '新疆')]
    >>> [s.changed for s in change("body", "甲\\n\\n乙", "甲\\n\\n丙").stretches]
    [False, True]
    """
    before, after = _value(name, old), _value(name, new)
    if (isinstance(before, list | None) and isinstance(after, list | None)
            and all(isinstance(v, str) for v in [*(before or []), *(after or [])]) and name in LISTS):
        return Change(name, "items", pieces=item_diff(before or [], after or []))
    old_text, new_text = _shown(before), _shown(after)
    if "\n\n" in old_text or "\n\n" in new_text:
        return Change(name, "paragraphs", stretches=paragraph_diff(old_text, new_text))
    return Change(name, "text", pieces=char_diff(old_text, new_text))


def history(rows: list[dict[str, Any]]) -> list[Version]:
    """The versions of *rows* (an article's versions as the database holds them, any order), newest first,
    each compared with the one before it."""
    rows = sorted(rows, key=lambda row: int(row["version"] or 0))
    out = []
    for index, row in enumerate(rows):
        before = rows[index - 1] if index else None
        changed = [name for name in COMPARED if before is not None and before[name] != row[name]]
        out.append(Version(
            number=int(row["version"] or 0), since=None if before is None else int(before["version"] or 0),
            crawled_at=row["crawled_at"] or "",
            content_hash=row["content_hash"] or "", archived=bool(row["warc"]),
            changes=None if before is None else [change(name, before[name], row[name]) for name in changed],
            unchanged=[(name, _shown(_value(name, row[name]))) for name in COMPARED if name not in changed]))
    return out[::-1]


def stored(conn: sqlite3.Connection, article_id: str) -> list[dict[str, Any]]:
    """Every stored version of the article (none: an article the archive does not hold)."""
    return [dict(zip(FIELDS, row, strict=True)) for row in conn.execute(
        f"SELECT {', '.join(FIELDS)} FROM versions WHERE article_id = ? ORDER BY version", [article_id])]


async def versions_page(request: Any, datasette: Any) -> Response:
    """An article's versions, newest first, what changed in each, the fields that did not folded."""
    article_id = request.url_vars["article_id"]
    rows = await _database(datasette).execute_fn(lambda conn: stored(conn, article_id))
    if not rows:
        return await _page(datasette, request, "room_missing.html", {"article_id": article_id}, status=404)
    versions = history(rows)
    context = {
        "article_id": article_id, "versions": versions,
        "title": rows[-1]["title"] or article_id, "first": versions[-1], "last": versions[0],
        "article_page": _url(datasette, f"/-/{PLUGIN}/article/{article_id}"),
        "archived": _url(datasette, f"/-/{PLUGIN}/page/{article_id}") + "?version=",
    }
    return await _page(datasette, request, "room_versions.html", context)
