"""Item pipelines: validate -> deduplicate -> store, each through ItemAdapter.

Stats are namespaced under ``newsspider/``: ``newsspider/dropped/<reason>``,
``newsspider/duplicates``, ``newsspider/stored``.
"""

from __future__ import annotations

import logging
from typing import Any

import fastjsonschema
from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from newsspider.dataset import iter_records
from newsspider.items import REQUIRED_FIELDS, schema
from newsspider.storage import JsonLinesWriter

logger = logging.getLogger(__name__)


class ValidatePipeline:
    """Drop records without their required fields or that break the published schema."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats
        self._validate = fastjsonschema.compile(schema())

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        return cls(crawler.stats)

    def _drop(self, reason: str, message: str) -> DropItem:
        self.stats.inc_value("newsspider/dropped")
        self.stats.inc_value(f"newsspider/dropped/{reason}")
        return DropItem(message)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        url = adapter.get("url")
        missing = [name for name in REQUIRED_FIELDS if not adapter.get(name)]
        if missing:
            raise self._drop(f"missing_{missing[0]}", f"missing {', '.join(missing)}: {url}")
        try:
            self._validate(adapter.asdict())
        except fastjsonschema.JsonSchemaException as exc:
            raise self._drop("invalid", f"does not fit the schema ({exc.message}): {url}") from exc
        return item


class DedupePipeline:
    """Store each article id once: within a crawl, and against what the data dir already holds."""

    def __init__(self, stats: StatsCollector, data_dir: str) -> None:
        self.stats = stats
        self.data_dir = data_dir
        self.seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        return cls(crawler.stats, crawler.settings.get("NEWSSPIDER_DATA_DIR"))

    def open_spider(self) -> None:
        try:
            self.seen = {str(r.get("article_id")) for r in iter_records(self.data_dir, "skip")}
        except ValueError:  # no dataset yet
            self.seen = set()
        if self.seen:
            logger.info("%d articles already stored in %s", len(self.seen), self.data_dir)

    def process_item(self, item: Any) -> Any:
        article_id = ItemAdapter(item)["article_id"]
        if article_id in self.seen:
            self.stats.inc_value("newsspider/duplicates")
            raise DropItem(f"article {article_id} is already stored")
        self.seen.add(article_id)
        return item


class JsonLinesStorePipeline:
    """Append each article as one whole UTF-8 line to ``<data dir>/articles.jsonl``."""

    def __init__(self, stats: StatsCollector, data_dir: str) -> None:
        self.stats = stats
        self.data_dir = data_dir
        self.writer: JsonLinesWriter | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JsonLinesStorePipeline:
        return cls(crawler.stats, crawler.settings.get("NEWSSPIDER_DATA_DIR"))

    def open_spider(self) -> None:
        self.writer = JsonLinesWriter(self.data_dir)
        self.stats.set_value("newsspider/dataset", str(self.writer.path))

    def close_spider(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def process_item(self, item: Any) -> Any:
        assert self.writer is not None, "open_spider() was not called"
        self.writer.write(ItemAdapter(item).asdict())
        self.stats.inc_value("newsspider/stored")
        return item
