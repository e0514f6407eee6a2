"""One contract for the crawl's memory: the same tests against the SQLite memory (one machine) and
the Redis memory (a distributed crawl; a real redis-server), each opened the way a crawl opens it
(:func:`newsspider.memory.extension.open_memory`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings

from newsspider.dataset.reader import load, record_example
from newsspider.dataset.storage import DataDirLock
from newsspider.memory import UNKNOWN_RUN, Memory, Run, Validators
from newsspider.memory.extension import open_memory
from tests.test_distributed import RedisServer

_prefixes = count()
Opener = Callable[..., Memory]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), "--save", "", "--appendonly", "no").start()
    yield server.url()
    server.stop()


@pytest.fixture(params=["sqlite", "redis"])
def open_(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Open the memory of ``tmp_path`` (this run started), as a crawl does; closed at the end."""
    settings: dict[str, Any] = {"NEWSSPIDER_DATA_DIR": str(tmp_path / "data"), "NEWSSPIDER_REDIS_LEASE": 30,
                                "NEWSSPIDER_REDIS_RECONNECT": 1, "NEWSSPIDER_REDIS_PREFIX": "newsspider"}
    if request.param == "redis":
        settings |= {"NEWSSPIDER_REDIS_URL": request.getfixturevalue("redis_url"),
                     "NEWSSPIDER_REDIS_PREFIX": f"contract{next(_prefixes)}", "NEWSSPIDER_WORKER_ID": "w1"}
    opened: list[Memory] = []

    def opener(**extra: Any) -> Memory:
        memory, lock = open_memory(Settings({**settings, **extra}))
        opened.append(memory)
        _LOCKS[id(memory)] = lock
        return memory

    yield opener
    for memory in opened:
        close(memory)


#: the data dir's lock each open SQLite memory holds (the Redis memory holds none)
_LOCKS: dict[int, DataDirLock | None] = {}


def close(memory: Memory) -> None:
    """Close the memory and release its data dir, as the crawl does (twice is harmless)."""
    if id(memory) not in _LOCKS:
        return
    memory.close()
    if (lock := _LOCKS.pop(id(memory))) is not None:
        lock.release()


def finish(memory: Memory, reason: str = "finished", **counts: int) -> None:
    status = "finished" if reason == "finished" else "stopped"
    quality = {"stored": counts.get("new_articles", 0)}
    memory.finish_run(status, reason, failures={"http_404": 2}, quality=quality, pages=counts.pop("pages", 5),
                      **counts)
    close(memory)


def store(memory: Memory, article_id: str, **fields: Any) -> dict[str, Any]:
    """Write the record's line to the memory's shard, then tell the memory (as the store pipeline does)."""
    record = record_example(article_id=article_id, url=f"https://x.test/bnews/a/20240101/{article_id}.html",
                            **fields)
    shard = memory.data_dir / memory.shard_name
    with shard.open("ab") as out:
        out.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
    memory.record_stored(record, memory.shard_name, shard.stat().st_size)
    memory.commit()
    return record


def last_run(memory: Memory) -> Run:
    return memory.runs()[-1]


def test_a_new_memory_knows_nothing_and_starts_run_1(open_: Opener) -> None:
    memory = open_()
    assert (memory.run_id, memory.last_complete_run, memory.count()) == (1, 0, 0)
    assert memory.get("1") is None and not memory.is_stored("1") and memory.stored_run("1") is None
    assert memory.claim("1") and memory.should_seed()
    assert [(r.run_id, r.status) for r in memory.runs()] == [(1, "running")]


A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def test_stored_then_a_new_version(open_: Opener) -> None:
    memory = open_()
    store(memory, "7", content_hash=A)
    stored = memory.get("7")
    assert stored is not None and (stored.version, stored.content_hash, stored.first_run) == (1, A, 1)
    assert memory.is_stored(7) and memory.stored_run("7") == 1 and memory.count() == 1
    assert not memory.claim("7"), "a stored article was claimed again"
    store(memory, "7", content_hash=B, version=2)
    stored = memory.get("7")
    assert stored is not None and (stored.version, stored.content_hash, stored.first_run) == (2, B, 1)
    assert memory.count() == 1


def test_touch_changes_neither_version_nor_hash(open_: Opener) -> None:
    memory = open_()
    store(memory, "3")
    before = memory.get("3")
    memory.touch("3", "2030-01-01T00:00:00Z")
    memory.commit()
    assert memory.get("3") == before


def test_validators_are_kept_for_stored_articles_only(open_: Opener) -> None:
    memory = open_()
    assert memory.validators("5") is None
    kept = Validators('W/"5-a"', "Mon, 01 Jan 2024 09:00:00 GMT", "<urn:uuid:5>", "2024-01-01T10:00:00Z",
                      "https://x.test/bnews/a/20240101/5.html", "sha1:AAAA")
    memory.set_validators("5", kept)  # not stored: nothing to keep them for
    assert memory.validators("5") is None
    store(memory, "5", content_hash=A)
    memory.set_validators("5", kept)
    memory.commit()
    assert memory.validators(5) == kept
    memory.touch("5", "2030-01-01T00:00:00Z")  # a 304: what was kept stays
    store(memory, "5", content_hash=B, version=2)  # a new version: its own validators replace them
    memory.set_validators("5", Validators(last_modified="Tue, 02 Jan 2024 09:00:00 GMT"))
    memory.commit()
    assert memory.validators("5") == Validators(last_modified="Tue, 02 Jan 2024 09:00:00 GMT")
    close(memory)
    assert open_().validators("5") == Validators(last_modified="Tue, 02 Jan 2024 09:00:00 GMT")


def test_the_site_feeds_are_remembered_from_run_to_run(open_: Opener) -> None:
    memory = open_()
    assert memory.feeds() == []
    memory.set_feeds(["https://x.test/bnews/feed/", "https://x.test/feed/atom/"])
    finish(memory)
    again = open_()
    assert again.feeds() == ["https://x.test/bnews/feed/", "https://x.test/feed/atom/"]
    again.set_feeds([])
    assert again.feeds() == []


def test_last_seen_and_stored_urls(open_: Opener) -> None:
    """When each article was last captured (stored, then fetched again unchanged), for a refresh by a
    sitemap's lastmod; and every stored article, read a page at a time."""
    memory = open_()
    assert memory.last_seen("5") is None
    store(memory, "5", crawled_at="2024-01-01T00:00:00Z")
    store(memory, "6", crawled_at="2024-01-02T00:00:00Z")
    assert memory.last_seen("5") == "2024-01-01T00:00:00Z"
    memory.touch("5", "2030-01-01T00:00:00Z")
    memory.commit()
    assert (memory.last_seen(5), memory.last_seen("6"), memory.last_seen("7")) == (
        "2030-01-01T00:00:00Z", "2024-01-02T00:00:00Z", None)
    stored = dict(memory.stored_urls())
    assert sorted(stored) == ["5", "6"]
    assert set(stored.values()) <= {"", "https://x.test/bnews/a/20240101/5.html",
                                    "https://x.test/bnews/a/20240101/6.html"}


def test_the_run_record_counts_new_and_updated_articles(open_: Opener) -> None:
    memory = open_()
    store(memory, "1")
    store(memory, "2")
    finish(memory, new_articles=2, updated_articles=0, dropped=1, errors=0)
    memory = open_(NEWSSPIDER_REFRESH=True)
    assert memory.run_id == 2 and memory.last_complete_run == 1
    store(memory, "1", content_hash="sha256:" + "c" * 64, version=2)  # --refresh: a changed article
    store(memory, "3")
    finish(memory, new_articles=1, updated_articles=1, dropped=0, errors=0)
    first, second = open_().runs()[:2]
    assert (first.status, first.finish_reason, first.new_articles, first.updated_articles, first.dropped,
            first.pages, first.failed) == ("finished", "finished", 2, 0, 1, 5, 2)
    assert (second.new_articles, second.updated_articles) == (1, 1)
    assert json.loads(first.failures or "{}") == {"http_404": 2}


def test_a_stopped_or_windowed_run_is_not_a_walk_of_the_whole_site(open_: Opener) -> None:
    finish(open_())  # run 1: complete
    finish(open_(), reason="shutdown")  # run 2: stopped
    finish(open_(NEWSSPIDER_SINCE="2024-01-01"))  # run 3: a window
    memory = open_()
    assert memory.run_id == 4 and memory.last_complete_run == 1
    assert json.loads(memory.runs()[2].window or "{}")["since"] == "2024-01-01"
    assert memory.runs()[1].status == "stopped"


def test_what_the_dataset_holds_beyond_the_memory_is_added_as_of_an_unknown_run(open_: Opener) -> None:
    memory = open_()
    shard = memory.data_dir / memory.shard_name
    finish(memory)
    lines = [json.dumps(record_example(article_id=str(i))) + "\n" for i in (11, 12)]
    with shard.open("a", encoding="utf-8") as out:  # lines written by a crawl the memory never heard of
        out.writelines(lines)
    memory = open_()
    assert memory.count() == 2 and memory.is_stored("11")
    assert memory.stored_run("12") == UNKNOWN_RUN, "an article of an unknown run counted as old news"
    finish(memory)  # a run that walked the whole site met them: old news now
    assert open_().stored_run("12") == 2


def test_a_run_that_never_ended_is_not_running_for_ever(open_: Opener) -> None:
    memory = open_()
    store(memory, "5")
    close(memory)  # killed: no finish_run
    memory = open_()
    assert memory.run_id == 2
    killed = memory.runs()[0]
    assert killed.status != "running" and killed.new_articles == 1


@pytest.mark.parametrize("last", [json.dumps(record_example(article_id="22")),  # whole, its newline lost
                                  '{"article_id": "22", "ur'],  # cut short
                         ids=["newline-lost", "cut-short"])
def test_the_memory_holds_what_the_dataset_reader_reads(open_: Opener, last: str) -> None:
    memory = open_()
    shard = memory.data_dir / memory.shard_name
    finish(memory)
    lines = [json.dumps(record_example(article_id="21")), "", "not a record", last]
    shard.write_text("\n".join(lines), encoding="utf-8")  # no newline after the last line
    read = {r["article_id"] for r in load(memory.data_dir, errors="skip")}
    memory = open_()
    assert {i for i in ("21", "22") if memory.is_stored(i)} == read
    assert memory.count() == len(read)
