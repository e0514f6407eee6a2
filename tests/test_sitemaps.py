"""Sitemaps: discovery through them, refresh by their lastmod, and sitemaps that cannot be trusted
(newsspider.spiders.sitemaps; the mock site serves Yoast's and WordPress core's: tests/mockserver.py)."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from newsspider.demo.markup import LIVE
from newsspider.demo.pages import OTHER_HOST, ROBOTS_TXT, SITEMAP_SIZE, DemoSite
from newsspider.extract import site
from newsspider.extract.sitemaps import normal_lastmod
from newsspider.memory.sqlite import read_runs
from tests.conftest import FAST, crawl, read_jsonl, run_cli
from tests.mockserver import MockServer

DEMO = DemoSite()
PUBLIC_IDS = {str(a.article_id) for a in DEMO.public_articles()}
#: Yoast's index, its post sitemaps (the last one gzip) and its news sitemap
YOAST_FILES = 1 + -(-len(DEMO.articles) // SITEMAP_SIZE) + 1


def article_paths(requests: list[dict[str, Any]]) -> list[str]:
    return [r["path"] for r in requests if site.ARTICLE_PATH.match(r["path"])]


def listing_paths(requests: list[dict[str, Any]]) -> list[str]:
    return [r["path"] for r in requests
            if site.classify("http://x" + r["path"]) in (site.Kind.LISTING, site.Kind.TAG)]


def stored_ids(data_dir: Path) -> Counter[str]:
    return Counter(r["article_id"] for r in read_jsonl(data_dir / "articles.jsonl"))


def sources(data_dir: Path) -> dict[str, int]:
    """What the run record says of where the last run's article requests came from."""
    return json.loads(read_runs(data_dir)[-1].quality or "{}")["sources"]


def test_a_first_crawl_through_sitemaps_stores_every_article_with_fewer_listing_pages(
        site_server: MockServer, tmp_path: Path) -> None:
    assert crawl(site_server, tmp_path / "with").returncode == 0
    with_sitemaps = site_server.requests()
    result = crawl(site_server, tmp_path / "without", "--no-sitemaps")
    assert result.returncode == 0, result.stderr
    without = site_server.requests()[len(with_sitemaps):]

    assert set(stored_ids(tmp_path / "with")) == set(stored_ids(tmp_path / "without")) == PUBLIC_IDS
    assert max(stored_ids(tmp_path / "with").values()) == 1
    assert not [p for p in listing_paths(with_sitemaps) if "/page/" in p], "paged on past what sitemaps gave"
    assert len(listing_paths(with_sitemaps)) < len(listing_paths(without))
    assert not [r for r in without if r["path"].endswith((".xml", ".xml.gz"))]
    assert not [p for p in article_paths(with_sitemaps) if "/private/" in p], "robots.txt not obeyed"
    record = sources(tmp_path / "with")
    assert record["sitemap_files"] == YOAST_FILES and record["sitemap_urls"] == len(DEMO.articles)
    assert record["sitemaps"] == len(DEMO.articles) and "links" not in record, record
    assert "sitemaps" not in sources(tmp_path / "without") and sources(tmp_path / "without")["links"] > 40
    shown = run_cli("runs", str(tmp_path / "with"), "--run", "1").stdout
    assert f"  sources: sitemaps {len(DEMO.articles)}, sitemap_files {YOAST_FILES}, " in shown, shown


def test_wordpress_core_sitemaps_are_found_where_robots_txt_names_none(mockserver: MockServer,
                                                                        tmp_path: Path) -> None:
    mockserver.sitemaps("core")
    assert crawl(mockserver, tmp_path).returncode == 0
    paths = [r["path"] for r in mockserver.requests()]
    assert [p for p in paths if p.endswith(".xml")] == [
        "/sitemap_index.xml", "/wp-sitemap.xml", "/wp-sitemap-posts-post-1.xml"]  # not the categories'
    assert set(stored_ids(tmp_path)) == PUBLIC_IDS


def test_a_sitemap_that_misses_articles_loses_none_of_them(mockserver: MockServer, tmp_path: Path) -> None:
    mockserver.sitemaps("partial")
    assert crawl(mockserver, tmp_path).returncode == 0
    assert set(stored_ids(tmp_path)) == PUBLIC_IDS
    assert sources(tmp_path)["links"] > 0


def test_refresh_fetches_exactly_the_articles_whose_lastmod_changed(mockserver: MockServer,
                                                                     tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    first = len(mockserver.requests())
    result = crawl(mockserver, tmp_path, "--refresh")
    assert result.returncode == 0, result.stderr
    unchanged_site = mockserver.requests()[first:]
    # The target: a refresh of an unchanged site fetches no article, only robots.txt and the sitemaps.
    assert article_paths(unchanged_site) == [] and listing_paths(unchanged_site) == []
    assert len(unchanged_site) <= YOAST_FILES + 1  # robots.txt, once: the sitemaps read what Scrapy parsed

    edited = [2060000, 2060037]
    for article_id in edited:
        mockserver.edit_article(article_id)
    second = len(mockserver.requests())
    result = crawl(mockserver, tmp_path, "--refresh")
    assert result.returncode == 0, result.stderr
    fetched = article_paths(mockserver.requests()[second:])
    assert sorted(fetched) == sorted(DEMO.articles[i].path for i in edited)
    assert result.stdout.startswith("Crawl finished:") and ", 2 stored, " in result.stdout.splitlines()[0]
    versions = [(r["article_id"], r["version"]) for r in read_jsonl(tmp_path / "articles.jsonl")[-2:]]
    assert sorted(versions) == [(str(i), 2) for i in edited]


def test_refresh_fetches_the_stored_articles_the_sitemaps_do_not_list(mockserver: MockServer,
                                                                       tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    mockserver.sitemaps("partial")  # its first post sitemap now misses every third article but one
    first = len(mockserver.requests())
    assert crawl(mockserver, tmp_path, "--refresh").returncode == 0
    oldest = sorted(DEMO.articles.values(), key=lambda a: (a.day, a.article_id))[:SITEMAP_SIZE]
    unlisted = {a.path for i, a in enumerate(oldest) if i % 3 and a.category != "private"}
    assert set(article_paths(mockserver.requests()[first:])) == unlisted
    assert sources(tmp_path)["stored"] == len(unlisted)


def _index(*locs: str) -> bytes:
    return ('<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs) + "</sitemapindex>").encode()


def _urlset(*locs: str) -> bytes:
    return ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc>{loc}</loc></url>" for loc in locs) + "</urlset>").encode()


SOME = [DEMO.newest_first[i] for i in range(3)]
#: path -> body of each bad sitemap, the problem counted, the URL warned about
BAD: dict[str, tuple[dict[str, bytes], str, str]] = {
    "not XML": ({"/sitemap_index.xml": b"User-agent: *\nDisallow: <"}, "not_xml", "/sitemap_index.xml"),
    "not a sitemap": ({"/sitemap_index.xml": b"<html><body>404</body></html>"}, "not_sitemap",
                      "/sitemap_index.xml"),
    "huge (a gzip bomb)": ({"/sitemap_index.xml": gzip.compress(b"<urlset>" + b" " * (9 << 20))},
                           "too_large", "/sitemap_index.xml"),
    "an index that lists itself": ({"/sitemap_index.xml": _index(f"{LIVE}/sitemap_index.xml",
                                                                 f"{LIVE}/post-sitemap1.xml")},
                                   "repeated", "/sitemap_index.xml"),
    "other hosts": ({"/sitemap_index.xml": _index(f"{OTHER_HOST}/post-sitemap1.xml",
                                                  f"{LIVE}/post-sitemap2.xml"),
                     "/post-sitemap2.xml": _urlset(*(f"{OTHER_HOST}{a.path}" for a in SOME),
                                                   f"{LIVE}{SOME[0].path}")},
                    "other_host", "/post-sitemap1.xml"),
    "forbidden by robots.txt": ({"/robots.txt": f"{ROBOTS_TXT}Disallow: /post-sitemap\n"
                                                f"Sitemap: {LIVE}/sitemap_index.xml\n".encode()},
                                "robots_txt", "/post-sitemap1.xml"),
    "gzip-corrupt": ({"/post-sitemap6.xml.gz": b"\x1f\x8b\x08\x00" + b"\x00garbage" * 20}, "not_gzip",
                     "/post-sitemap6.xml.gz"),
}


@pytest.mark.parametrize("what", list(BAD))
def test_a_bad_sitemap_is_logged_once_counted_and_the_crawl_goes_on(what: str, mockserver: MockServer,
                                                                     tmp_path: Path) -> None:
    bodies, problem, warned = BAD[what]
    for path, body in bodies.items():
        kind = "text/plain" if path == "/robots.txt" else "application/xml"
        mockserver.fault(path, "page", body=body, content_type=kind)
    result = crawl(mockserver, tmp_path)
    assert result.returncode == 0, result.stderr
    assert set(stored_ids(tmp_path)) == PUBLIC_IDS
    warnings = [line for line in result.stderr.splitlines() if " sitemap " in line and "WARNING" in line]
    assert len([w for w in warnings if f"{warned}:" in w]) == 1, warnings
    assert "Traceback" not in result.stderr
    assert sources(tmp_path)[f"sitemap {problem}"] >= 1
    requests = mockserver.requests()
    assert not [r for r in requests if r["host"].startswith("localhost")], "fetched another host"
    if problem == "robots_txt":
        assert not [r for r in requests if r["path"].startswith("/post-sitemap")], "robots.txt not obeyed"


def test_a_window_fetches_no_sitemap_older_than_it(site_server: MockServer, tmp_path: Path) -> None:
    since = "2024-07-05"
    result = crawl(site_server, tmp_path, "--since", since)
    assert result.returncode == 0, result.stderr
    paths = [r["path"] for r in site_server.requests()]
    groups = DEMO._post_sitemaps()
    old = [f"/post-sitemap{n}.xml" for n, group in enumerate(groups, 1)
           if max(normal_lastmod(DEMO.lastmod(a)) or "" for a in group)[:10] < since]
    assert old and not set(old) & set(paths), "a sitemap older than --since was fetched"
    days = {str(a.article_id): a.day for a in DEMO.public_articles()}
    assert set(stored_ids(tmp_path)) == {i for i, day in days.items() if day >= since.replace("-", "")}


def test_estimate_counts_the_articles_the_sitemaps_list(site_server: MockServer) -> None:
    counted = run_cli("estimate", "--start-url", site_server.url("/bnews/"), *FAST)
    assert counted.returncode == 0, counted.stderr
    assert f"\nArticles: {len(DEMO.articles)}, counted in the site's sitemaps\n" in counted.stdout, \
        counted.stdout
    assert f", {YOAST_FILES} sitemap files)" in counted.stdout
    guessed = run_cli("estimate", "--start-url", site_server.url("/bnews/"), "--no-sitemaps", *FAST)
    assert guessed.returncode == 0, guessed.stderr
    assert "\nArticles: about " in guessed.stdout and "sitemap" not in guessed.stdout
