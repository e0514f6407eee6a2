"""Everything specific to bannedbook.org (禁闻网): URL shapes and selectors, in one place.

The spider recognises pages by the shape of their URL, not by the markup that
links to them, so it keeps working when listing markup changes.  Selectors are
CSS except where noted.  No function here fetches anything.
"""

from __future__ import annotations

import re
from enum import Enum
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from newsspider.processors import canonical_url, parse_date8

LIVE_ROOT = "https://www.bannedbook.org/bnews/"

# Where a crawl of the live site starts: the front page and the main category pages.
DEFAULT_START_URLS: tuple[str, ...] = tuple(
    LIVE_ROOT + path
    for path in (
        "", "cbnews/", "cnnews/", "headline/", "ssgc/", "renquan/", "comments/",
        "baitai/", "worldnews/", "finance/", "itnews/", "topimagenews/",
    )
)

# Page-title suffixes the site appends ("标题 - 禁闻网").
TITLE_SUFFIXES = ("中国禁闻网", "禁闻网", "禁聞網")

# --- URL shapes (paths are matched percent-decoded-insensitive: they hold only ASCII here) ---
# A category slug has a letter: all-digit segments are date archives (/bnews/2024/01/), a trap.
_SEGMENT = r"(?=[a-z0-9_-]*[a-z])[a-z0-9][a-z0-9_-]*"
ARTICLE_PATH = re.compile(
    rf"^/bnews/(?P<category>{_SEGMENT}(?:/{_SEGMENT})*)/(?P<date>\d{{8}})/(?P<id>[0-9]{{1,18}})\.html$"
)
TAG_PATH = re.compile(r"^/bnews/tag/(?P<slug>[^/]+)/(?:page/(?P<page>\d+)/?)?$")
LISTING_PATH = re.compile(rf"^/bnews/(?:(?P<category>(?!page/){_SEGMENT}(?:/(?!page/){_SEGMENT})*)/)?"
                          r"(?:page/(?P<page>\d+)/?)?$")
MIRROR_PREFIX = "/bnews/zh-tw/"
# Path segments that are never listings: the mirror, WordPress machinery, feeds, scripts.
EXCLUDED_SEGMENTS = frozenset({
    "zh-tw", "tag", "feed", "rss", "rss2", "atom", "amp", "embed", "trackback", "author",
    "wp-admin", "wp-content", "wp-includes", "wp-json", "js", "css", "images", "search",
    "comments-feed", "page",
})


class Kind(Enum):
    """What a URL points at, as far as the crawl is concerned."""

    ARTICLE = "article"
    SHORTLINK = "shortlink"
    TAG = "tag"
    LISTING = "listing"
    OTHER = "other"


@lru_cache(maxsize=131072)
def classify(url: str) -> Kind:
    """Tell an article, shortlink, tag or listing URL from everything else.

    >>> classify("https://www.bannedbook.org/bnews/itnews/20240625/2054368.html")
    <Kind.ARTICLE: 'article'>
    >>> classify("https://www.bannedbook.org/bnews/renquan/minyun/20240101/12.html").value
    'article'
    >>> classify("https://www.bannedbook.org/?p=2054368").value
    'shortlink'
    >>> classify("https://www.bannedbook.org/bnews/tag/%E8%B4%B8%E6%98%93%E6%88%98/page/2/").value
    'tag'
    >>> [classify(LIVE_ROOT + p).value for p in ("", "page/3/", "cnnews/hknews/", "itnews/page/2/")]
    ['listing', 'listing', 'listing', 'listing']
    >>> [classify(LIVE_ROOT + p).value for p in ("zh-tw/itnews/20240625/2054368.html", "feed/",
    ...  "itnews/feed/", "?s=中国", "wp-content/x.css")]
    ['other', 'other', 'other', 'other', 'other']
    >>> classify("mailto:editor@example.org").value
    'other'
    >>> [classify(LIVE_ROOT + p).value for p in ("2024/01/", "2024/01/02/", "date/2024/")]
    ['other', 'other', 'other']
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return Kind.OTHER
    if parts.scheme not in ("http", "https"):
        return Kind.OTHER
    path = parts.path
    query = [k for k, _ in parse_qsl(parts.query) if not k.lower().startswith("utm_")]
    if path in ("", "/") and query == ["p"] and re.fullmatch(r"\d+", _query_value(parts.query, "p")):
        return Kind.SHORTLINK
    if query or path.startswith(MIRROR_PREFIX):
        return Kind.OTHER
    if ARTICLE_PATH.match(path):
        return Kind.ARTICLE
    if TAG_PATH.match(path):
        return Kind.TAG
    listing = LISTING_PATH.match(path)
    if listing and not (set((listing["category"] or "").split("/")) & EXCLUDED_SEGMENTS):
        return Kind.LISTING
    return Kind.OTHER


def _query_value(query: str, name: str) -> str:
    return next((v for k, v in parse_qsl(query) if k == name), "")


def article_parts(url: str) -> tuple[str, str, str] | None:
    """(article id, category, YYYY-MM-DD from the URL) of an article URL, else ``None``.

    >>> article_parts("https://www.bannedbook.org/bnews/renquan/minyun/20240101/12.html")
    ('12', 'renquan/minyun', '2024-01-01')
    >>> article_parts("https://www.bannedbook.org/bnews/tag/x/") is None
    True
    """
    match = ARTICLE_PATH.match(urlsplit(url).path)
    if not match:
        return None
    return match["id"], match["category"], parse_date8(match["date"]) or ""


def shortlink_id(url: str) -> str | None:
    """The article id a WordPress shortlink (``/?p=<id>``) points at.

    >>> shortlink_id("https://www.bannedbook.org/?p=2054368&utm_source=tw")
    '2054368'
    >>> shortlink_id("https://www.bannedbook.org/bnews/") is None
    True
    """
    if classify(url) is not Kind.SHORTLINK:
        return None
    return _query_value(urlsplit(url).query, "p")


def listing_base(url: str) -> str | None:
    """A listing or tag page's URL without its ``page/N/`` part; ``None`` for other URLs.

    Two pages of the same listing have the same base.

    >>> listing_base("https://www.bannedbook.org/bnews/tag/%E8%B4%B8/page/3/")
    'https://www.bannedbook.org/bnews/tag/%E8%B4%B8/'
    >>> listing_base("https://www.bannedbook.org/bnews/itnews/") == listing_base(
    ...     "https://www.bannedbook.org/bnews/itnews/page/2/")
    True
    >>> listing_base("https://www.bannedbook.org/bnews/itnews/20240625/2054368.html") is None
    True
    """
    if classify(url) not in (Kind.LISTING, Kind.TAG):
        return None
    return re.sub(r"page/\d+/?$", "", url)


def simplified_url(url: str) -> str:
    """Map a ``/bnews/zh-tw/`` mirror URL to its simplified-script original.

    >>> simplified_url("https://www.bannedbook.org/bnews/zh-tw/itnews/20240625/2054368.html")
    'https://www.bannedbook.org/bnews/itnews/20240625/2054368.html'
    >>> simplified_url("https://www.bannedbook.org/bnews/itnews/")
    'https://www.bannedbook.org/bnews/itnews/'
    """
    parts = urlsplit(url)
    if not parts.path.startswith(MIRROR_PREFIX):
        return url
    path = "/bnews/" + parts.path[len(MIRROR_PREFIX):]
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def article_url(url: str) -> str:
    """The URL an article is stored under: simplified script, canonical spelling.

    >>> article_url("HTTPS://www.bannedbook.org/bnews/zh-tw/itnews/20240625/2054368.html?utm_medium=x#c")
    'https://www.bannedbook.org/bnews/itnews/20240625/2054368.html'
    """
    return canonical_url(simplified_url(url))


# --- Selectors -------------------------------------------------------------------------------
# Article page.  Selectors are CSS, or XPath when they start with "/" or "./".  Those of the
# entry are run inside div.entry (it holds the text, the tags, the related list and the source
# line), those of the head inside <head>: a page is scanned whole only to find the entry.
ENTRY = "div.entry"
ARTICLE_TITLE = "./preceding-sibling::h2[1]"  # in the entry's scope: the <h2> just before it
SUMMARY = "p#summary"
IMAGE_CREDIT = "p#conimg"
SOURCE_LINE = "p.src-info"
# Paragraphs of the entry that can hold body text; the ones below are not body.
ENTRY_PARAGRAPHS = "div.entry > p, div.entry > div.content > p"
NOT_BODY_IDS = frozenset({"summary", "conimg"})
NOT_BODY_CLASSES = frozenset({"src-info", "notice", "wp-caption-text"})
TAG_LINKS = "a[rel~=tag], a.st_tag"
RELATED_LINKS = "ul.op-related-articles a::attr(href)"
# Images of the entry: each <img> (src, else a lazy loader's data-src), its caption (WordPress's
# wp-caption-text, or a figcaption), else the credit line right after it (p#conimg, "图/路透社").
BODY_IMAGES = "img"
IMAGE_SOURCES = ("src", "data-src", "data-lazy-src")
IMAGE_CAPTIONS = (
    "./ancestor::*[contains(concat(' ', normalize-space(@class), ' '), ' wp-caption ')][1]"
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' wp-caption-text ')]",
    "./ancestor::figure[1]/figcaption",
    "./ancestor-or-self::*[following-sibling::*][1]/following-sibling::*[1][@id='conimg']",
)
# In <head>.
OG_TITLE = 'meta[property="og:title"]::attr(content)'
OG_IMAGE = 'meta[property="og:image"]::attr(content)'
HTML_TITLE = "title::text"
PUBLISHED_TIME = 'meta[property="article:published_time"]::attr(content)'
# Anywhere in the page (older article pages).
POSTMETA = "div.postmeat"

# Every page: where its links are.
LINKS = "//a/@href | //link[@rel='next']/@href"

# Listing pages (front, category, tag).
LISTING_ITEMS = "div.postlist h4 > a:first-child::attr(href)"
NEXT_PAGE = 'link[rel="next"]::attr(href)'
NEXT_PAGE_TEXT = "下一页"
PAGINATION_LINKS = "div.wp-pagenavi a"
