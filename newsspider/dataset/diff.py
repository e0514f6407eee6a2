"""What changed between two versions of an article, field by field (pure functions).

Text is compared character by character (Chinese has no spaces to split words
on): a deletion is shown ``[-like this-]`` and an insertion ``{+like this+}``.

>>> print(text_diff("中国经济增长放缓", "中国经济增长明显放缓"))
中国经济增长{+明显+}放缓
>>> print(text_diff("旧标题", "新标题"))
[-旧-]{+新+}标题
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from newsspider.core.errors import NewsspiderError

__all__ = ["HTML_MARKS", "IGNORED", "TEXT_MARKS", "VersionError", "field_diffs", "text_diff",
           "versions_to_compare"]

#: fields that differ between any two versions and say nothing about the article
IGNORED = ("crawled_at", "version", "content_hash", "warc", "schema_version")


class VersionError(NewsspiderError, LookupError):
    """A version to compare that is not stored."""


def versions_to_compare(stored: Iterable[int], article_id: str, older: int | None = None,
                        newer: int | None = None) -> tuple[int, int]:
    """The two of an article's *stored* versions to compare: *newer* (default the newest) and *older*
    (default the one before it; with none before it, *newer* itself).

    >>> versions_to_compare([1, 2, 3], "7"), versions_to_compare([1, 2, 3], "7", newer=2)
    ((2, 3), (1, 2))
    >>> versions_to_compare([1], "7"), versions_to_compare([1, 2, 3], "7", older=1)
    ((1, 1), (1, 3))
    >>> versions_to_compare([1, 2], "7", newer=5)
    Traceback (most recent call last):
    ...
    newsspider.dataset.diff.VersionError: article 7 has no version 5 (stored: 1, 2)
    """
    numbers = sorted(stored)
    newer = numbers[-1] if newer is None else newer
    if older is None:
        before = [n for n in numbers if n < newer]
        older = before[-1] if before else newer
    for number in (older, newer):
        if number not in numbers:
            raise VersionError(f"article {article_id} has no version {number} "
                               f"(stored: {', '.join(map(str, numbers))})")
    return older, newer


TEXT_MARKS = ("[-", "-]", "{+", "+}")
HTML_MARKS = ("<del>", "</del>", "<ins>", "</ins>")


def text_diff(old: str, new: str, context: int = 40, marks: tuple[str, str, str, str] = TEXT_MARKS,
              escape: Callable[[str], str] = str) -> str:
    """*old* → *new* with deletions and insertions marked; long unchanged stretches cut to *context*.

    >>> text_diff("a" * 100 + "b", "a" * 100 + "c", context=5)
    '…aaaaa[-b-]{+c+}'
    >>> import html
    >>> text_diff("<甲>", "<乙>", marks=HTML_MARKS, escape=html.escape)
    '&lt;<del>甲</del><ins>乙</ins>&gt;'
    """
    parts = []
    opcodes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    for index, (op, i1, i2, j1, j2) in enumerate(opcodes):
        if op == "equal":
            same = old[i1:i2]
            first, last = index == 0, index == len(opcodes) - 1
            if len(same) > 2 * context and not (first and last):
                head = "" if first else same[:context]
                tail = "" if last else same[-context:]
                same = f"{head}…{tail}"
            elif first and len(same) > context and not last:
                same = "…" + same[-context:]
            elif last and len(same) > context and not first:
                same = same[:context] + "…"
            parts.append(escape(same))
            continue
        if i2 > i1:
            parts.append(marks[0] + escape(old[i1:i2]) + marks[1])
        if j2 > j1:
            parts.append(marks[2] + escape(new[j1:j2]) + marks[3])
    return "".join(parts)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def field_diffs(old: dict[str, Any], new: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, what changed) for every field of the record that differs, in the record's order.

    >>> list(field_diffs({"title": "甲", "tags": ["a"], "version": 1}, {"title": "乙", "tags": ["a", "b"],
    ...                   "version": 2}))
    [('title', '[-甲-]{+乙+}'), ('tags', 'added: b')]
    """
    for name in dict.fromkeys([*old, *new]):
        if name in IGNORED or old.get(name) == new.get(name):
            continue
        before, after = old.get(name), new.get(name)
        if isinstance(before, list) and isinstance(after, list) and all(
                isinstance(v, str) for v in [*before, *after]):
            removed = [v for v in before if v not in after]
            added = [v for v in after if v not in before]
            said = []
            if removed:
                said.append("removed: " + ", ".join(removed))
            if added:
                said.append("added: " + ", ".join(added))
            yield name, "; ".join(said) or "reordered: " + ", ".join(after)
        else:
            yield name, text_diff(_text(before), _text(after))
