"""A snippet of where a query's terms occur in an article, with the matches marked (pure functions)."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from newsspider.views.search.tokens import WORD_CLASS, first_match, normalize, term_forms, terms

__all__ = ["snippet"]

#: whitespace, fullwidth forms (，：（）… change under NFKC), and stretches of the rest
_WORD = re.compile(f"[{WORD_CLASS}]")
_NOT_AFTER_WORD = f"(?<![{WORD_CLASS}])"
_NOT_BEFORE_WORD = f"(?![{WORD_CLASS}])"
_STRETCH = re.compile(r"\s+|[\uff00-\uffef]+|[^\s\uff00-\uffef]{1,256}")


@cache
def _normal_char(char: str) -> str:
    return " " if char.isspace() else unicodedata.normalize("NFKC", char).casefold()


def _normalized_with_map(text: str, stop: int | None = None) -> tuple[str, list[int]]:
    """*text* normalised character by character, with the index in *text* of each normalised character
    (up to about *stop* normalised characters).

    A stretch without whitespace or fullwidth forms that normalisation
    leaves as it is (most Chinese text) is copied whole; only the rest goes
    character by character.

    >>> _normalized_with_map("ＡＢ  c")
    ('ab c', [0, 1, 2, 4])
    >>> _normalized_with_map("ＡＢ  c", stop=2)
    ('ab', [0, 1])
    >>> _normalized_with_map("中国\\n\\n人权  x")
    ('中国 人权 x', [0, 1, 2, 4, 5, 6, 8])
    """
    out: list[str] = []
    where: list[int] = []
    last = ""
    for match in _STRETCH.finditer(text):
        if stop is not None and len(where) >= stop:
            break
        piece, begin = match.group(), match.start()
        if piece[0].isspace():
            if last != " ":
                out.append(" ")
                where.append(begin)
                last = " "
            continue
        if unicodedata.is_normalized("NFKC", piece) and piece.casefold() == piece:
            out.append(piece)
            where.extend(range(begin, begin + len(piece)))
            last = piece[-1]
            continue
        parts = list(map(_normal_char, piece))
        if all(len(part) == 1 for part in parts):  # changed, but one character for one (ＡＢ, A, ，)
            out.extend(parts)
            where.extend(range(begin, begin + len(piece)))
            last = parts[-1]
            continue
        for index, part in enumerate(parts, begin):
            if part == " " == last:
                continue
            last = part
            out.append(part)
            where.extend([index] * len(part))
    normal = "".join(out)
    if stop is not None and len(where) > stop:
        normal, where = normal[:stop], where[:stop]
    return normal, where


def snippet(fields: list[str | None], query: str, variants: bool = True, width: int = 36,
            ) -> tuple[str, tuple[tuple[int, int], ...]]:
    """About *width* characters either side of the first match in the first field that has one.

    Returns the snippet (original text, newlines as spaces) and the spans of
    every match of a term inside it.  The fields are searched as they are
    first, with a pattern that allows for case, fullwidth forms and runs of
    whitespace (:func:`_pattern`); only when that finds nothing anywhere are
    they normalised whole, which costs a hundred times more.

    >>> snippet(["标题", None, "前文……新疆的棉花，后文"], "新疆 棉花", width=4)
    ('前文……新疆的棉花，…', ((4, 6), (7, 9)))
    >>> snippet(["ＯｐｅｎＡＩ api 的说明"], "openai", width=4)
    ('ＯｐｅｎＡＩ api…', ((0, 6),))
    >>> snippet(["ﬁle"], "file", width=4)  # only normalisation finds it
    ('ﬁle', ((0, 3),))
    """
    wanted = tuple(dict.fromkeys(form for term in terms(query)
                                 for form in (term_forms(term) if variants else [term])))
    pattern = _pattern(wanted)
    for text in fields:
        if text and (spans := [match.span() for match in pattern.finditer(text)]):
            return _window(text, spans, width)
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
        if spans:
            return _window(text, spans, width)
    first = next((t for t in fields if t), "")
    return first[: 2 * width], ()


def _window(text: str, spans: list[tuple[int, int]], width: int) -> tuple[str, tuple[tuple[int, int], ...]]:
    """*text* around the first of *spans*, and the spans inside it, as :func:`snippet` gives them."""
    start = max(0, spans[0][0] - width)
    end = min(len(text), spans[0][1] + width)
    prefix = "…" if start else ""
    body = text[start:end].replace("\n", " ")
    marks = tuple((s - start + len(prefix), e - start + len(prefix)) for s, e in spans
                  if s >= start and e <= end)
    return prefix + body + ("…" if end < len(text) else ""), marks


@cache
def _pattern(forms: tuple[str, ...]) -> re.Pattern[str]:
    r"""A pattern that finds normalised *forms* in text as it is: every match normalises to a form.

    An ASCII letter or sign also matches its capital and its fullwidth form,
    a space any run of whitespace; a form that starts or ends with a letter
    or digit does not match inside a word (as :func:`first_match` means it).

    >>> [m.group() for m in _pattern(("6·4", "api")).finditer("16·4 6·4 APIs Ａpi")]
    ['6·4', 'Ａpi']
    """
    def char(c: str) -> str:
        if c == " ":
            return r"\s+"
        if "!" <= c <= "~":
            options = {c, c.upper(), chr(ord(c) + 0xFEE0), chr(ord(c.upper()) + 0xFEE0)}
            return "[" + "".join(re.escape(o) for o in sorted(options)) + "]"
        return re.escape(c)

    def form(text: str) -> str:
        body = "".join(map(char, text))
        before = _NOT_AFTER_WORD if _WORD.fullmatch(text[0]) else ""
        after = _NOT_BEFORE_WORD if _WORD.fullmatch(text[-1]) else ""
        return before + body + after

    return re.compile("|".join(form(f) for f in sorted(forms, key=len, reverse=True)))


def _find_all(text: str, term: str) -> list[int]:
    found, start = [], text.find(term)
    while start >= 0:
        found.append(start)
        start = text.find(term, start + 1)
    return found
