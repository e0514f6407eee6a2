"""Extraction: site selectors + pure processors -> :class:`~newsspider.extract.items.Article`.

:func:`load_article` reads an article page, :func:`parse_listing` a listing page
(front page, category or tag).  Both take a Scrapy response and, optionally,
the page's selector (:func:`page_selector`, so that a page is parsed once for
extraction and link following), and never fetch anything.

Extraction is on the crawl's hot path, so the CSS selectors of ``site.py`` are
translated to XPath and compiled once, and run on the parsed tree directly.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from itemloaders import ItemLoader
from itemloaders.processors import Compose, Identity, MapCompose, TakeFirst
from lxml import etree
from parsel import Selector
from parsel.csstranslator import HTMLTranslator
from scrapy.http import TextResponse
from scrapy.utils.response import get_base_url
from w3lib.encoding import read_bom

from newsspider.extract import site
from newsspider.extract.items import Article
from newsspider.extract.processors import (
    absolute_url,
    clean_text,
    content_hash,
    join_text,
    parse_cn_datetime,
    parse_iso_datetime,
    strip_label,
    strip_site_suffix,
    utc_now_iso,
)

__all__ = ["ArticleLoader", "ListingPage", "Problems", "absolute_links", "absolute_urls", "is_html",
           "load_article", "page_base", "page_selector", "paragraph_text", "parse_listing", "parser_encoding",
           "select", "split_body", "web_urls"]



class Problems:
    """What extraction had to leave out of one page, by kind (``bad_url``, ``too_deep``, ...).

    Each is a value lost, never the page; the spider turns them into
    ``newsspider/skipped/<kind>`` stats.  The same bad value met twice on a
    page (a related link is also a link to follow) counts once.

    >>> p = Problems()
    >>> p.add("bad_url", "http://[::1/a"); p.add("bad_url", "http://[::1/a"); p.add("links_over_limit", n=5)
    >>> dict(p.counts)
    {'bad_url': 1, 'links_over_limit': 5}
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._values: set[tuple[str, str]] = set()

    def add(self, kind: str, value: str = "", n: int = 1) -> None:
        if value:
            if (kind, value) in self._values:
                return
            self._values.add((kind, value))
        self.counts[kind] += n

    def __bool__(self) -> bool:
        return bool(self.counts)

_BR = "\n"
_SKIPPED_TAGS = ("script", "style", "noscript")


def _prepare_text(element: Any) -> None:
    """Ready a subtree for text extraction: scripts and styles removed, ``<br>`` as a line break."""
    etree.strip_elements(element, *_SKIPPED_TAGS, with_tail=False)
    for br in element.iter("br"):
        br.tail = _BR + (br.tail or "")


_STRING = etree.XPath("string()", smart_strings=False)  # an element's text nodes, joined, in C


@contextmanager
def _readied(element: Any) -> Iterator[Any]:
    """*element* readied for reading text (:func:`_prepare_text`), the tree unchanged afterwards.

    ``<br>`` tails get their line break for the time being; an element with
    scripts or styles is read from a readied copy (rare: a copy costs more).
    """
    if next(element.iter(*_SKIPPED_TAGS), None) is not None:
        copy = deepcopy(element)
        _prepare_text(copy)
        yield copy
        return
    tails = [(br, br.tail) for br in element.iter("br")]
    for br, tail in tails:
        br.tail = _BR + (tail or "")
    try:
        yield element
    finally:
        for br, tail in tails:
            br.tail = tail


def _element_text(element: Any) -> str:
    """Text of an element: its text nodes in order, whitespace cleaned, no space invented."""
    text = _STRING(element)
    if "\n" in text or "\r" in text:
        return join_text([text], line_break=_BR)
    return " ".join(text.split())


def _text_of(value: Any) -> str:
    """A selector's result as text: an element's (:func:`_element_text`), a string as it is."""
    return value if isinstance(value, str) else _element_text(value)


def _unique(values: Iterable[str]) -> list[str]:
    """Drop empty values and repeats, keeping the first occurrence's order.

    >>> _unique(["中国", "", "美国", "中国"])
    ['中国', '美国']
    """
    return list(dict.fromkeys(v for v in values if v))


def _site_title(title: str) -> str:
    return strip_site_suffix(title, site.TITLE_SUFFIXES)


def _paragraphs(paragraphs: list[str]) -> str | None:
    """Body paragraphs as one text, a blank line between them.

    >>> _paragraphs(["一", "二"])
    '一\\n\\n二'
    >>> _paragraphs([]) is None
    True
    """
    return "\n\n".join(paragraphs) or None


def web_urls(base: str, hrefs: Iterable[str], problems: Problems | None) -> list[str]:
    """The http(s) links among *hrefs*, absolute and canonical (:func:`absolute_urls`).

    What a record links to (its images, its related articles) is on the web: a link of another
    scheme (``javascript:``, ``data:``, ``mailto:``) is left out and counted as ``bad_url``, like a
    link that is not a URL; the rest of the page is kept.

    >>> p = Problems()
    >>> web_urls("https://a.org/x/", ["b.jpg", "javascript:alert(1)", "data:image/png;base64,AA=="], p)
    ['https://a.org/x/b.jpg']
    >>> dict(p.counts)
    {'bad_url': 2}
    """
    urls = []
    for url in absolute_urls(base, hrefs, problems):
        if url.startswith(("http://", "https://")):
            urls.append(url)
        elif problems is not None:
            problems.add("bad_url", url)
    return urls


def _absolute(hrefs: list[str], loader_context: dict[str, Any]) -> list[str]:
    """Web links made absolute against the page's base (``loader_context``: ``base``, ``problems``)."""
    return web_urls(loader_context["base"], hrefs, loader_context.get("problems"))


def _image(img: Any, loader_context: dict[str, Any]) -> dict[str, str | None] | None:
    """An ``<img>`` of the entry as ``{"url", "alt", "caption"}`` (None without a usable URL)."""
    src = next((value for name in site.IMAGE_SOURCES if (value := (img.get(name) or "").strip())), "")
    urls = web_urls(loader_context["base"], [src], loader_context.get("problems")) if src else []
    if not urls:
        return None
    caption = next((text for selector in site.IMAGE_CAPTIONS for element in select(img, selector)
                    if (text := _element_text(element))), None)
    return {"url": urls[0], "alt": clean_text(img.get("alt") or "") or None, "caption": caption}


# Field processors, module-level objects so that itemloaders' per-processor cache holds them.
_TEXT = MapCompose(_text_of)
_TITLE_OF_PAGE = MapCompose(_site_title)
_LABELLED = MapCompose(strip_label)
_UNIQUE = Compose(_unique)
_IMAGES = MapCompose(_image)


class ArticleLoader(ItemLoader):
    """Item loader for :class:`Article`, fed by the compiled site selectors (:meth:`add_select`).

    Input: an element found by a selector becomes its text (inline elements
    joined without a space, ``<br>`` as a line break, whitespace cleaned);
    strings pass as they are.  Output: single values take the first non-empty
    one (so a field's sources are added best first), lists drop empties and
    repeats, the body joins its paragraphs.  The loader context holds the
    page's ``base`` URL (for ``related_urls``) and ``problems``.
    """

    default_item_class = Article
    default_input_processor = Identity()
    default_output_processor = TakeFirst()

    title_in = _TEXT
    summary_in = _TEXT
    image_credit_in = _TEXT
    source_in = _TEXT
    tags_in = _TEXT
    tags_out = _UNIQUE
    related_urls_in = _absolute
    related_urls_out = _UNIQUE
    image_url_in = _absolute
    images_in = _IMAGES
    images_out = Identity()
    body_out = Compose(_paragraphs)

    # itemloaders looks a field's processors up through ItemAdapter on every value added; the
    # processors here are class attributes, so they are looked up once per class and field.
    @classmethod
    @cache
    def _processor(cls, name: str, default: Any) -> Any:
        return getattr(cls, name, None) or default

    def get_input_processor(self, field_name: str) -> Any:
        return self._processor(f"{field_name}_in", self.default_input_processor)

    def get_output_processor(self, field_name: str) -> Any:
        return self._processor(f"{field_name}_out", self.default_output_processor)

    def add_select(self, field_name: str, root: Any, selector: str, *processors: Any) -> None:
        """Add what a site selector (:func:`select`) finds in *root* (nothing when *root* is None)."""
        if root is not None:
            self.add_value(field_name, select(root, selector), *processors)


@cache
def _compiled(selector: str) -> etree.XPath:
    """A site selector (CSS, or XPath when it starts with ``/`` or ``./``) compiled once."""
    xpath = selector if selector.startswith(("/", "./")) else HTMLTranslator().css_to_xpath(selector)
    return etree.XPath(xpath, smart_strings=False)


def select(root: Any, selector: str) -> list[Any]:
    """Run a site selector on a parsed tree (``Selector.root``): elements or strings."""
    return _compiled(selector)(root)  # type: ignore[no-any-return]


@cache
def _parser(encoding: str) -> etree.HTMLParser:
    # huge_tree: without it libxml2 drops everything below 256 levels of nesting (with it, 2048).
    return etree.HTMLParser(recover=True, encoding=encoding, remove_comments=True, remove_pis=True,
                            huge_tree=True)


def parser_encoding(body: bytes, encoding: str) -> str:
    """The name libxml2 knows the encoding of a page's *body* by: its byte order mark's when it
    has one (a BOM wins over what the headers say, as in browsers), else *encoding* (Python's
    name: libxml2 spells ``utf-16-le`` ``utf-16le``).

    >>> parser_encoding(b"\\xff\\xfe<\\x00", "utf-8"), parser_encoding(b"<p>", "utf-16-be")
    ('utf-16le', 'utf-16be')
    >>> parser_encoding(b"<p>", "gb18030")
    'gb18030'
    """
    bom, _ = read_bom(body)
    return re.sub(r"^(utf-(?:16|32))-([lb]e)$", r"\1\2", bom or encoding)


def page_selector(response: TextResponse, problems: Problems | None = None) -> Selector:
    """The page's parsed tree, built once from its bytes in the response's (checked) encoding.

    Markup nested deeper than libxml2 can follow (2048 levels) loses what is
    below that depth: counted as ``too_deep`` in *problems*.  An encoding
    libxml2 does not know is decoded by Python (parsel's tree of the text).
    """
    try:
        parser = _parser(parser_encoding(response.body, response.encoding))
        root = etree.fromstring(response.body, parser=parser)
    except (LookupError, ValueError, etree.ParserError):
        root = None
    else:
        if problems is not None and any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log):
            problems.add("too_deep")
    if root is None:  # an encoding libxml2 does not know, or no markup at all
        root = response.selector.root if response.body.strip() else etree.fromstring("<html/>")
    return Selector(root=root, type="html", base_url=response.url)


def page_base(response: TextResponse, problems: Problems | None = None) -> str:
    """The URL the page's links are relative to: its ``<base href>``, else its own URL.

    A ``<base>`` that is not a usable URL is ignored (counted as ``bad_url``).
    """
    try:
        base = get_base_url(response)
    except ValueError:
        base = ""
    if absolute_url(response.url, base) is None:
        if problems is not None:
            problems.add("bad_url", "<base>")
        return response.url
    return base


def absolute_urls(base: str, hrefs: Iterable[str], problems: Problems | None) -> list[str]:
    """The usable links among *hrefs*, absolute and canonical; a bad one is counted (``bad_url``)."""
    return [url for _, url in absolute_links(base, hrefs, problems)]


def absolute_links(base: str, hrefs: Iterable[str], problems: Problems | None) -> Iterator[tuple[str, str]]:
    """(href, URL) for each usable link among *hrefs*, the URL absolute and canonical; a bad one is
    counted (``bad_url``).

    >>> list(absolute_links("http://a/x/", ["y/", "http://[::1/"], None))
    [('y/', 'http://a/x/y/')]
    """
    for href in hrefs:
        url = absolute_url(base, href)
        if url is None:
            if problems is not None and href.strip():
                problems.add("bad_url", href.strip())
            continue
        yield href, url


def paragraph_text(paragraph: Selector) -> str:
    """Text of one paragraph: inline links' text kept, ``<br>`` as a line break, no space invented.

    >>> from scrapy.http import HtmlResponse
    >>> page = HtmlResponse("http://x/", body="<p>多位<span><a>大陆</a></span>用户<br>第二行</p>".encode())
    >>> paragraph_text(page_selector(page).css("p")[0])
    '多位大陆用户\\n第二行'
    """
    with _readied(paragraph.root) as element:
        return _element_text(element)


def split_body(paragraphs: list[str]) -> tuple[dict[str, str | None], list[str], str | None]:
    """Separate the opening credit line and the closing editor line from the body.

    Returns (credit fields, body paragraphs, editor).

    >>> split_body(["作者：甲，来源：乙，文章内容并不代表本网立场和观点。", "正文一", "", "责任编辑：丙"])
    ({'author': '甲', 'source': '乙'}, ['正文一'], '丙')
    >>> split_body(["Original 纵览中国 ，文章内容不知真假。", "正文",
    ...             "站长动态，转发分享↓Follow Us 责任编辑：丁"])
    ({'author': None, 'source': '纵览中国'}, ['正文'], '丁')
    >>> split_body(["正文", "站长动态，转发分享↓Follow Us", "责任编辑：丁"])[1:]
    (['正文'], '丁')
    >>> split_body(["正文", "责任编辑：丁", "站长动态，转发分享↓Follow Us"])[1:]
    (['正文'], '丁')
    >>> split_body(["正文一", "正文二"])
    ({'author': None, 'source': None}, ['正文一', '正文二'], None)
    """
    body = [p for p in paragraphs if p]
    credit: dict[str, str | None] = {"author": None, "source": None}
    if body and (found := site.parse_credit_line(body[0])) is not None:
        credit = found
        body = body[1:]
    editor = None
    # the end: the editor line and the 2025 ending's share block (not body), in either order
    while body and (site.is_share_block(body[-1]) or (
            editor is None and (editor := site.parse_editor_line(body[-1])) is not None)):
        body = body[:-1]
    return credit, body, editor


def latest_publication() -> str:
    """The last day a page read now can have been published: tomorrow (UTC), as the site's own day may be
    ahead of UTC's.  A later date (a page's 9999-12-31) is a bad value."""
    return (datetime.now(timezone.utc).date() + timedelta(days=1)).isoformat()


def _published(head: Any, root: Any, url_date: str, problems: Problems | None = None,
               latest: str = "9999-12-31") -> tuple[str, str | None]:
    """(published_date, published_at): meta tag, else div.postmeat, else the URL's date.

    A date after *latest* is a bad value: left out (``future_date``, counted
    in *problems*) for the next.
    """
    def fitting(parsed: tuple[str, str | None] | None) -> tuple[str, str | None] | None:
        if parsed is None or not parsed[0]:
            return None
        if parsed[0] > latest:
            if problems is not None:
                problems.add("future_date", parsed[0])
            return None
        return parsed

    for raw in select(head, site.PUBLISHED_TIME):
        if found := fitting(parse_iso_datetime(raw)):
            return found
    for meta in select(root, site.POSTMETA):
        if found := fitting(parse_cn_datetime(_element_text(meta))):
            return found
    return fitting((url_date, None)) or ("", None)


def _is_body(paragraph: Any) -> bool:
    return (paragraph.get("id") not in site.NOT_BODY_IDS
            and not site.NOT_BODY_CLASSES.intersection((paragraph.get("class") or "").split()))


def load_article(response: TextResponse, selector: Selector | None = None,
                 crawled_at: str | None = None, problems: Problems | None = None) -> Article:
    """Extract one article page.  Fields the page lacks stay empty; validation judges them.

    The page's tree is as it was afterwards (see :func:`_readied`), so
    *selector* can be read for links before or after.  A value that cannot be read (a related link
    that is not a URL) is left out and counted in *problems*; the rest of the
    page is kept.
    """
    selector = selector if selector is not None else page_selector(response, problems)
    root = selector.root
    head = root.find("head")
    head = root if head is None else head
    entries = select(root, site.ENTRY)
    if not entries:
        return _load(response, None, None, root, head, crawled_at, problems)
    with _readied(entries[0]) as text:
        return _load(response, entries[0], text, root, head, crawled_at, problems)


def _load(response: TextResponse, entry: Any, text: Any, root: Any, head: Any, crawled_at: str | None,
          problems: Problems | None) -> Article:
    """:func:`load_article` with the page parsed: *entry* the article's element, *text* it readied
    for reading text (or its readied copy)."""
    url = site.article_url(response.url)
    article_id = category = None
    url_date = ""
    if parts := site.article_parts(url):
        article_id, category, url_date = parts
    published_date, published_at = _published(head, root, url_date, problems, latest_publication())
    paragraphs = select(text, site.ENTRY_PARAGRAPHS) if text is not None else []
    credit, body, editor = split_body([_element_text(p) for p in paragraphs if _is_body(p)])

    loader = ArticleLoader(base=page_base(response, problems), problems=problems)
    loader.add_value("url", url)
    loader.add_value("article_id", article_id)
    loader.add_value("category", category)
    loader.add_value("published_date", published_date or None)
    loader.add_value("published_at", published_at)
    # the <h2> before div.entry, else og:title, else <title>
    loader.add_select("title", entry, site.ARTICLE_TITLE)
    if not loader.get_output_value("title"):
        loader.add_select("title", head, site.OG_TITLE, _TITLE_OF_PAGE)
        loader.add_select("title", head, site.HTML_TITLE, _TITLE_OF_PAGE)
    # og:image, else the first image of the entry
    loader.add_select("image_url", head, site.OG_IMAGE)
    loader.add_select("images", text, site.BODY_IMAGES)
    loader.add_value("image_url", [image["url"] for image in loader.get_collected_values("images")[:1]])
    loader.add_select("summary", text, site.SUMMARY)
    loader.add_select("image_credit", text, site.IMAGE_CREDIT)
    loader.add_value("body", body)
    loader.add_value("author", credit["author"])
    loader.add_value("editor", editor)
    # the credit line's source, else the "来源：" line's
    loader.add_value("source", credit["source"])
    loader.add_select("source", text, site.SOURCE_LINE, _TEXT, _LABELLED)
    loader.add_select("tags", text, site.TAG_LINKS)
    loader.add_select("related_urls", text, site.RELATED_LINKS)
    loader.add_value("crawled_at", crawled_at or utc_now_iso())
    article: Article = loader.load_item()
    if article.title and article.body:
        article.content_hash = content_hash(article.title, article.body)
    return article


@dataclass
class ListingPage:
    """What a listing page (front page, category, tag) links to, in page order."""

    article_urls: list[str]
    next_url: str | None
    #: the listing's last page, when its pagination shows it
    last_page: int | None = None


def parse_listing(response: TextResponse, selector: Selector | None = None,
                  problems: Problems | None = None) -> ListingPage:
    """The article links of a listing page's items and its next page, absolute and canonical.

    A link that is not a URL is left out and counted in *problems*; the other
    items and the pagination are kept.
    """
    root = (selector if selector is not None else page_selector(response, problems)).root
    base = page_base(response, problems)
    items = absolute_urls(base, select(root, site.LISTING_ITEMS), problems)
    articles = [site.article_url(url) for url in items if site.classify(url) is site.Kind.ARTICLE]
    next_hrefs = [*select(root, site.NEXT_PAGE),
                  *(a.get("href") or "" for a in select(root, site.PAGINATION_LINKS)
                    if site.NEXT_PAGE_TEXT in clean_text(_element_text(a)))]
    next_url = next(iter(absolute_urls(base, next_hrefs, problems)), None)
    links = [(clean_text(_element_text(a)), a.get("href") or "") for a in select(root, site.PAGINATION_LINKS)]
    label = " ".join(clean_text(_element_text(e)) for e in select(root, site.PAGES_LABEL))
    return ListingPage(article_urls=_unique(articles), next_url=next_url,
                       last_page=site.last_page_number(links, label))


def is_html(response: TextResponse) -> bool:
    """Whether a response is a web page (Scrapy guesses HTML from a ``.html`` URL even for an image)."""
    content_type = (response.headers.get("Content-Type") or b"").lower()
    return isinstance(response, TextResponse) and (not content_type or b"html" in content_type
                                                   or b"xml" in content_type)
