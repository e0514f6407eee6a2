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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from newsspider.core.errors import NewsspiderError

__all__ = ["HTML_MARKS", "IGNORED", "TEXT_MARKS", "Piece", "Stretch", "VersionError", "char_diff",
           "field_diffs", "item_diff", "paragraph_diff", "sides", "text_diff", "versions_to_compare"]

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


#: a piece of a diff: "=" text in both, "-" only in the old one (deleted), "+" only in the new one (inserted)
Piece = tuple[Literal["=", "-", "+"], str]


def _cleanup(pieces: list[Piece]) -> list[Piece]:
    """*pieces* with each short equality between two changes folded into them (as diff-match-patch's
    semantic cleanup does): 旧的说法 → 新的看法 reads [-旧的说-]{+新的看+}法, not four changes around 的."""
    # segments: (equal, old text, new text)
    segments: list[tuple[bool, str, str]] = []
    for op, text in pieces:
        if op == "=":
            segments.append((True, text, text))
        else:
            old, new = (text, "") if op == "-" else ("", text)
            if segments and not segments[-1][0]:
                old, new = segments[-1][1] + old, segments[-1][2] + new
                segments.pop()
            segments.append((False, old, new))
    merged = True
    while merged:
        merged = False
        for i in range(1, len(segments) - 1):
            (_, old1, new1), (equal, same, _), (_, old2, new2) = segments[i - 1:i + 2]
            if (equal and not segments[i - 1][0] and not segments[i + 1][0]
                    and len(same) <= max(len(old1), len(new1)) and len(same) <= max(len(old2), len(new2))):
                segments[i - 1:i + 2] = [(False, old1 + same + old2, new1 + same + new2)]
                merged = True
                break
    out: list[Piece] = []
    for equal, old, new in segments:
        if equal:
            out.append(("=", old))
            continue
        if old:
            out.append(("-", old))
        if new:
            out.append(("+", new))
    return out


def char_diff(old: str, new: str) -> list[Piece]:
    """*old* → *new* character by character (Chinese has no spaces to split words on), short equalities
    between two changes folded into them: the "=" and "-" pieces make *old*, the "=" and "+" ones *new*.

    >>> char_diff("中国经济增长放缓", "中国经济增长明显放缓")
    [('=', '中国经济增长'), ('+', '明显'), ('=', '放缓')]
    >>> char_diff("旧标题", "新标题")
    [('-', '旧'), ('+', '新'), ('=', '标题')]
    >>> char_diff("他说的办法很好", "她说的办法不好")
    [('-', '他'), ('+', '她'), ('=', '说的办法'), ('-', '很'), ('+', '不'), ('=', '好')]
    >>> char_diff("他说的办法很好", "她讲的做法不好")  # not 他→她 说→讲 的 办→做 法 很→不 好
    [('-', '他说的办法很'), ('+', '她讲的做法不'), ('=', '好')]
    >>> char_diff("", ""), char_diff("", "新")
    ([], [('+', '新')])
    """
    pieces: list[Piece] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(("=", old[i1:i2]))
            continue
        if i2 > i1:
            pieces.append(("-", old[i1:i2]))
        if j2 > j1:
            pieces.append(("+", new[j1:j2]))
    return _cleanup(pieces)


def item_diff(old: Sequence[str], new: Sequence[str]) -> list[Piece]:
    """Two lists (tags, related URLs) item by item: one piece an item, in the new list's order.

    >>> item_diff(["人权", "新疆", "美国"], ["人权", "美国", "棉花"])
    [('=', '人权'), ('-', '新疆'), ('=', '美国'), ('+', '棉花')]
    """
    pieces: list[Piece] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.extend(("=", item) for item in old[i1:i2])
            continue
        pieces.extend(("-", item) for item in old[i1:i2])
        pieces.extend(("+", item) for item in new[j1:j2])
    return pieces


#: what separates paragraphs in a record's body
PARAGRAPH = "\n\n"


@dataclass(frozen=True)
class Stretch:
    """Paragraphs of a diff of two texts: changed, or the same in both (shown, or folded when they are far
    from any change).  *old* and *new* are the paragraphs it covers in each text (by index)."""

    old: range
    new: range
    #: changed paragraphs: the character diff of the old ones to the new ones (each joined by a blank line)
    pieces: tuple[Piece, ...] = ()
    #: unchanged paragraphs: their text
    same: tuple[str, ...] = ()
    folded: bool = False

    @property
    def changed(self) -> bool:
        return not self.same


def paragraph_diff(old: str, new: str, context: int = 1) -> list[Stretch]:
    r"""*old* → *new* paragraph by paragraph (split at blank lines), each changed paragraph with its
    character diff, *context* unchanged paragraphs kept either side of a change and the other unchanged
    ones folded.  Paragraphs are matched first, then characters within the changed ones only: a long body
    costs what its changes cost.

    >>> old = "第一段。\n\n第二段。\n\n第三段，旧的说法。\n\n第四段。\n\n第五段。"
    >>> for s in paragraph_diff(old, old.replace("旧的说法", "新的看法") + "\n\n第六段。"):
    ...     print(list(s.old), list(s.new), s.folded, s.same or s.pieces)
    [0] [0] True ('第一段。',)
    [1] [1] False ('第二段。',)
    [2] [2] False (('=', '第三段，'), ('-', '旧的说'), ('+', '新的看'), ('=', '法。'))
    [3, 4] [3, 4] False ('第四段。', '第五段。')
    [] [5] False (('+', '第六段。'),)
    >>> sides(paragraph_diff(old, "第零段。\n\n" + old)) == (old, "第零段。\n\n" + old)
    True
    """
    before, after = old.split(PARAGRAPH), new.split(PARAGRAPH)
    opcodes = difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
    out: list[Stretch] = []
    for index, (op, i1, i2, j1, j2) in enumerate(opcodes):
        if op != "equal":
            if i2 - i1 == j2 - j1:  # as many paragraphs each side: each against its counterpart
                out.extend(Stretch(range(i, i + 1), range(j, j + 1), tuple(char_diff(before[i], after[j])))
                           for i, j in zip(range(i1, i2), range(j1, j2), strict=True))
            else:
                out.append(Stretch(range(i1, i2), range(j1, j2), tuple(char_diff(
                    PARAGRAPH.join(before[i1:i2]), PARAGRAPH.join(after[j1:j2])))))
            continue
        head = 0 if index == 0 else context  # kept after the change before
        tail = 0 if index == len(opcodes) - 1 else context  # kept before the change after
        if head + tail >= i2 - i1:
            out.append(Stretch(range(i1, i2), range(j1, j2), same=tuple(before[i1:i2])))
            continue
        cuts = [(0, head, False), (head, i2 - i1 - tail, True), (i2 - i1 - tail, i2 - i1, False)]
        out.extend(Stretch(range(i1 + a, i1 + b), range(j1 + a, j1 + b), same=tuple(before[i1 + a:i1 + b]),
                           folded=folded) for a, b, folded in cuts if b > a)
    return out


def sides(stretches: Iterable[Stretch]) -> tuple[str, str]:
    r"""The old text and the new one again, from their :func:`paragraph_diff`.

    >>> sides(paragraph_diff("甲\n\n乙", "甲\n\n丙\n\n丁"))
    ('甲\n\n乙', '甲\n\n丙\n\n丁')
    """
    old: list[str] = []
    new: list[str] = []
    for stretch in stretches:
        if stretch.same:
            old.extend(stretch.same)
            new.extend(stretch.same)
            continue
        if stretch.old:
            old.append("".join(text for op, text in stretch.pieces if op != "+"))
        if stretch.new:
            new.append("".join(text for op, text in stretch.pieces if op != "-"))
    return PARAGRAPH.join(old), PARAGRAPH.join(new)
