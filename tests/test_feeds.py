"""Feeds: a recurring crawl learns what is new from the site's feed, and loses nothing when the feed
cannot be trusted (newsspider.spiders.feeds; the mock site serves WordPress's: tests/mockserver.py)."""

from __future__ import annotations

from pathlib import Path

from newsspider.demo.pages import FEED_SIZE, SITEMAP_SIZE
from newsspider.extract import site
from newsspider.memory.sqlite import SqliteMemory
from tests.conftest import crawl, read_jsonl
from tests.mockserver import MockServer
from tests.test_sitemaps import article_paths, listing_paths, sources

FEED = "/bnews/feed/"


def stored(data_dir: Path) -> list[str]:
    return [r["article_id"] for r in read_jsonl(data_dir / "articles.jsonl")]


def remembered_feeds(data_dir: Path) -> list[str]:
    memory = SqliteMemory(data_dir)
    try:
        return memory.feeds()
    finally:
        memory.close()


def test_a_recurring_crawl_learns_what_is_new_from_the_feed_and_walks_no_listing(
        mockserver: MockServer, tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    # The front page names the feed of all posts (not the comments'): remembered for the next run.
    assert remembered_feeds(tmp_path) == [mockserver.url(FEED)]
    assert FEED not in [r["path"] for r in mockserver.requests()]  # a first crawl walks the site anyway

    new = mockserver.add_articles(FEED_SIZE + 2)  # the feed's first page lists only new ones: paged on
    before = len(mockserver.requests())
    result = crawl(mockserver, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Crawl finished:") and ", 12 stored, " in result.stdout.splitlines()[0]
    asked = mockserver.requests()[before:]
    assert sorted(stored(tmp_path)[-len(new):]) == sorted(map(str, new))
    # robots.txt, the feed's two pages, the start page that checks them, the new articles: nothing else.
    assert sorted(r["path"] for r in asked if not site.ARTICLE_PATH.match(r["path"])) == [
        "/bnews/", FEED, FEED + "?paged=2", "/robots.txt"]
    assert len(article_paths(asked)) == len(new)
    assert sources(tmp_path) == {"feeds": len(new), "feed_files": 2, "feed_urls": 2 * FEED_SIZE}

    before = len(mockserver.requests())  # nothing new: three requests
    result = crawl(mockserver, tmp_path)
    assert result.returncode == 0 and ", 0 stored, " in result.stdout.splitlines()[0], result.stdout
    assert len(mockserver.requests()) - before == 3

    before = len(mockserver.requests())  # --no-feeds: the listings and the sitemaps, as before feeds
    assert crawl(mockserver, tmp_path, "--no-feeds").returncode == 0
    asked = [r["path"] for r in mockserver.requests()[before:]]
    assert FEED not in asked and "/sitemap_index.xml" in asked


def test_a_feed_that_does_not_reach_back_seeds_the_crawl_and_the_listings_find_the_rest(
        mockserver: MockServer, tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path, "--no-sitemaps").returncode == 0
    new = mockserver.add_articles(FEED_SIZE + 2)  # more than a page of the feed lists: read one
    before = len(mockserver.requests())
    result = crawl(mockserver, tmp_path, "--no-sitemaps", "-s", "NEWSSPIDER_FEED_PAGES=1")
    assert result.returncode == 0, result.stderr
    assert sorted(stored(tmp_path)[-len(new):]) == sorted(map(str, new))
    record = sources(tmp_path)
    assert record["feeds"] == FEED_SIZE and record["links"] >= 2, record
    assert len(listing_paths(mockserver.requests()[before:])) > 1


def test_a_stale_feed_is_caught_by_the_start_page_and_the_listings_are_walked(
        mockserver: MockServer, tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    mockserver.feeds("stale")  # a cache that keeps serving the feed as it is now
    new = mockserver.add_articles(2)
    result = crawl(mockserver, tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(stored(tmp_path)[-2:]) == sorted(map(str, new))
    assert "lists 2 new articles the feeds" in result.stderr and "(a stale feed?)" in result.stderr


def test_a_feed_that_is_no_feed_is_one_warning_and_the_crawl_walks_the_listings(
        mockserver: MockServer, tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    mockserver.fault(FEED, "page", body=b"<html><body>\xe7\xbb\xb4\xe6\x8a\xa4\xe4\xb8\xad</body></html>",
                     content_type="text/html; charset=UTF-8")
    new = mockserver.add_articles(2)
    before = len(mockserver.requests())
    result = crawl(mockserver, tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(stored(tmp_path)[-2:]) == sorted(map(str, new))
    assert result.stderr.count("not a feed (the crawl walks the listings)") == 1, result.stderr
    assert sources(tmp_path)["feed not_feed"] == 1
    asked = [r["path"] for r in mockserver.requests()[before:]]
    assert asked.count(FEED) == 1 and "/sitemap_index.xml" in asked
    assert len([p for p in asked if p.startswith("/post-sitemap")]) < len(stored(tmp_path)) // SITEMAP_SIZE
