"""Item pipelines: validate -> deduplicate -> store, each through ItemAdapter.

Stats are namespaced under ``newsspider/``: ``newsspider/dropped/<reason>``,
``newsspider/duplicates``, ``newsspider/unchanged``, ``newsspider/updated``, ``newsspider/stored``.
"""

from __future__ import annotations

import logging
from typing import Any

import fastjsonschema
from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from newsspider.core import stats as keys
from newsspider.core.failures import stop_crawl
from newsspider.core.seen import SeenKeys, id_key
from newsspider.core.signals import crawl_stopping
from newsspider.dataset.storage import JsonLinesWriter, SpaceReserve, StorageError
from newsspider.extract.items import REQUIRED_FIELDS, as_record, schema
from newsspider.memory import Memory
from newsspider.memory.extension import memory_of

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
        self.stats.inc_value(keys.DROPPED)
        self.stats.inc_value(keys.dropped(reason))
        return DropItem(message)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        url = adapter.get("url")
        missing = [name for name in REQUIRED_FIELDS if not adapter.get(name)]
        if missing:
            raise self._drop(f"missing_{missing[0]}", f"missing {', '.join(missing)}: {url}")
        try:
            self._validate(as_record(item))
        except fastjsonschema.JsonSchemaException as exc:
            raise self._drop("invalid", f"does not fit the schema ({exc}): {url}") from exc
        return item


class DedupePipeline:
    """Store each article once, within a crawl and against the crawl's memory.

    With ``NEWSSPIDER_REFRESH``, an article fetched again is stored again only
    when its content hash changed, with the next ``version``.
    """

    def __init__(self, crawler: Crawler, memory: Memory, refresh: bool = False) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.memory = memory
        self.refresh = refresh
        self.seen = SeenKeys()  # the ids this crawl stored, as 64-bit keys (frontier.seen)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        return cls(crawler, memory_of(crawler), crawler.settings.getbool("NEWSSPIDER_REFRESH"))

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        article_id = adapter["article_id"]
        if id_key(article_id) in self.seen:
            self.stats.inc_value(keys.DUPLICATES)
            raise DropItem(f"article {article_id} was already stored by this crawl")
        try:
            return self._dedupe(adapter, article_id)
        except StorageError as exc:  # the memory cannot answer (Redis gone): stop, store nothing unsure
            stop_crawl(self.crawler, exc.reason, str(exc))
            raise DropItem(f"not stored ({exc}): {adapter.get('url')}", log_level="INFO") from exc

    def _dedupe(self, adapter: ItemAdapter, article_id: str) -> Any:
        stored = self.memory.get(article_id)
        if stored is not None:
            if not self.refresh:
                self.stats.inc_value(keys.DUPLICATES)
                raise DropItem(f"article {article_id} is already stored")
            if stored.content_hash == adapter["content_hash"]:
                try:
                    self.memory.touch(article_id, adapter["crawled_at"])
                except StorageError as exc:
                    stop_crawl(self.crawler, exc.reason, str(exc))
                self.stats.inc_value(keys.UNCHANGED)  # not dropped: counted in the summary, logged at DEBUG
                raise DropItem(f"article {article_id} is unchanged", log_level="DEBUG")
            adapter["version"] = stored.version + 1
            self.stats.inc_value(keys.UPDATED)
        elif not self.memory.claim(article_id):
            self.stats.inc_value(keys.DUPLICATES)
            raise DropItem(f"article {article_id} is being stored by another worker")
        self.seen.add(id_key(article_id))
        return adapter.item


class JsonLinesStorePipeline:
    """Append each article as one whole UTF-8 line to ``<data dir>/articles.jsonl`` (or the worker's shard).

    The memory marks the article stored only after its line is written.  A
    write that fails (a full disk, an I/O error; to the dataset or the memory)
    stops the crawl: the line is undone, nothing more is stored, and the
    crawl closes with ``storage_error`` and a one-line message.
    """

    def __init__(self, crawler: Crawler, memory: Memory) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.memory = memory
        self.writer: JsonLinesWriter | None = None
        self.reserve: SpaceReserve | None = None
        self.failed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JsonLinesStorePipeline:
        pipeline = cls(crawler, memory_of(crawler))
        crawler.signals.connect(pipeline.crawl_stopping, signal=crawl_stopping)
        return pipeline

    def crawl_stopping(self) -> None:
        """A write failed (here, in the archive or the memory): the dataset takes nothing more."""
        self.failed = True

    def open_spider(self) -> None:
        self.reserve = SpaceReserve(self.memory.data_dir)
        name = self.memory.shard_name
        self.writer = JsonLinesWriter(self.memory.data_dir, name)
        if self.writer.path.name != name:  # the shard was damaged: later crawls continue the new one
            self.memory.set_shard(self.writer.path.name)
        self.stats.set_value(keys.DATASET, str(self.writer.path))

    def close_spider(self) -> None:
        if self.writer is not None:
            self.writer.close()
        try:
            self.memory.commit()
        except StorageError as exc:
            logger.error("%s (the next crawl adds what is missing from the dataset)", exc)
        if self.reserve is not None:
            self.reserve.release()

    def process_item(self, item: Any) -> Any:
        assert self.writer is not None, "open_spider() was not called"
        if self.failed:  # this write or another failed (crawl_stopping): the disk is kept for the
            self.stats.inc_value(keys.NOT_STORED)  # memory and the run's end
            raise DropItem(f"not stored, the crawl is stopping: {ItemAdapter(item).get('url')}",
                           log_level="INFO")
        record = as_record(item)
        try:
            self.writer.write(record)
            self.memory.record_stored(record, self.writer.path.name, self.writer.size)
        except StorageError as exc:
            self.failed = True
            if self.reserve is not None:
                self.reserve.release()  # room to commit the memory and record the run's end
            self.stats.inc_value(keys.NOT_STORED)
            stop_crawl(self.crawler, exc.reason, str(exc))
            raise DropItem(f"not stored ({exc}): {record.get('url')}") from exc
        self.stats.inc_value(keys.STORED)
        return item
