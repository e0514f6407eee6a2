"""validate -> dedupe -> store, each built through from_crawler as Scrapy builds it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from newsspider.crawl.addon import NewsspiderAddon
from newsspider.crawl.pipelines import DedupePipeline, JsonLinesStorePipeline, ValidatePipeline
from newsspider.dataset.reader import record_example
from newsspider.extract.items import Article

GOOD = Article(article_id="7", url="http://127.0.0.1/bnews/cnnews/20240101/7.html", category="cnnews",
               published_date="2024-01-01", title="标题", body="正文", crawled_at="2024-01-02T00:00:00Z",
               content_hash="sha256:" + "0" * 64)


def crawler(tmp_path: Path, **settings: object):
    """A crawler with newsspider's add-on (its CrawlMemory opens the data dir's memory)."""
    return get_crawler(settings_dict={"ADDONS": {NewsspiderAddon: 0}, "NEWSSPIDER_DATA_DIR": str(tmp_path),
                                      **settings})


def test_validate_passes_a_complete_record(tmp_path: Path) -> None:
    assert ValidatePipeline.from_crawler(crawler(tmp_path)).process_item(GOOD) is GOOD


@pytest.mark.parametrize(("change", "stat"), [
    ({"title": None}, "newsspider/dropped/missing_title"),
    ({"body": ""}, "newsspider/dropped/missing_body"),
    ({"published_date": None}, "newsspider/dropped/missing_published_date"),
    ({"published_date": "2024-1-1"}, "newsspider/dropped/invalid"),
    ({"tags": ["a", "a"]}, "newsspider/dropped/invalid"),
])
def test_validate_drops_with_reason_and_stat(tmp_path: Path, change: dict, stat: str) -> None:
    c = crawler(tmp_path)
    pipeline = ValidatePipeline.from_crawler(c)
    with pytest.raises(DropItem, match=GOOD.url):
        pipeline.process_item(replace(GOOD, **change))
    assert c.stats.get_value(stat) == 1
    assert c.stats.get_value("newsspider/dropped") == 1


def test_dedupe_within_a_crawl_and_against_the_dataset(tmp_path: Path) -> None:
    (tmp_path / "articles.jsonl").write_text(json.dumps(record_example(article_id="1")) + "\n")
    c = crawler(tmp_path)
    pipeline = DedupePipeline.from_crawler(c)
    assert pipeline.process_item(GOOD) is GOOD
    for item in (GOOD, replace(GOOD, article_id="1")):
        with pytest.raises(DropItem):
            pipeline.process_item(item)
    assert c.stats.get_value("newsspider/duplicates") == 2


def test_store_appends_whole_utf8_lines(tmp_path: Path) -> None:
    (tmp_path / "articles.jsonl").write_text('{"article_id":"1"}\n')
    c = crawler(tmp_path)
    pipeline = JsonLinesStorePipeline.from_crawler(c)
    pipeline.open_spider()
    pipeline.process_item(GOOD)
    pipeline.process_item(replace(GOOD, article_id="8"))
    pipeline.close_spider()
    raw = (tmp_path / "articles.jsonl").read_bytes()
    assert raw.startswith(b'{"article_id":"1"}\n')  # what was there stays
    lines = raw.decode().splitlines()
    assert [json.loads(line)["article_id"] for line in lines] == ["1", "7", "8"]
    assert "标题" in lines[1] and "\\u" not in lines[1]
    assert c.stats.get_value("newsspider/stored") == 2
    # The state knows both, and how much of the file it has accounted for.
    assert pipeline.memory.is_stored("7") and pipeline.memory.is_stored("8")
    assert dict(pipeline.memory.conn.execute("SELECT name, size FROM shards")) == {
        "articles.jsonl": len(raw)}


def test_refresh_stores_a_changed_article_with_the_next_version(tmp_path: Path) -> None:
    (tmp_path / "articles.jsonl").write_text(json.dumps(record_example(
        article_id="7", url=GOOD.url, content_hash=GOOD.content_hash, crawled_at="2024-01-01T00:00:00Z"))
        + "\n")
    c = crawler(tmp_path, NEWSSPIDER_REFRESH=True)
    pipeline = DedupePipeline.from_crawler(c)
    with pytest.raises(DropItem, match="unchanged"):
        pipeline.process_item(replace(GOOD))
    changed = pipeline.process_item(replace(GOOD, content_hash="sha256:" + "1" * 64))
    assert changed.version == 2
    assert c.stats.get_value("newsspider/unchanged") == 1
    assert c.stats.get_value("newsspider/updated") == 1
