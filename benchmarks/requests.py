"""Benchmark: requests per article, with and without the site's sitemaps, feeds and validators (issue 40).

    python -m benchmarks.requests [--articles 1000] [--out benchmarks/REQUESTS.md]    # some 3 minutes

The demo site (:class:`newsspider.demo.pages.DemoSite`: the real markup, Yoast-style sitemaps with
``lastmod``, ``ETag``/``Last-Modified`` and 304s) with *articles* more articles, served in a thread of
this process; its own log says what each crawl asked for (path, status, body bytes).  Each crawl is the
real ``newsspider crawl`` in a process of its own, politeness off (``-s DOWNLOAD_DELAY=0``…), one data
dir per column:

- **with sitemaps** (the default): a first crawl; a ``--refresh`` of the unchanged site; a ``--refresh``
  after 1% of the articles were edited;
- **without** (``--no-sitemaps``): a first crawl; a ``--refresh`` that keeps and sends no validators
  (``-s NEWSSPIDER_VALIDATORS=False``: every article fetched whole, the baseline); a ``--refresh`` with
  them (each article asked with its ``ETag``: 304 when unchanged); a ``--refresh`` after 1% were edited;
- **recurring crawls** (not ``--refresh``) after 1% more articles were published: with the feed (the
  default), with sitemaps and no feed (``--no-feeds``), with neither (``--no-feeds --no-sitemaps``), each
  from a copy of the same data dir.

Targets (issue 40): with sitemaps a refresh of an unchanged site fetches no article and makes no more
requests than the sitemap files and robots.txt; with validators and no sitemaps ≥ 95% of the article
responses are 304 and their bytes ≤ 5% of a full refresh's; after 1% were edited every edited article
has its new version.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsspider.demo.pages import DemoSite
from newsspider.demo.server import DemoServer, serve_in_thread
from newsspider.extract import site

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16", "-s", "NEWSSPIDER_PROGRESS_INTERVAL=0"]


@dataclass
class Crawl:
    """What one crawl asked the site for, and what it stored."""

    requests: int
    articles: int
    listings: int
    sitemaps: int
    feeds: int
    not_modified: int
    article_bytes: int
    #: every response's bytes, headers included (Scrapy's ``downloader/response_bytes``)
    response_bytes: int
    stored: int
    exit_code: int

    def row(self, name: str) -> str:
        per = f"{self.requests / self.stored:.2f}" if self.stored else "—"
        share = f"{self.not_modified / self.articles:.0%}" if self.articles else "—"
        return (f"| {name} | {self.requests:,} | {self.articles:,} | {self.listings:,} | {self.sitemaps:,} | "
                f"{self.feeds:,} | {share} | {self.article_bytes / 1e6:.2f} MB | "
                f"{self.response_bytes / 1e6:.2f} MB | {self.stored:,} | {per} |")


def crawl(server: DemoServer, data: Path, *extra: str) -> Crawl:
    """``newsspider crawl`` of *server*'s site into *data*; what it asked for."""
    mark = len(server.requests)
    before = stored_records(data)
    command = [sys.executable, "-m", "newsspider", "crawl", "--start-url", server.root + "/bnews/",
               "--data-dir", str(data), *FAST, "-s", "LOG_LEVEL=INFO", *extra]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode not in (0, 3):
        raise RuntimeError(f"crawl failed ({done.returncode}): {done.stderr[-2000:]}")
    asked = server.requests[mark:]
    articles = [r for r in asked if site.ARTICLE_PATH.match(r["path"].split("?")[0])]
    return Crawl(
        requests=len(asked), articles=len(articles),
        listings=sum(1 for r in asked if site.classify(server.root + r["path"]) in (site.Kind.LISTING,
                                                                                   site.Kind.TAG)),
        sitemaps=sum(1 for r in asked if "sitemap" in r["path"]),
        feeds=sum(1 for r in asked if "/feed/" in r["path"]),
        not_modified=sum(1 for r in articles if r.get("status") == 304),
        article_bytes=sum(int(r.get("bytes") or 0) for r in articles),
        response_bytes=int(m[1]) if (m := re.search(r"'downloader/response_bytes': (\d+)", done.stderr))
        else 0,
        stored=stored_records(data) - before, exit_code=done.returncode)


def stored_records(data: Path) -> int:
    """The records in *data*'s shards (each new version is one)."""
    return sum(sum(1 for _ in shard.open("rb")) for shard in data.glob("articles*.jsonl"))


def versions(data: Path) -> dict[str, int]:
    """Each article's newest version."""
    newest: dict[str, int] = {}
    for shard in data.glob("articles*.jsonl"):
        for line in shard.open(encoding="utf-8"):
            record = json.loads(line)
            newest[record["article_id"]] = max(newest.get(record["article_id"], 0), record.get("version", 1))
    return newest


def measure(n: int) -> tuple[list[tuple[str, Crawl]], dict[str, Any]]:
    demo = DemoSite(extra_articles=n)
    server = serve_in_thread(0, demo)
    rows: list[tuple[str, Crawl]] = []
    checks: dict[str, Any] = {}
    rng = random.Random(40)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            with_maps, without = Path(tmp) / "sitemaps", Path(tmp) / "no-sitemaps"
            first = crawl(server, with_maps)
            rows.append(("with sitemaps: first crawl", first))
            unchanged = crawl(server, with_maps, "--refresh")
            rows.append(("with sitemaps: refresh, nothing changed", unchanged))
            checks["sitemaps_unchanged"] = unchanged

            rows.append(("without: first crawl", crawl(server, without, "--no-sitemaps")))
            full = crawl(server, without, "--no-sitemaps", "--refresh", "-s", "NEWSSPIDER_VALIDATORS=False")
            rows.append(("without: refresh, no validators (every article whole)", full))
            conditional = crawl(server, without, "--no-sitemaps", "--refresh")
            rows.append(("without: refresh with validators, nothing changed", conditional))
            checks["full"], checks["conditional"] = full, conditional

            public = [a.article_id for a in demo.public_articles()]
            edited = rng.sample(public, max(1, len(public) // 100))
            for article_id in edited:
                demo.edit_article(article_id)
            for name, data, extra in (("with sitemaps", with_maps, ()),
                                      ("without", without, ("--no-sitemaps",))):
                result = crawl(server, data, *extra, "--refresh")
                rows.append((f"{name}: refresh after {len(edited)} of {len(public)} articles were edited",
                             result))
                newest = versions(data)
                checks[f"edited_{name}"] = (sum(1 for a in edited if newest.get(str(a), 1) >= 2), len(edited))

            copies = {name: Path(tmp) / name for name in ("feeds", "no-feeds")}
            for copy in copies.values():
                shutil.copytree(with_maps, copy)
            added = [a.article_id for a in demo.add_articles(max(1, len(public) // 100))]
            for name, data, extra in (("with the feed", copies["feeds"], ()),
                                      ("with sitemaps, --no-feeds", copies["no-feeds"], ("--no-feeds",)),
                                      ("with neither", without, ("--no-feeds", "--no-sitemaps"))):
                result = crawl(server, data, *extra)
                rows.append((f"{name}: a recurring crawl after {len(added)} new articles", result))
                newest = versions(data)
                checks[f"added_{name}"] = (sum(1 for a in added if str(a) in newest), len(added))
    finally:
        server.shutdown()
    return rows, checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000, help="articles the demo site adds to its own")
    parser.add_argument("--out", type=Path, help="also write the tables to this Markdown file")
    args = parser.parse_args()
    started = time.monotonic()
    rows, checks = measure(args.articles)
    lines = ["| crawl | requests | article requests | listing pages | sitemap files | feed pages "
             "| article answers 304 | article bodies | all responses | records stored "
             "| requests per stored record |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [result.row(name) for name, result in rows]
    unchanged, full, conditional = checks["sitemaps_unchanged"], checks["full"], checks["conditional"]
    quiet = unchanged.articles == 0 and unchanged.requests <= unchanged.sitemaps + 1  # and robots.txt
    share = conditional.not_modified / conditional.articles if conditional.articles else 0.0
    byte_share = conditional.article_bytes / full.article_bytes if full.article_bytes else 0.0
    all_share = conditional.response_bytes / full.response_bytes if full.response_bytes else 0.0
    lines += [
        "",
        "| target | result | met |",
        "|---|---|---|",
        f"| with sitemaps, a refresh of the unchanged site fetches no article; requests ≤ sitemap files + "
        f"robots.txt | {unchanged.articles} articles; {unchanged.requests} requests, {unchanged.sitemaps} "
        f"sitemap files | {'yes' if quiet else 'no'} |",
        f"| without sitemaps, with validators: ≥ 95% of the article responses 304 | {share:.1%} | "
        f"{'yes' if share >= 0.95 else 'no'} |",
        f"| ... and their bytes ≤ 5% of a full refresh's | article bodies {byte_share:.1%} "
        f"({conditional.article_bytes:,} against {full.article_bytes:,} bytes); all responses, headers and "
        f"the listing pages included, {all_share:.0%} | {'yes' if byte_share <= 0.05 else 'no'} "
        "(the articles) |",
    ]
    for name in ("with sitemaps", "without"):
        got, total = checks[f"edited_{name}"]
        lines.append(f"| {name}: every edited article gets its new version | {got} of {total} | "
                     f"{'yes' if got == total else 'no'} |")
    for name in ("with the feed", "with sitemaps, --no-feeds", "with neither"):
        got, total = checks[f"added_{name}"]
        lines.append(f"| {name}: a recurring crawl stores every new article | {got} of {total} | "
                     f"{'yes' if got == total else 'no'} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        command = " ".join(["python -m benchmarks.requests", *sys.argv[1:]])
        args.out.write_text(
            f"# Requests per article (`python -m benchmarks.requests`)\n\n`{command}` on "
            f"{time.strftime('%Y-%m-%d')} ({time.monotonic() - started:.0f} s; load average {load}): the "
            f"demo site with {args.articles:,} more articles, robots.txt counted among the requests.\n\n"
            + table + "\n",
            "utf-8")


if __name__ == "__main__":
    main()
