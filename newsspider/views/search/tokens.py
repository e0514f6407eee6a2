"""Chinese-aware tokens for SQLite FTS5, with exact substring semantics (pure functions).

FTS5's tokenizers treat a run of Han characters as one token (``unicode61``) or
cannot match fewer than three characters (``trigram``).  Here the text is
turned into tokens that make a phrase query exact:

* text and query are normalised alike: NFKC, case folded, every run of
  whitespace one space (:func:`normalize`);
* a run of CJK characters (Han, kana, hangul) becomes its overlapping bigrams
  and an *end token* for its last character, so a query of any length finds
  every place the characters occur, inside a word or not;
* a run of other letters and digits is one token: Latin words and numbers
  match whole (``API`` does not find ``APIs``, ``6`` does not find ``16``);
* every other character (punctuation, symbols) and the space are tokens of
  their own, so ``6·4`` and a quoted ``"OpenAI API"`` match exactly that.

The tokens are written for FTS5's ``ascii`` tokenizer, which splits only on
ASCII separators: every token is the text above with punctuation spelled as
hex, nothing else splits or folds it.

>>> index_text("中国人权，2024")
'中国 国人 人权 权\\ue001 \\ue0002c 2024'
>>> index_text("中国人权，2024") == index_text("中國人權,2024".replace("國", "国").replace("權", "权"))
True

:func:`contains` is the definition the index answers: a query term occurs in
a text when its normalised form is a substring of the normalised text whose
letter-or-digit edges do not continue into letters or digits.

>>> contains("新疆棉花 OpenAI APIs", "疆棉"), contains("新疆棉花 OpenAI APIs", "API")
(True, False)
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from newsspider.core.errors import NewsspiderError

__all__ = ["WORD_CLASS", "QueryError", "contains", "first_match", "index_text", "match_expression",
           "normalize", "term_forms", "terms"]

END = "\ue001"  # marks the last character of a CJK run
PUNCT = "\ue000"  # spells a character that is neither CJK nor a letter or digit

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>[^\W_{_CJK}]+)|(?P<other>[\W_]+)")
_CJK_CHAR = re.compile(rf"[{_CJK}]")
WORD_CLASS = rf"^\W_{_CJK}"  # a letter or digit that is not CJK
_WORD_CHAR = re.compile(f"[{WORD_CLASS}]")
_SPACE = re.compile(r"\s+")


class QueryError(NewsspiderError, ValueError):
    """A query that has nothing to search for."""


def normalize(text: str) -> str:
    """Text as it is indexed and searched: NFKC, case folded, whitespace runs as one space.

    >>> normalize("ＯｐｅｎＡＩ\\n\\n  API（测试）")
    'openai api(测试)'
    """
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold())


@cache
def _punct(char: str) -> str:
    return f"{PUNCT}{ord(char):x}"


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        run, kind = match.group(), match.lastgroup
        if kind == "cjk":
            out.extend(map(str.__add__, run, run[1:]))
            out.append(run[-1] + END)
        elif kind == "word":
            out.append(run)
        else:
            out.extend(map(_punct, run))
    return out


def index_text(text: str | None) -> str:
    """The tokens of *text* for the index, separated by spaces ('' for no text).

    >>> index_text("李文亮 医生")
    '李文 文亮 亮\\ue001 \\ue00020 医生 生\\ue001'
    >>> index_text(None)
    ''
    """
    return " ".join(_tokens(normalize(text))) if text else ""


def _phrase(term: str) -> str:
    """The FTS5 phrase that finds exactly the texts :func:`contains` says hold *term*.

    >>> _phrase("中国")
    '"中国"'
    >>> _phrase("中"), _phrase("a中")
    ('"中"*', '"a 中"*')
    >>> _phrase("中国人"), _phrase("6·4")
    ('"中国 国人"', '"6 \\ue000b7 4"')
    """
    tokens = _tokens(term)
    prefix = False
    if _CJK_CHAR.fullmatch(term[-1]):
        tokens.pop()  # the query's last CJK run may go on in the text: no end token
        if len(term) == 1 or not _CJK_CHAR.fullmatch(term[-2]):
            tokens.append(term[-1])  # one character: any token that starts with it
            prefix = True
    return '"' + " ".join(tokens) + '"' + ("*" if prefix else "")


def terms(query: str) -> list[str]:
    """The normalised terms of a query: words split on whitespace, a quoted phrase kept whole.

    >>> terms('新疆 棉花 "OpenAI  API" 6·4')
    ['新疆', '棉花', 'openai api', '6·4']
    """
    found = []
    for match in re.finditer(r'"([^"]*)"?|(\S+)', query):
        term = normalize(match.group(1) if match.group(1) is not None else match.group(2)).strip()
        if term:
            found.append(term)
    return found


def match_expression(query: str, variants: bool = True) -> str:
    """The FTS5 MATCH expression for *query*: every term must occur, in any of its script forms.

    With *variants*, a term also matches its traditional and simplified forms
    (OpenCC's conversions), e.g. 中国 finds 中國 too.

    >>> match_expression("新疆 棉花", variants=False)
    '"新疆" AND "棉花"'
    >>> match_expression('"  "')
    Traceback (most recent call last):
    ...
    newsspider.views.search.tokens.QueryError: the query has nothing to search for
    """
    found = terms(query)
    if not found:
        raise QueryError("the query has nothing to search for")
    parts = []
    for term in found:
        forms = term_forms(term) if variants else [term]
        phrases = [_phrase(form) for form in forms]
        parts.append(phrases[0] if len(phrases) == 1 else "(" + " OR ".join(phrases) + ")")
    return " AND ".join(parts)


def term_forms(term: str) -> list[str]:
    """*term* and its simplified and traditional forms (OpenCC), without repeats.

    >>> term_forms("台湾")
    ['台湾', '臺灣', '台灣']
    >>> term_forms("openai")
    ['openai']
    """
    if not _CJK_CHAR.search(term):
        return [term]
    forms = [term]
    for form in (_convert(name, term) for name in ("t2s", "s2t", "s2tw", "s2hk")):
        form = normalize(form).strip()
        if form not in forms:
            forms.append(form)
    return forms


@cache
def _converter(name: str) -> object:
    import opencc

    return opencc.OpenCC(f"{name}")


def _convert(name: str, text: str) -> str:
    return str(_converter(name).convert(text))  # type: ignore[attr-defined]


def first_match(normal: str, term: str) -> int | None:
    """Where normalised *term* first occurs in normalised *normal* as :func:`contains` means it, else None.

    >>> first_match("16·45 6·4", "6·4"), first_match("apis api", "api"), first_match("api", "ap")
    (6, 5, None)
    """
    start = normal.find(term) if term else -1
    while start >= 0:
        end = start + len(term)
        left_ok = not (start and _WORD_CHAR.fullmatch(term[0]) and _WORD_CHAR.fullmatch(normal[start - 1]))
        right_ok = not (end < len(normal) and _WORD_CHAR.fullmatch(term[-1])
                        and _WORD_CHAR.fullmatch(normal[end]))
        if left_ok and right_ok:
            return start
        start = normal.find(term, start + 1)
    return None


def contains(text: str | None, term: str) -> bool:
    """Whether normalised *term* occurs in *text* (the semantics of the index; see the module).

    >>> contains("16·45", "6·4"), contains("（6·4）", "6·4"), contains("中华人民", "华")
    (False, True, True)
    """
    return bool(text) and first_match(normalize(text or ""), normalize(term).strip()) is not None
