"""Property tests for the pure functions: they never raise, and keep their promises on any input."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

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
