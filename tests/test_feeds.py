"""Feeds: a recurring crawl learns what is new from the site's feed, and loses nothing when the feed
cannot be trusted (newsspider.spiders.feeds; the mock site serves WordPress's: tests/mockserver.py)."""

from __future__ import annotations

from pathlib import Path
from urllib.request import urlopen

import pytest

from newsspider.demo.markup import LIVE
from newsspider.demo.pages import FEED_SIZE, DemoSite
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
    # robots.txt, the feed's pages to the first that lists only old articles, the start page that checks
    # them, the new articles: nothing else.
    assert sorted(r["path"] for r in asked if not site.ARTICLE_PATH.match(r["path"])) == [
        "/bnews/", FEED, FEED + "?paged=2", FEED + "?paged=3", "/robots.txt"]
    assert len(article_paths(asked)) == len(new)
    assert sources(tmp_path) == {"feeds": len(new), "feed_files": 3, "feed_urls": 3 * FEED_SIZE}

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
    assert "/bnews/ lists 2 new articles the feeds did not (a stale feed? " in result.stderr, result.stderr


def test_an_old_post_re_dated_to_the_top_of_the_feed_does_not_end_its_reading(mockserver: MockServer,
                                                                                tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    mockserver.feeds("bumped")  # an old post first: the feed goes on with the 12 new ones, then old ones
    new = mockserver.add_articles(FEED_SIZE + 2)
    before = len(mockserver.requests())
    result = crawl(mockserver, tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(stored(tmp_path)[-len(new):]) == sorted(map(str, new))
    asked = [r["path"] for r in mockserver.requests()[before:]]
    assert [p for p in asked if "/feed/" in p] == [FEED, FEED + "?paged=2", FEED + "?paged=3"]
    assert sources(tmp_path)["feeds"] == len(new)
    assert listing_paths(mockserver.requests()[before:]) == ["/bnews/"]  # the start page's check, only


@pytest.mark.parametrize("problem", ["not_feed", "malformed"])
def test_a_feed_that_cannot_be_trusted_is_one_warning_and_the_crawl_walks_the_listings(
        mockserver: MockServer, tmp_path: Path, problem: str) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    new = mockserver.add_articles(2)
    if problem == "not_feed":  # a maintenance page where the feed was
        body = "<html><body>维护中</body></html>".encode()
    else:  # cut short by a server error half-way: the first item only
        feed = urlopen(mockserver.url(FEED)).read()
        body = feed[:feed.index(b"</item>") + 7]
    mockserver.fault(FEED, "page", body=body, content_type="application/rss+xml; charset=UTF-8")
    before = len(mockserver.requests())
    result = crawl(mockserver, tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(stored(tmp_path)[-2:]) == sorted(map(str, new))
    warning = {"not_feed": "not a feed", "malformed": "not well-formed"}[problem]
    assert result.stderr.count(f"/bnews/feed/: {warning}") == 1, result.stderr
    assert "(the crawl walks the listings)" in result.stderr
    assert sources(tmp_path)[f"feed {problem}"] == 1
    asked = [r["path"] for r in mockserver.requests()[before:]]
    assert asked.count(FEED) == 1 and "/sitemap_index.xml" in asked


def test_hostile_feed_items_and_feed_links_lose_nothing(mockserver: MockServer, tmp_path: Path) -> None:
    # A start page names a feed at a URL that is none (a first crawl reads the others all the same) ...
    mockserver.rewrite(f'href="{LIVE}/bnews/comments/feed/"', 'href="http://[::1/feed/"')
    first = crawl(mockserver, tmp_path)
    assert first.returncode == 0, first.stderr
    assert len(stored(tmp_path)) == len(DemoSite().public_articles())
    assert remembered_feeds(tmp_path) == [mockserver.url(FEED)]
    # ... and the feed lists links that are no URLs, an id no article has, other hosts, other schemes.
    new = mockserver.add_articles(2)
    feed = urlopen(mockserver.url(FEED)).read()
    hostile = b"".join(f"<item><title>x</title><link>{link}</link></item>".encode() for link in (
        "http://[", mockserver.url("/?p=" + "9" * 25), "javascript:alert(1)",
        "https://other.invalid/bnews/a/20240101/7.html", "/bnews/itnews/20240101/" + "9" * 30 + ".html"))
    at = feed.index(b"<item>")
    mockserver.fault(FEED, "page", body=feed[:at] + hostile + feed[at:],
                     content_type="application/rss+xml; charset=UTF-8")
    result = crawl(mockserver, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "ERROR" not in result.stderr, result.stderr
    assert sorted(stored(tmp_path)[-2:]) == sorted(map(str, new))
    record = sources(tmp_path)
    assert (record["feeds"], record["feed bad_url"], record["feed other_host"]) == (2, 2, 1), record
