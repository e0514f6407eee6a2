"""Extraction: site selectors + pure processors -> :class:`~newsspider.items.Article`.

:func:`load_article` reads an article page, :func:`parse_listing` a listing page
(front page, category or tag).  Both take a Scrapy response (or any
``parsel.Selector`` plus its URL) and never fetch anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from itemloaders.processors import Compose, Identity, MapCompose, TakeFirst
from parsel import Selector
from scrapy.http import TextResponse
from scrapy.loader import ItemLoader

from newsspider import site
from newsspider.items import Article
from newsspider.processors import (
    canonical_url,
    clean_text,
    content_hash,
    join_text,
    parse_cn_datetime,
    parse_credit_line,
    parse_editor_line,
    parse_iso_datetime,
    strip_label,
    strip_site_suffix,
    utc_now_iso,
)

_BR = "\n"


def _unique(values: Iterable[str]) -> list[str]:
    """Drop empty values and repeats, keeping the first occurrence's order.

    >>> _unique(["中国", "", "美国", "中国"])
    ['中国', '美国']
    """
    return list(dict.fromkeys(v for v in values if v))


class ArticleLoader(ItemLoader):
    """Item loader for :class:`Article`: single values take the first non-empty one."""

    default_item_class = Article
    default_input_processor = MapCompose(clean_text)
    default_output_processor = TakeFirst()

    tags_in = MapCompose(clean_text)
    tags_out = Compose(_unique)
    related_urls_in = Identity()
    related_urls_out = Compose(_unique)
    body_in = Identity()
    body_out = Compose(lambda paragraphs: "\n\n".join(paragraphs) or None)
    source_in = MapCompose(strip_label)
    version_in = Identity()
    schema_version_in = Identity()


def paragraph_text(paragraph: Selector) -> str:
    """Text of one paragraph: inline links' text kept, ``<br>`` as a line break, no space invented."""
    fragments = paragraph.xpath(".//text()[not(ancestor::script or ancestor::style)] | .//br")
    return join_text([f.root if isinstance(f.root, str) else _BR for f in fragments],
                     line_break=_BR)


def split_body(paragraphs: list[str]) -> tuple[dict[str, str | None], list[str], str | None]:
    """Separate the opening credit line and the closing editor line from the body.

    Returns (credit fields, body paragraphs, editor).

    >>> split_body(["作者：甲，来源：乙，文章内容并不代表本网立场和观点。", "正文一", "", "责任编辑：丙"])
    ({'author': '甲', 'source': '乙'}, ['正文一'], '丙')
    >>> split_body(["正文一", "正文二"])
    ({'author': None, 'source': None}, ['正文一', '正文二'], None)
    """
    body = [p for p in paragraphs if p]
    credit: dict[str, str | None] = {"author": None, "source": None}
    if body and (found := parse_credit_line(body[0])) is not None:
        credit = found
        body = body[1:]
    editor = None
    if body and (name := parse_editor_line(body[-1])) is not None:
        editor = name
        body = body[:-1]
    return credit, body, editor


def _published(response: TextResponse, url_date: str) -> tuple[str, str | None]:
    """(published_date, published_at): meta tag, else div.postmeat, else the URL's date."""
    for raw in response.css(site.PUBLISHED_TIME).getall():
        if parsed := parse_iso_datetime(raw):
            return parsed
    for meta in response.css(site.POSTMETA):
        if parsed := parse_cn_datetime(join_text(meta.css("::text").getall())):
            return parsed
    return url_date, None


def load_article(response: TextResponse, crawled_at: str | None = None) -> Article:
    """Extract one article page.  Fields the page lacks stay empty; validation judges them."""
    loader = ArticleLoader(response=response)
    url = site.article_url(response.url)
    loader.add_value("url", url)
    if parts := site.article_parts(url):
        article_id, category, url_date = parts
        loader.add_value("article_id", article_id)
        loader.add_value("category", category)
    else:
        url_date = ""
    published_date, published_at = _published(response, url_date)
    loader.add_value("published_date", published_date or None)
    loader.add_value("published_at", published_at)

    loader.add_value("title", join_text(response.xpath(site.ARTICLE_TITLE_XPATH).getall()))
    loader.add_css("title", site.OG_TITLE, MapCompose(lambda t: strip_site_suffix(t, site.TITLE_SUFFIXES)))
    loader.add_css("title", site.HTML_TITLE, MapCompose(lambda t: strip_site_suffix(t, site.TITLE_SUFFIXES)))

    for field, css in (("summary", site.SUMMARY), ("image_credit", site.IMAGE_CREDIT)):
        loader.add_value(field, [paragraph_text(p) for p in response.css(css)])

    paragraphs = [
        paragraph_text(p)
        for p in response.css(site.ENTRY_PARAGRAPHS)
        if p.attrib.get("id") not in site.NOT_BODY_IDS
        and not site.NOT_BODY_CLASSES.intersection(p.attrib.get("class", "").split())
    ]
    credit, body, editor = split_body(paragraphs)
    loader.add_value("body", body)
    loader.add_value("author", credit["author"])
    loader.add_value("source", credit["source"])
    loader.add_value("source", [paragraph_text(p) for p in response.css(site.SOURCE_LINE)])
    loader.add_value("editor", editor)

    loader.add_value("tags", [join_text(a.css("::text").getall()) for a in response.css(site.TAG_LINKS)])
    loader.add_value(
        "related_urls",
        [canonical_url(response.urljoin(href)) for href in response.css(site.RELATED_LINKS).getall()],
    )
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


def parse_listing(response: TextResponse) -> ListingPage:
    """The article links of a listing page's items and its next page, absolute and canonical."""
    articles = _unique(
        site.article_url(response.urljoin(href))
        for href in response.css(site.LISTING_ITEMS).getall()
        if site.classify(response.urljoin(href)) is site.Kind.ARTICLE
    )
    next_href = response.css(site.NEXT_PAGE).get() or next(
        (a.attrib.get("href") for a in response.css(site.PAGINATION_LINKS)
         if site.NEXT_PAGE_TEXT in clean_text("".join(a.css("::text").getall()))),
        None,
    )
    next_url = canonical_url(response.urljoin(next_href)) if next_href else None
    return ListingPage(article_urls=articles, next_url=next_url)


__all__ = ["ArticleLoader", "ListingPage", "load_article", "paragraph_text", "parse_listing",
           "split_body"]
