"""The record newsspider stores: one :class:`Article` per article, one JSON line each.

The same fields, with their types, are published as a JSON Schema in
``newsspider/schema/article.schema.json``; :data:`SCHEMA_VERSION` is written
into every record so that readers can tell which schema wrote it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_VERSION = 2

#: What a schema version 1 record lacks, with the values a reader gives it.
ADDED_IN_2: dict[str, Any] = {"image_url": None, "images": [], "warc": None}

# Fields a record cannot be stored without.
REQUIRED_FIELDS = ("article_id", "url", "title", "body", "published_date")


@dataclass
class Article:
    """One article of the site.  Every field is described in the README and the schema."""

    #: the numeric id from the article URL, as a string ("2054421")
    article_id: str | None = None
    #: canonical URL: simplified-script page, no tracking parameters or fragment
    url: str | None = None
    #: path between /bnews/ and the date in the URL ("itnews", "renquan/minyun")
    category: str | None = None
    #: YYYY-MM-DD: article:published_time, else div.postmeat, else the URL's date
    published_date: str | None = None
    #: full ISO 8601 timestamp when the page gives a time, else None
    published_at: str | None = None
    #: the article's <h2> (else og:title / <title> without the site suffix)
    title: str | None = None
    #: text of p#summary, else None
    summary: str | None = None
    #: article text: paragraphs in order separated by a blank line
    body: str | None = None
    #: from the opening credit line "作者：X，来源：Y，…", else None
    author: str | None = None
    #: from the credit line, else p.src-info "来源：Y", else None
    source: str | None = None
    #: from a closing "责任编辑：X" line, else None
    editor: str | None = None
    #: text of p#conimg, else None
    image_credit: str | None = None
    #: the lead image, absolute: og:image, else the body's first image, else None
    image_url: str | None = None
    #: every image of the body: {"url", "alt", "caption"}
    images: list[dict[str, str | None]] = field(default_factory=list)
    #: tag names inside the article, in order, without repeats
    tags: list[str] = field(default_factory=list)
    #: links of the related-articles list, absolute, tracking parameters removed
    related_urls: list[str] = field(default_factory=list)
    #: when the page was fetched, ISO 8601 UTC
    crawled_at: str | None = None
    #: "sha256:<hex>" of title and body; changes when the text changes
    content_hash: str | None = None
    #: where the page is archived: {"file", "offset", "length", "record_id"} (None: archive off)
    warc: dict[str, Any] | None = None
    #: 1 for the first stored copy of an article; higher for later changed copies
    version: int = 1
    #: version of the record's schema (newsspider.extract.items.SCHEMA_VERSION)
    schema_version: int = SCHEMA_VERSION


FIELDS: tuple[str, ...] = tuple(Article.__dataclass_fields__)



@cache
def schema() -> dict[str, Any]:
    """The published JSON Schema of a record (shipped in the package)."""
    text = resources.files("newsspider").joinpath("schema/article.schema.json").read_text("utf-8")
    return json.loads(text)


def as_record(item: Any) -> dict[str, Any]:
    """An item as the dict that is validated and stored.

    An :class:`Article`'s values are JSON values already, so its record is a
    shallow copy (``ItemAdapter.asdict`` walks every nested value: 0.3 ms an
    article); any other item goes through ItemAdapter.

    >>> as_record(Article(article_id="1", tags=["a"]))["tags"]
    ['a']
    >>> as_record({"article_id": "1"})
    {'article_id': '1'}
    """
    if isinstance(item, Article):
        return {name: getattr(item, name) for name in FIELDS}
    from itemadapter import ItemAdapter  # here: it imports Scrapy, which reading the dataset needs not

    return ItemAdapter(item).asdict()
