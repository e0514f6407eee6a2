"""Property tests for the pure functions: they never raise, and keep their promises on any input."""

from __future__ import annotations

import itertools
import re
from datetime import datetime

from hypothesis import example, given, settings
from hypothesis import strategies as st

from newsspider.core.time import readable_time
from newsspider.dataset.diff import Piece, char_diff, item_diff, paragraph_diff, sides
from newsspider.extract import site
from newsspider.extract.processors import (
    canonical_url,
    clean_text,
    join_text,
    parse_cn_datetime,
    parse_iso_datetime,
    strip_site_suffix,
)
from newsspider.extract.site import parse_credit_line, parse_editor_line

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
SPACE = st.sampled_from([" ", "\n", "\t", "\r", "\u00a0", "\u3000"])
COLLAPSIBLE = st.text(st.sampled_from(" \t\r\n"), max_size=4)
TEXT = st.text(st.one_of(CJK, SPACE, st.characters()), max_size=80)
URL_PARTS = st.text(st.sampled_from("abc/%?&=#.-_~:+中文éE0123456789 "), max_size=40)
URLS = st.builds(lambda scheme, host, rest: f"{scheme}://{host}/{rest}",
                 st.sampled_from(["http", "https", "HTTP"]),
                 st.sampled_from(["www.bannedbook.org", "127.0.0.1:8000", "WWW.Example.ORG"]), URL_PARTS)


@given(TEXT)
def test_clean_text_never_raises_and_only_touches_whitespace(text: str) -> None:
    cleaned = clean_text(text)
    assert re.sub(r"\s", "", cleaned) == re.sub(r"\s", "", text)
    assert cleaned == cleaned.strip() and "  " not in cleaned
    assert clean_text(cleaned) == cleaned


@given(st.lists(st.text(CJK, min_size=1, max_size=5), max_size=8))
def test_join_text_invents_no_space_between_cjk(fragments: list[str]) -> None:
    """Text split across inline elements is joined with nothing between (Chinese has no spaces)."""
    assert join_text(fragments) == "".join(fragments)


@given(st.text(CJK, min_size=1, max_size=5), COLLAPSIBLE, COLLAPSIBLE, st.text(CJK, min_size=1, max_size=5))
def test_a_line_break_between_cjk_is_not_a_space(left: str, before: str, after: str, right: str) -> None:
    """A source line break between two CJK characters is not a space (CSS Text 3 segment breaks)."""
    assert clean_text(left + before + "\n" + after + right) == left + right


@given(st.one_of(URLS, st.text(max_size=60)))
@settings(max_examples=300)
def test_canonical_url_is_idempotent_and_never_raises(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once
    if re.match(r"(?i)https?://[^/?#\s]+", url.strip()):  # a URL, not any text: no fragment left
        assert "#" not in once


@given(URLS)
def test_canonical_url_drops_tracking_and_fragment(url: str) -> None:
    url = url.strip().split("#", 1)[0]  # the tracking parameter goes in the query, before any fragment
    tracked = canonical_url(url + ("&" if "?" in url else "?") + "utm_source=x#frag")
    assert tracked == canonical_url(url)


@given(st.text(max_size=60))
def test_site_functions_never_raise(text: str) -> None:
    site.classify(text)
    site.article_parts(text)
    site.shortlink_id(text)
    site.listing_base(text)
    site.simplified_url(text)


@given(st.text(max_size=60))
def test_date_parsers_never_raise_and_return_valid_dates(text: str) -> None:
    for parsed in (parse_cn_datetime(text), parse_iso_datetime(text)):
        if parsed is not None:
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", parsed[0])


@given(st.integers(1900, 2100), st.integers(1, 12), st.integers(1, 28), st.integers(0, 23),
       st.integers(0, 59))
def test_cn_dates_round_trip(y: int, m: int, d: int, hh: int, mm: int) -> None:
    assert parse_cn_datetime(f"日期：{y}年{m:02d}月{d:02d}日 {hh:02d}:{mm:02d} | 分类") == (
        f"{y}-{m:02d}-{d:02d}", f"{y}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:00")


@given(TEXT)
def test_credit_and_editor_parsers_never_raise(text: str) -> None:
    credit = parse_credit_line(text)
    assert credit is None or set(credit) == {"author", "source"}
    editor = parse_editor_line(text)
    assert editor is None or editor == editor.strip()
    strip_site_suffix(text, ("禁闻网",))


@given(st.text(CJK, min_size=1, max_size=6), st.text(st.characters(categories=["L"]), min_size=1, max_size=8))
@example("一", "A丨")  # 丨 (a letter) separates two fields only before a label
def test_credit_lines_round_trip(author: str, source: str) -> None:
    credit = parse_credit_line(f"作者：{author}，来源：{source}，文章内容并不代表本网立场和观点。")
    assert credit == {"author": author, "source": source}


def _apply(pieces: list[Piece]) -> tuple[str, str]:
    """The two texts a diff's pieces make: "=" and "-" the old one, "=" and "+" the new one."""
    return ("".join(text for op, text in pieces if op != "+"),
            "".join(text for op, text in pieces if op != "-"))


#: few characters (so that two texts share many), paragraph breaks among them
DIFF_TEXT = st.text(st.sampled_from("中国的人权新疆，。ab \n"), max_size=60)


@given(DIFF_TEXT, DIFF_TEXT)
@example("旧的说法", "新的看法")
@settings(max_examples=300)
def test_a_character_diff_makes_both_texts_again(old: str, new: str) -> None:
    pieces = char_diff(old, new)
    assert _apply(pieces) == (old, new)
    assert all(text for _op, text in pieces)  # no empty piece
    assert all(a[0] != b[0] for a, b in itertools.pairwise(pieces))  # runs merged: no two pieces alike
    assert (old == new) == all(op == "=" for op, _text in pieces)


@given(DIFF_TEXT, DIFF_TEXT, st.integers(0, 3))
@example("甲\n\n乙\n\n丙\n\n丁\n\n戊", "甲\n\n乙\n\n丙\n\n丁改\n\n戊", 1)
@settings(max_examples=300)
def test_a_paragraph_diff_makes_both_texts_again_and_folds_only_what_is_far_from_a_change(
        old: str, new: str, context: int) -> None:
    stretches = paragraph_diff(old, new, context=context)
    assert sides(stretches) == (old, new)
    before, after = old.split("\n\n"), new.split("\n\n")
    assert [i for s in stretches for i in s.old] == list(range(len(before)))  # each paragraph once, in order
    assert [j for s in stretches for j in s.new] == list(range(len(after)))
    for index, stretch in enumerate(stretches):
        if stretch.changed:
            assert _apply(list(stretch.pieces)) == ("\n\n".join(before[i] for i in stretch.old),
                                                    "\n\n".join(after[j] for j in stretch.new))
        else:
            assert list(stretch.same) == before[stretch.old.start:stretch.old.stop] == after[
                stretch.new.start:stretch.new.stop]
        if stretch.folded:  # never beside a change
            assert all(not s.changed for s in stretches[max(0, index - 1):index + 2])


@given(st.lists(st.sampled_from(["人权", "新疆", "美国", "<b>"]), max_size=6),
       st.lists(st.sampled_from(["人权", "新疆", "美国", "<b>"]), max_size=6))
def test_an_item_diff_makes_both_lists_again(old: list[str], new: list[str]) -> None:
    pieces = item_diff(old, new)
    assert [t for op, t in pieces if op != "+"] == old and [t for op, t in pieces if op != "-"] == new


@given(st.datetimes(min_value=datetime(1900, 1, 1)), st.sampled_from(["", "Z", "+08:00", "+00:00"]))
def test_readable_time_reads_any_iso_time(when: datetime, zone: str) -> None:
    text = readable_time(f"{when:%Y-%m-%dT%H:%M:%S}{zone}")
    assert text.startswith(f"{when.year}年{when.month}月{when.day}日 {when:%H:%M}")
    assert text.endswith(" UTC") == (zone in ("Z", "+00:00"))
