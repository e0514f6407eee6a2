"""Benchmark: building the search database and querying it, against DuckDB's LIKE scan of the same records.

    python -m benchmarks.search [--sizes 10000,100000] [--out benchmarks/SEARCH.md]

The records are made from the text of the real seed pages (sentences drawn at
random, one character in ten replaced by another of the corpus, so that the
bigrams are at least as varied as a real archive's), 1,500-3,000 characters
of body each, with the fields of a real record (ten related links, two images
with captions, tags, a summary for two in three).  Queries: 50, of 1-4 Han
characters taken from the corpus and mixed ones (Latin words, numbers,
several words, a quoted phrase); each timed as
``dataset search`` runs it (the exact count and the best 20 with snippets).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from lxml import html

from newsspider.dataset.reader import record_example
from newsspider.views.search.database import build, count, open_readonly, search
from newsspider.views.search.tokens import terms

SITE = "https://www.bannedbook.org"
MIXED = ["OpenAI API", '"OpenAI API"', "中国 经济", "新疆 棉花", "6·4", "2024", "AI 中国", "美国 贸易战",
         "香港 人权", '"中国 的"']


def corpus() -> str:
    text = []
    for page in ("article-openai-china-api.html", "tag-page-trade-war.html"):
        raw = resources.files("newsspider.demo").joinpath(page).read_bytes()
        text += html.fromstring(raw.decode("utf-8")).xpath("//p//text() | //h2//text()")
    return "".join(text)


def records(n: int, rng: random.Random) -> Iterator[dict[str, object]]:
    """The *n* records, one at a time (a 100,000-record list would hold some 2 GB)."""
    text = corpus()
    sentences = [s.strip() + "。" for s in text.replace("\n", "").split("。") if len(s.strip()) > 8]
    han = [c for c in set(text) if "\u4e00" <= c <= "\u9fff"]
    for i in range(1, n + 1):
        body = []
        while sum(map(len, body)) < rng.randint(1500, 3000):
            sentence = list(rng.choice(sentences))
            for j in range(len(sentence)):
                if rng.random() < 0.1 and "\u4e00" <= sentence[j] <= "\u9fff":
                    sentence[j] = rng.choice(han)
            body.append("".join(sentence))
        paragraphs = ["".join(body[k:k + 4]) for k in range(0, len(body), 4)]
        yield record_example(article_id=str(i), title=rng.choice(sentences)[:30],
                             summary=rng.choice(sentences) if i % 3 else None,
                             body="\n\n".join(paragraphs),
                             published_date=f"{2015 + i % 10}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                             tags=rng.sample(["中国", "美国", "香港", "人权", "经济", "台湾"], 2),
                             related_urls=[f"{SITE}/bnews/itnews/20240101/{rng.randrange(n) + 1}.html"
                                           for _ in range(10)],
                             images=[{"url": f"{SITE}/uploads/2024/01/{i}-{k}.jpg", "alt": None,
                                      "caption": rng.choice(sentences)[:40]} for k in range(2)])


def queries(rng: random.Random) -> list[str]:
    text = [c for c in corpus() if "\u4e00" <= c <= "\u9fff"]
    joined = "".join(text)
    found = []
    for length in (1, 2, 3, 4):
        for _ in range(10):
            start = rng.randrange(len(joined) - length)
            found.append(joined[start:start + length])
    return found + MIXED


def duckdb_scan(path: Path) -> tuple[object, float]:
    import duckdb

    conn = duckdb.connect()
    started = time.perf_counter()
    conn.execute(f"CREATE TABLE articles AS SELECT article_id, title, summary, body FROM read_json('{path}', "
                 "format='newline_delimited', columns={'article_id': 'VARCHAR', 'title': 'VARCHAR', "
                 "'summary': 'VARCHAR', 'body': 'VARCHAR'})")
    return conn, time.perf_counter() - started


def like_count(conn: object, query: str) -> int:
    clauses, params = [], []
    for term in terms(query):
        clauses.append("(lower(title) LIKE ? OR lower(coalesce(summary, '')) LIKE ? OR lower(body) LIKE ?)")
        params += [f"%{term}%"] * 3
    return int(conn.execute(f"SELECT count(*) FROM articles WHERE {' AND '.join(clauses)}",  # type: ignore
                            params).fetchone()[0])


def measure(n: int) -> dict[str, object]:
    rng = random.Random(n)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        shard = data / "articles.jsonl"
        with shard.open("w", encoding="utf-8") as handle:
            for record in records(n, rng):
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        started = time.perf_counter()
        built = build(data)
        seconds = time.perf_counter() - started
        db_bytes, jsonl_bytes = built.path.stat().st_size, shard.stat().st_size
        conn = open_readonly(built.path)
        duck, load_seconds = duckdb_scan(shard)
        ours, theirs, hits = [], [], []
        for query in queries(random.Random(1)):
            started = time.perf_counter()
            total = count(conn, query)
            list(search(conn, query, limit=20, total=total))  # as `dataset search` does: counted once
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            like_count(duck, query)
            theirs.append(time.perf_counter() - started)
            hits.append(total)
        conn.close()
    ours.sort()
    theirs.sort()
    return {"articles": n, "build_s": seconds, "articles_per_s": n / seconds, "db_mb": db_bytes / 1e6,
            "jsonl_mb": jsonl_bytes / 1e6, "size_ratio": db_bytes / jsonl_bytes,
            "median_ms": statistics.median(ours) * 1e3, "p95_ms": ours[int(len(ours) * 0.95)] * 1e3,
            "scan_median_ms": statistics.median(theirs) * 1e3,
            "scan_p95_ms": theirs[int(len(theirs) * 0.95)] * 1e3,
            "duckdb_load_s": load_seconds, "queries": len(ours), "median_hits": statistics.median(hits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "SEARCH.md")
    args = parser.parse_args()
    rows = []
    for n in map(int, args.sizes.split(",")):
        result = measure(n)
        rows.append(result)
        print(json.dumps(result), file=sys.stderr)
    print(report(rows, args.sizes))
    args.out.write_text(report(rows, args.sizes), encoding="utf-8")


def report(rows: list[dict[str, Any]], sizes: str) -> str:
    """SEARCH.md: the command, the machine, a row for each size and the targets at the largest."""
    from benchmarks.run import versions

    lines = ["# Search: building the database and querying it", "",
             f"Command: `python -m benchmarks.search --sizes {sizes}` "
             f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}); {versions()}.", "",
             "| articles | build s | articles/s | JSONL MB | db MB | db / JSONL | query median ms | p95 ms | "
             "DuckDB LIKE median ms | p95 ms | scan / ours (median) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['articles']:,} | {r['build_s']:.1f} | {r['articles_per_s']:,.0f} | "
                     f"{r['jsonl_mb']:.0f} | {r['db_mb']:.0f} | {r['size_ratio']:.2f}× | "
                     f"{r['median_ms']:.1f} | {r['p95_ms']:.1f} | "
                     f"{r['scan_median_ms']:.1f} | {r['scan_p95_ms']:.1f} | "
                     f"{r['scan_median_ms'] / r['median_ms']:.0f}× |")
    last = rows[-1]
    lines += ["", f"At {last['articles']:,} articles: query median {last['median_ms']:.1f} ms "
              "(target ≤ 20 ms), "
              f"{last['scan_median_ms'] / last['median_ms']:.0f}× faster than the scan (target ≥ 10×), "
              f"the database {last['size_ratio']:.2f}× the JSON Lines (target ≤ 2×). "
              f"Half the queries match more than {last['median_hits'] / last['articles']:.0%} of the "
              "articles "
              "(the records are made of the seed pages' sentences), so a query's time is mostly the exact "
              "count of its hits."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
