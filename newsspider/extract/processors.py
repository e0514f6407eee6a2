"""Pure text, URL and date functions: no Scrapy, no site knowledge, no I/O.

Every function takes plain values and returns plain values, never raises on
odd input (they return ``None`` or an empty string instead), and shows its
behaviour in doctests.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

from newsspider.core.time import utc_now_iso  # its old home: extract.processors

__all__ = [
    "absolute_url",
    "canonical_url",
    "clean_text",
    "content_hash",
    "join_text",
    "parse_cn_datetime",
    "parse_iso_datetime",
    "strip_label",
    "utc_now_iso",
]

# CJK ideographs, kana, hangul and full-width punctuation: scripts written without spaces.
_CJK = (
    "\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
)
# A whitespace run that holds a line break, between two CJK characters: a source
# line break, not a space the author typed (CSS Text 3 drops these segment breaks).
_CJK_BREAK = re.compile(rf"(?<=[{_CJK}])[^\S\u3000]*[\r\n][^\S\u3000]*(?=[{_CJK}])")
_SPACE_RUN = re.compile(r"[^\S\n]+")
_LINE_EDGES = re.compile(r" *\n *")
_MANY_LINES = re.compile(r"\n{2,}")


def clean_text(text: str | None) -> str:
    """Normalise whitespace without inventing any between CJK characters.

    Runs of spaces, tabs, non-breaking and ideographic spaces become one space;
    a line break between two CJK characters is dropped; other line breaks become
    spaces; the ends are stripped.

    >>> clean_text("  OpenAI将终止\\n  中国服务 ")
    'OpenAI将终止中国服务'
    >>> clean_text("Paul M.\\u00a0 Nakasone（中曾根）")
    'Paul M. Nakasone（中曾根）'
    >>> clean_text("来源：美国之音, 文章内容")
    '来源：美国之音, 文章内容'
    >>> clean_text("\\u3000\\u3000正文")
    '正文'
    >>> clean_text(None)
    ''
    """
    if not text:
        return ""
    if "\n" in text or "\r" in text:
        text = _CJK_BREAK.sub("", text)
    return " ".join(text.split())  # str.split() knows every Unicode space, \u3000 and \xa0 included


def join_text(fragments: list[str], line_break: str = "\n") -> str:
    """Join the text nodes of one element with nothing between them, then clean it.

    Inline elements add no space (Chinese has none); a *line_break* marker (what
    the loader puts in place of ``<br>``) survives as a line break.

    >>> join_text(["多位", "大陆", "用户"])
    '多位大陆用户'
    >>> join_text(["第一行", "\\n", " 第二行 "])
    '第一行\\n第二行'
    >>> join_text([" ", "\\n"])
    ''
    """
    lines = "".join(fragments).split(line_break)
    return "\n".join(line for line in (clean_text(part) for part in lines) if line)


@lru_cache(maxsize=16384)
def canonical_url(url: str) -> str:
    """The URL without tracking parameters or fragment, in a canonical spelling.

    ``utm_*`` parameters and the fragment go, the host is lower-cased, the
    remaining query is sorted and percent-encoding is upper-cased.  The result
    is its own canonical form (canonicalising twice changes nothing), even for
    malformed escapes.

    >>> canonical_url("https://WWW.Example.org/bnews/tag/%e8%b4%b8/?utm_source=x&b=2&a=1#top")
    'https://www.example.org/bnews/tag/%E8%B4%B8/?a=1&b=2'
    >>> canonical_url("https://www.example.org/bnews/tag/贸易战/")
    'https://www.example.org/bnews/tag/%E8%B4%B8%E6%98%93%E6%88%98/'
    >>> canonical_url("http://www.example.org/%3%30") == canonical_url(canonical_url("http://www.example.org/%3%30"))
    True
    >>> canonical_url("not a url")
    'not a url'
    """
    result = _canonical_once(url)
    for _ in range(3):  # w3lib can need a second pass on malformed escapes
        again = _canonical_once(result)
        if again == result:
            break
        result = again
    return result


def _canonical_once(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
        if not parts.scheme or not parts.netloc:
            return url
        query = parts.query
        if "utm_" in query.lower():  # drop the pairs as written, without decoding the others
            query = "&".join(pair for pair in query.split("&")
                             if not pair.split("=", 1)[0].lower().startswith("utm_"))
        return canonicalize_url(urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")))
    except ValueError:
        return url


def absolute_url(base: str, href: str | None) -> str | None:
    """*href* made absolute against *base* and canonical; ``None`` when it is not a usable URL.

    A link that cannot be parsed (a broken IPv6 host, a port out of range, no
    host) is one bad value: the caller skips it and keeps the rest of the page.

    >>> absolute_url("https://www.example.org/bnews/", " itnews/?utm_source=x#c ")
    'https://www.example.org/bnews/itnews/'
    >>> absolute_url("https://www.example.org/bnews/", "http://[::1/bnews/cnnews/20240101/1.html") is None
    True
    >>> absolute_url("https://www.example.org/", "http://www.example.org:99999/a") is None
    True
    >>> absolute_url("https://www.example.org/", "mailto:editor@example.org")
    'mailto:editor@example.org'
    >>> absolute_url("https://www.example.org/", "") is None
    True
    """
    href = (href or "").strip()
    if not href:
        return None
    # The same links (menus, sidebars, tag clouds) are on every page: an absolute or root-relative one
    # is joined and canonicalised once for the whole site, whatever page it is on.
    if _ABSOLUTE.match(href):
        return _joined("", href)
    if href.startswith("/") and not href.startswith("//") and base.count("/") >= 3:
        return _joined("/".join(base.split("/", 3)[:3]), href)  # only the page's scheme and host matter
    return _joined(base, href)


_ABSOLUTE = re.compile(r"https?://", re.IGNORECASE)


@lru_cache(maxsize=16384)
def _joined(base: str, href: str) -> str | None:
    try:
        url = urljoin(base, href) if base else href
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and (not parts.hostname or parts.port == 0):
            return None
    except ValueError:  # urljoin/urlsplit on a malformed host, .port on a port out of range
        return None
    return canonical_url(url)


_CN_DATE = re.compile(
    r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日"
    r"(?:\s*(?P<H>\d{1,2})\s*[:：]\s*(?P<M>\d{2})(?:\s*[:：]\s*(?P<S>\d{2}))?)?"
)


def parse_cn_datetime(text: str | None) -> tuple[str, str | None] | None:
    """Find a ``YYYY年MM月DD日 [HH:MM]`` date; return (date, timestamp or None).

    >>> parse_cn_datetime("日期：2020年01月07日 | 分类：中国禁闻")
    ('2020-01-07', None)
    >>> parse_cn_datetime("2019年5月3日 08:15 | 分类：…")
    ('2019-05-03', '2019-05-03T08:15:00')
    >>> parse_cn_datetime("2019年13月40日") is None
    True
    """
    match = _CN_DATE.search(text or "")
    if not match:
        return None
    try:
        day = date(int(match["y"]), int(match["m"]), int(match["d"]))
        if match["H"] is None:
            return day.isoformat(), None
        moment = datetime(day.year, day.month, day.day, int(match["H"]), int(match["M"]),
                          int(match["S"] or 0))
    except ValueError:
        return None
    return day.isoformat(), moment.isoformat()


def parse_iso_datetime(text: str | None) -> tuple[str, str] | None:
    """Parse an ISO 8601 timestamp (``article:published_time``); return (date, timestamp).

    The date is the one written in the timestamp (the site's local date).

    >>> parse_iso_datetime("2024-06-26T08:12:30+08:00")
    ('2024-06-26', '2024-06-26T08:12:30+08:00')
    >>> parse_iso_datetime("2024-06-26T00:10:00Z")
    ('2024-06-26', '2024-06-26T00:10:00+00:00')
    >>> parse_iso_datetime("yesterday") is None
    True
    """
    try:
        moment = datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.date().isoformat(), moment.isoformat()


def parse_date8(text: str | None) -> str | None:
    """Turn a ``YYYYMMDD`` string (as in article URLs) into ``YYYY-MM-DD``.

    >>> parse_date8("20240626")
    '2024-06-26'
    >>> parse_date8("20241340") is None
    True
    >>> parse_date8("2024626"), parse_date8("2024-6-2"), parse_date8("０２０２４０６２")
    ('2024-06-26', None, None)
    """
    text = text or ""
    try:
        if len(text) == 8 and text.isascii() and text.isdigit():  # the URLs' form: no strptime (10 a page)
            return date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
        return datetime.strptime(text, "%Y%m%d").date().isoformat()
    except ValueError:
        return None


_LABEL = r"\s*[：:]\s*"


def strip_label(text: str | None) -> str | None:
    """Drop a leading "来源：" style label; ``None`` for empty text.

    >>> strip_label("来源：中时 ")
    '中时'
    >>> strip_label("  ") is None
    True
    """
    text = re.sub(rf"^(?:来源|來源|出处|出處){_LABEL}", "", clean_text(text))
    return text or None


def strip_site_suffix(title: str | None, suffixes: tuple[str, ...]) -> str:
    """Remove a " - site name" suffix from a page title.

    >>> strip_site_suffix("贸易战 - 中国禁闻网", ("中国禁闻网", "禁闻网"))
    '贸易战'
    >>> strip_site_suffix("标题", ("禁闻网",))
    '标题'
    """
    title = clean_text(title)
    for suffix in suffixes:
        title = re.sub(rf"\s*[-|–—_]\s*{re.escape(suffix)}$", "", title)
    return title


def content_hash(title: str, body: str) -> str:
    """A stable fingerprint of an article's text (SHA-256 of title and body).

    >>> content_hash("标题", "正文")[:23]
    'sha256:08cd81452303c97e'
    >>> content_hash("a", "b") == content_hash("a", "b") != content_hash("a", "c")
    True
    """
    digest = hashlib.sha256(f"{title}\n\n{body}".encode()).hexdigest()
    return f"sha256:{digest}"
