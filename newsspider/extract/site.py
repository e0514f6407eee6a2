"""Everything specific to bannedbook.org (禁闻网): URL shapes and selectors, in one place.

The spider recognises pages by the shape of their URL, not by the markup that
links to them, so it keeps working when listing markup changes.  Selectors are
CSS except where noted.  No function here fetches anything.
"""

from __future__ import annotations

import re
from enum import Enum
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from newsspider.extract.processors import canonical_url, clean_text, parse_date8

LIVE_ROOT = "https://www.bannedbook.org/bnews/"

# Where a crawl of the live site starts: the front page and the main category pages.
DEFAULT_START_URLS: tuple[str, ...] = tuple(
    LIVE_ROOT + path
    for path in (
        "", "cbnews/", "cnnews/", "headline/", "ssgc/", "renquan/", "comments/",
        "baitai/", "worldnews/", "finance/", "itnews/", "topimagenews/",
    )
)

# Where WordPress sites publish their sitemaps when robots.txt names none (Yoast SEO's index, then
# WordPress core's), at the host's root and under the blog's path.  A crawl reads these on the
# start URLs' hosts only (newsspider.spiders.sitemaps).
SITEMAP_PATHS: tuple[str, ...] = ("/sitemap_index.xml", "/wp-sitemap.xml",
                                  "/bnews/sitemap_index.xml", "/bnews/wp-sitemap.xml")
ROBOTS_PATH = "/robots.txt"
# Child sitemaps that list no articles (pages, categories, tags, authors: Yoast's and WordPress core's
# names); a crawl does not fetch them.
_NO_ARTICLES_SITEMAP = re.compile(r"/(?:(?:page|category|post_tag|tag|author|format)-sitemap\d*\.xml"
                                  r"|wp-sitemap-(?:taxonomies|users|posts-page)-)")


def sitemap_lists_articles(url: str) -> bool:
    """Whether a child sitemap may list articles (not one of pages, categories, tags, authors).

    >>> [sitemap_lists_articles("https://www.bannedbook.org/" + name) for name in (
    ...  "post-sitemap3.xml", "wp-sitemap-posts-post-2.xml", "news-sitemap.xml", "page-sitemap.xml",
    ...  "post_tag-sitemap12.xml", "wp-sitemap-taxonomies-category-1.xml", "wp-sitemap-users-1.xml")]
    [True, True, True, False, False, False, False]
    """
    return not _NO_ARTICLES_SITEMAP.search(urlsplit(url).path)


# Where WordPress publishes the feed of all its posts (the blog is under /bnews/; the root's too), when
# no page of an earlier run named one (FEED_LINKS).  A recurring crawl reads the site's feeds first
# (newsspider.spiders.feeds).
FEED_PATHS: tuple[str, ...] = ("/bnews/feed/", "/feed/")
# The feeds a page names in its <head> (WordPress names the site's, its comments' and the listing's).
FEED_LINKS = ('link[rel~=alternate][type="application/rss+xml"]::attr(href), '
              'link[rel~=alternate][type="application/atom+xml"]::attr(href)')
_SITE_FEED = re.compile(r"^(?:/bnews)?/feed(?:/(?:(?:rss2?|atom|rdf)/?)?)?$")


def is_site_feed(url: str) -> bool:
    """Whether *url* is the feed of all the site's posts, newest first (not a category's, a tag's, the
    comments' or an article's comments), in WordPress's pretty or plain form.

    >>> [is_site_feed("https://www.bannedbook.org" + path) for path in (
    ...  "/bnews/feed/", "/feed", "/bnews/feed/atom/", "/?feed=rss2", "/bnews/comments/feed/",
    ...  "/bnews/itnews/feed/", "/bnews/tag/x/feed/", "/bnews/itnews/20240626/2054421.html/feed/")]
    [True, True, True, True, False, False, False, False]
    """
    parts = urlsplit(url)
    if parts.path in ("", "/", "/bnews/", "/bnews"):
        return _query_value(parts.query, "feed") in ("rss", "rss2", "atom", "rdf")
    return bool(_SITE_FEED.match(parts.path))


def feed_page_url(url: str, page: int) -> str:
    """Page *page* of the feed *url* (WordPress's ``?paged=N``: the posts after the first pages').

    >>> feed_page_url("https://www.bannedbook.org/bnews/feed/", 3)
    'https://www.bannedbook.org/bnews/feed/?paged=3'
    >>> feed_page_url("https://www.bannedbook.org/?feed=rss2&paged=2", 4), feed_page_url("https://x/feed/", 1)
    ('https://www.bannedbook.org/?feed=rss2&paged=4', 'https://x/feed/')
    """
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "paged"]
    return urlunsplit(parts._replace(query=urlencode(query + ([("paged", str(page))] if page > 1 else []))))


# Page-title suffixes the site appends ("标题 - 禁闻网").
TITLE_SUFFIXES = ("中国禁闻网", "禁闻网", "禁聞網")

# --- URL shapes (paths are matched percent-decoded-insensitive: they hold only ASCII here) ---
# A category slug has a letter: all-digit segments are date archives (/bnews/2024/01/), a trap.
_SEGMENT = r"(?=[a-z0-9_-]*[a-z])[a-z0-9][a-z0-9_-]*"
ARTICLE_PATH = re.compile(
    rf"^/bnews/(?P<category>{_SEGMENT}(?:/{_SEGMENT})*)/(?P<date>\d{{8}})/(?P<id>[0-9]{{1,18}})\.html$"
)
TAG_PATH = re.compile(r"^/bnews/tag/(?P<slug>[^/]+)/(?:page/(?P<page>\d+)/?)?$")
# The site's categories are at most two deep (/bnews/renquan/minyun/); one more level is allowed for a
# category it may add.  A deeper path is no listing of the site (a trap of ever-deeper listings).
MAX_CATEGORY_DEPTH = 3
LISTING_PATH = re.compile(rf"^/bnews/(?:(?P<category>(?!page/){_SEGMENT}(?:/(?!page/){_SEGMENT})"
                          rf"{{0,{MAX_CATEGORY_DEPTH - 1}}})/)?(?:page/(?P<page>\d+)/?)?$")
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


@lru_cache(maxsize=16384)
def classify(url: str) -> Kind:
    """Tell an article, shortlink, tag or listing URL from everything else.

    >>> classify("https://www.bannedbook.org/bnews/itnews/20240625/2054368.html")
    <Kind.ARTICLE: 'article'>
    >>> classify("https://www.bannedbook.org/bnews/renquan/minyun/20240101/12.html").value
    'article'
    >>> classify("https://www.bannedbook.org/?p=2054368").value
    'shortlink'
    >>> classify("https://www.bannedbook.org/?p=" + "9" * 19).value  # no id of the site: more than 18 digits
    'other'
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
    >>> [classify(LIVE_ROOT + p).value for p in ("a/b/c/", "a/b/c/page/2/", "a/b/c/d/", "a/b/c/d/page/2/")]
    ['listing', 'listing', 'other', 'other']
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return Kind.OTHER
    if parts.scheme not in ("http", "https"):
        return Kind.OTHER
    path = parts.path
    query = [k for k, _ in parse_qsl(parts.query) if not k.lower().startswith("utm_")]
    if path in ("", "/") and query == ["p"] and re.fullmatch(r"\d{1,18}", _query_value(parts.query, "p")):
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


def is_front_listing(url: str) -> bool:
    """Whether *url* is the front page's listing, which lists every article.

    >>> [is_front_listing(LIVE_ROOT + path) for path in ("", "page/2/", "itnews/")]
    [True, True, False]
    """
    return classify(url) is Kind.LISTING and urlsplit(listing_base(url) or "").path == "/bnews/"


def front_listing_url(url: str) -> str:
    """The front page's listing (every article) of *url*'s host.

    >>> front_listing_url("https://www.bannedbook.org/bnews/itnews/page/2/")
    'https://www.bannedbook.org/bnews/'
    """
    split = urlsplit(url)
    return f"{split.scheme}://{split.netloc}{urlsplit(LIVE_ROOT).path}"


def category_listing_url(article: str) -> str | None:
    """The listing of an article's category (None for a URL that is not an article's).

    >>> category_listing_url("https://www.bannedbook.org/bnews/worldnews/usa/20240101/1.html")
    'https://www.bannedbook.org/bnews/worldnews/usa/'
    """
    if (parts := article_parts(article)) is None:
        return None
    split = urlsplit(article)
    return f"{split.scheme}://{split.netloc}/bnews/{parts[1]}/"


def listing_page_url(url: str, page: int) -> str:
    """Page *page* of the listing *url* is a page of (WordPress's ``page/N/``).

    >>> listing_page_url("https://www.bannedbook.org/bnews/itnews/page/3/", 40)
    'https://www.bannedbook.org/bnews/itnews/page/40/'
    >>> listing_page_url("https://www.bannedbook.org/bnews/itnews/page/3/", 1)
    'https://www.bannedbook.org/bnews/itnews/'
    """
    base = listing_base(url) or url
    return base if page <= 1 else f"{base}page/{page}/"


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


def article_id_of(url: str) -> str | None:
    """The id of the article *url* is the page of (its own URL, the traditional-script mirror's, a
    shortlink), else None: a redirect to any of them still leads to the article.

    >>> article_id_of("https://www.bannedbook.org/bnews/zh-tw/itnews/20240625/2054368.html")
    '2054368'
    >>> article_id_of("https://www.bannedbook.org/?p=12"), article_id_of("https://www.bannedbook.org/bnews/")
    ('12', None)
    """
    parts = article_parts(simplified_url(url))
    return parts[0] if parts else shortlink_id(url)


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
# The page's own stylesheets, fetched with its images (``--images``) so that replay shows the page as it
# was served (what they reference in turn, fonts and background images, is not fetched).
STYLESHEETS = "link[rel~=stylesheet][href]"
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
# What tells a listing's last page, when the pagination shows it (WP-PageNavi's "last" link and its
# "第 1 页，共 N 页" / "Page 1 of N" label); the live site shows only 下一页.
LAST_PAGE_TEXTS = ("尾页", "末页", "最后一页", "最後一頁", "最后", "Last", "»»")
PAGES_LABEL = "div.wp-pagenavi span.pages"
_PAGES_OF = re.compile(r"(?:共\s*(\d+)\s*页|of\s+(\d+))", re.IGNORECASE)


def last_page_number(link_texts: list[tuple[str, str]], label: str = "") -> int | None:
    """A listing's last page from its pagination's (text, href) links and its "pages" label; None
    when the pagination does not show it.

    >>> last_page_number([("下一页", "/bnews/page/2/")]) is None
    True
    >>> last_page_number([("2", "/bnews/page/2/"), ("尾页 »", "/bnews/page/1187/")])
    1187
    >>> last_page_number([], "第 1 页，共 1,234 页")
    1234
    """
    if match := _PAGES_OF.search(label.replace(",", "")):
        return int(match[1] or match[2])
    for text, href in link_texts:
        if any(marker in text for marker in LAST_PAGE_TEXTS) and (page := re.search(r"/page/(\d+)/?$", href)):
            return int(page[1])
    return None


# --- Credit lines and page endings -----------------------------------------------------------
# An article may open with a credit line and end with the editor; both are taken out of the body.
# The forms the site writes (simplified script, and traditional in articles reprinted from Taiwan or Hong
# Kong and on the mirror; either colon).  Each word below is listed in both scripts (OpenCC's
# traditional forms: tests/test_loaders.py checks that none is missing):
#   作者：X，来源：Y，文章内容并不代表本网立场和观点。   来源：Y 作者：X   作者：X来源：Y，…
#   作者：X | 来源：Y   作者：X 丨 来源：Y   文／X   （来源：Y）   来源：《Y》
#   Original 公众号名 栏目名 ，文章内容不知真假…        (a reprint from a WeChat account: Y = the account)
#   …  站长动态，转发分享↓Follow Us 责任编辑：X          (the 2025 ending: a share block, then the editor)
# A writer is 作者/撰文/撰稿 (or 文／X at the start); a reporter (记者) or a translator (编译/翻译/译者)
# is the author only when the line is plainly a credit line (another label or the disclaimer with it,
# or nothing but the name): an interview's "记者：请问……" stays in the body.
WRITER_LABELS = ("作者", "撰文", "撰稿")
REPORTER_LABELS = ("记者", "記者", "编译", "編譯", "翻译", "翻譯", "译者", "譯者")
SOURCE_LABELS = ("来源", "來源", "转载自", "轉載自", "转自", "轉自")
EDITOR_LABELS = ("责任编辑", "責任編輯", "编辑", "編輯")
# The site's "not our position" disclaimers, which only a credit line carries.
DISCLAIMERS = ("不代表本网立场", "不代表本網立場", "并不代表本网", "並不代表本網", "文章转自网络",
               "文章轉自網絡", "文章轉自網路", "不知真假")
# The marker a WeChat reprint's header starts with.
WECHAT_MARKERS = ("Original", "原创", "原創")
# The share block of the 2025 page ending (its own paragraph, or before the editor on one line):
# 站长动态，转发分享↓Follow Us, or 站長動態，轉發分享↓Follow Us.
SHARE_NEWS = ("站长动态", "站長動態")
SHARE_FORWARD = ("转发分享", "轉發分享")
SHARE_BLOCK = rf"(?:{'|'.join(SHARE_NEWS)})\s*[，,]?\s*(?:{'|'.join(SHARE_FORWARD)})\s*↓?\s*(?:Follow\s*Us)?"

_COLON = r"\s*[：:]\s*"
_ANY_LABEL = "|".join((*WRITER_LABELS, *REPORTER_LABELS, *SOURCE_LABELS))
# A field's value ends at punctuation, at the next label (with or without a space, a slash or a 丨
# before it: 作者：X来源：Y, 作者：X丨来源：Y; 丨 alone may be part of a name), or at the end of the line.
_FIELD_END = rf"(?=\s*[，,；;。（(）)|｜]|[\s/／丨]*(?:{_ANY_LABEL}){_COLON}|\s*$)"
_WRITER = re.compile(rf"(?:{'|'.join(WRITER_LABELS)}){_COLON}(?P<v>.+?){_FIELD_END}")
_REPORTER = re.compile(rf"(?:{'|'.join(REPORTER_LABELS)}){_COLON}(?P<v>.+?){_FIELD_END}")
_SOURCE = re.compile(rf"(?:{'|'.join(SOURCE_LABELS)}){_COLON}(?P<v>.+?){_FIELD_END}")
_BYLINE = re.compile(rf"^文\s*[／/]\s*(?P<v>[^，,；;。（(）)|｜\s]+?){_FIELD_END}")
_STARTS_STRONG = re.compile(rf"^(?:(?:{'|'.join((*WRITER_LABELS, *SOURCE_LABELS))}){_COLON}|文\s*[／/])")
_STARTS_WEAK = re.compile(rf"^(?:{'|'.join(REPORTER_LABELS)}){_COLON}")
_DISCLAIMER = re.compile("|".join(DISCLAIMERS))
_WECHAT = re.compile(rf"^(?:{'|'.join(WECHAT_MARKERS)})\s+(?P<head>[^，,]+?)\s*(?:[，,]\s*(?P<tail>.*))?$")
_BRACKETS = {"（": "）", "(": ")", "【": "】", "[": "]"}
_EDITOR = re.compile(rf"^(?:{SHARE_BLOCK}\s*)?[（(【\[]?\s*(?:{'|'.join(EDITOR_LABELS)}){_COLON}"
                     r"(?P<v>[^）)】\]]+?)\s*[）)】\]]?$", re.IGNORECASE)
_SHARE_ONLY = re.compile(rf"^{SHARE_BLOCK}$", re.IGNORECASE)


def _unwrapped(text: str) -> str:
    """*text* without brackets around all of it, and a source without 《》 around all of it.

    >>> _unwrapped("（来源：美国之音）"), _unwrapped("《大纪元》"), _unwrapped("《甲》与《乙》")
    ('来源：美国之音', '大纪元', '《甲》与《乙》')
    """
    if len(text) > 2 and _BRACKETS.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    if len(text) > 2 and text[0] == "《" and text[-1] == "》" and "《" not in text[1:-1]:
        text = text[1:-1].strip()
    return text


def _value(match: re.Match[str] | None) -> str | None:
    return _unwrapped(clean_text(match["v"])) or None if match else None


def parse_credit_line(text: str | None) -> dict[str, str | None] | None:
    """Read an opening credit line (the forms above); ``None`` when *text* is not one.

    >>> parse_credit_line("作者：公民老黑，来源：Citizen Laohei公民老黑youtube频道，"
    ...                   "文章内容并不代表本网立场和观点。")
    {'author': '公民老黑', 'source': 'Citizen Laohei公民老黑youtube频道'}
    >>> parse_credit_line("作者：林骁来源：大纪元，文章内容并不代表本网立场和观点。")
    {'author': '林骁', 'source': '大纪元'}
    >>> parse_credit_line("作者：林驍來源：大紀元，文章內容並不代表本網立場和觀點。")
    {'author': '林驍', 'source': '大紀元'}
    >>> parse_credit_line("来源：美国之音, 文章内容并不代表本网立场。")
    {'author': None, 'source': '美国之音'}
    >>> parse_credit_line("来源: 苹果日报 作者: 古立")
    {'author': '古立', 'source': '苹果日报'}
    >>> parse_credit_line("作者：王丹 | 来源：自由亚洲电台"), parse_credit_line("作者：王丹丨来源：RFA")
    ({'author': '王丹', 'source': '自由亚洲电台'}, {'author': '王丹', 'source': 'RFA'})
    >>> parse_credit_line("（来源：《纽约时报》中文网）"), parse_credit_line("来源：《大纪元》")
    ({'author': None, 'source': '《纽约时报》中文网'}, {'author': None, 'source': '大纪元'})
    >>> parse_credit_line("文／陈破空，来源：新唐人")
    {'author': '陈破空', 'source': '新唐人'}
    >>> parse_credit_line("Original 北美保守评论 时评 ，文章内容不知真假，请读者自行判断。")
    {'author': None, 'source': '北美保守评论'}
    >>> parse_credit_line("Original 纵览中国")
    {'author': None, 'source': '纵览中国'}
    >>> parse_credit_line("记者：李志，编译：张三，来源：美国之音")
    {'author': '李志', 'source': '美国之音'}
    >>> parse_credit_line("编译：张三")
    {'author': '张三', 'source': None}
    >>> parse_credit_line("文章转自网络，旨在为读者提供多元信息，内容并不代表本网立场和观点。")
    {'author': None, 'source': None}
    >>> parse_credit_line("记者：请问您如何看待这次的贸易谈判结果？") is None  # an interview's first question
    True
    >>> parse_credit_line("Original sin is a theme of the essay, he said.") is None
    True
    >>> parse_credit_line("证券时报报导，目前OpenAI的API向161个国家和地区开放") is None
    True
    """
    text = _unwrapped(clean_text(text))
    if not text:
        return None
    if wechat := _WECHAT.match(text):
        names = wechat["head"].split()
        plain_header = wechat["tail"] is None and len(names) <= 2 and all(len(n) <= 20 for n in names)
        if 1 <= len(names) <= 2 and (plain_header or _DISCLAIMER.search(wechat["tail"] or "")):
            return {"author": None, "source": names[0]}
        return None
    head = text[:80]
    writer = _WRITER.match(text) or _WRITER.search(head) or _BYLINE.match(text)
    reporter = _REPORTER.match(text) or _REPORTER.search(head)
    source = _SOURCE.match(text) or _SOURCE.search(head)
    credit = bool(_STARTS_STRONG.match(text) or _DISCLAIMER.search(text))
    if not credit and _STARTS_WEAK.match(text) and reporter:  # 记者/编译 only with more, or a bare name
        credit = bool(source or writer or _name_only(text, reporter))
    if not credit:
        return None
    return {"author": _value(writer) or _value(reporter), "source": _value(source)}


def _name_only(text: str, match: re.Match[str]) -> bool:
    """The line is a label and a short name, nothing else (编译：张三)."""
    return match.end() == len(text) and len(match["v"]) <= 12 and not re.search(r"[？?！!。]", match["v"])


def parse_editor_line(text: str | None) -> str | None:
    """Read a closing editor line, after the 2025 share block or not; ``None`` when *text* is not one.

    >>> parse_editor_line("责任编辑：李明"), parse_editor_line("（责任编辑：王五）")
    ('李明', '王五')
    >>> parse_editor_line("站长动态，转发分享↓Follow Us 责任编辑：李华")
    '李华'
    >>> parse_editor_line("站長動態，轉發分享↓Follow Us 責任編輯：趙凌雲")
    '趙凌雲'
    >>> parse_editor_line("他是责任编辑：不是编辑行") is None
    True
    """
    match = _EDITOR.match(clean_text(text))
    return clean_text(match["v"]) or None if match else None


def is_share_block(text: str | None) -> bool:
    """Whether a paragraph is only the 2025 ending's share block.

    >>> is_share_block("站长动态，转发分享↓Follow Us"), is_share_block("转发分享这篇文章")
    (True, False)
    >>> is_share_block("站長動態，轉發分享↓Follow Us")
    True
    """
    return bool(_SHARE_ONLY.match(clean_text(text)))
