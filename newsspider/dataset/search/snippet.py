"""A snippet of where a query's terms occur in an article, with the matches marked (pure functions)."""

from __future__ import annotations

import unicodedata
from functools import cache

from newsspider.dataset.search.tokens import first_match, normalize, term_forms, terms

__all__ = ["snippet"]


@cache
def _normal_char(char: str) -> str:
    return " " if char.isspace() else unicodedata.normalize("NFKC", char).casefold()


def _normalized_with_map(text: str, stop: int | None = None) -> tuple[str, list[int]]:
    """*text* normalised character by character, with the index in *text* of each normalised character
    (up to about *stop* normalised characters).

    >>> _normalized_with_map("ＡＢ  c")
    ('ab c', [0, 1, 2, 4])
    >>> _normalized_with_map("ＡＢ  c", stop=2)
    ('ab', [0, 1])
    """
    out: list[str] = []
    where: list[int] = []
    last = ""
    for index, char in enumerate(text):
        if stop is not None and len(where) >= stop:
            break
        part = _normal_char(char)
        if part == " " == last:
            continue
        last = part
        out.append(part)
        if len(part) == 1:
            where.append(index)
        else:
            where.extend([index] * len(part))
    return "".join(out), where


def snippet(fields: list[str | None], query: str, variants: bool = True, width: int = 36,
            ) -> tuple[str, tuple[tuple[int, int], ...]]:
    """About *width* characters either side of the first match in the first field that has one.

    Returns the snippet (original text, newlines as spaces) and the spans of
    every match of a term inside it.

    >>> snippet(["标题", None, "前文……新疆的棉花，后文"], "新疆 棉花", width=4)
    ('前文……新疆的棉花，…', ((4, 6), (7, 9)))
    """
    wanted = [form for term in terms(query) for form in (term_forms(term) if variants else [term])]
    for text in fields:
        if not text:
            continue
        whole = normalize(text)
        found = [at for form in wanted if (at := first_match(whole, form)) is not None]
        if not found:
            continue
        # map back to the text only as far as the snippet reaches
        normal, where = _normalized_with_map(text, stop=min(found) + max(map(len, wanted)) + 2 * width + 8)
        spans = sorted({(where[i], where[i + len(form) - 1] + 1)
                        for form in wanted for i in _find_all(normal, form)})
        if not spans:
            continue
        start = max(0, spans[0][0] - width)
        end = min(len(text), spans[0][1] + width)
        prefix = "…" if start else ""
        body = text[start:end].replace("\n", " ")
        marks = tuple((s - start + len(prefix), e - start + len(prefix)) for s, e in spans
                      if s >= start and e <= end)
        return prefix + body + ("…" if end < len(text) else ""), marks
    first = next((t for t in fields if t), "")
    return first[: 2 * width], ()


def _find_all(text: str, term: str) -> list[int]:
    found, start = [], text.find(term)
    while start >= 0:
        found.append(start)
        start = text.find(term, start + 1)
    return found
