"""Redis memory of a distributed crawl, per million URLs, measured with the real components.

Starts a throw-away redis-server on 127.0.0.1, then fills, through newsspider's
own code paths and key layout, the three things that grow with the archive:

- the request dupefilter (scrapy-redis RFPDupeFilter fingerprints), one per URL requested in a run;
- the article state (``<p>:articles``), one entry per stored article;
- the frontier (``<p>:requests``), pickled requests waiting to be fetched (transient: it drains).

Usage: python -m benchmarks.redis_memory [--urls 1000000]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import tempfile
import time

import redis
from scrapy import Request
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue

from newsspider.spiders.bannedbook import BannedbookSpider


def start_redis() -> tuple[subprocess.Popen[bytes], redis.Redis]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = shutil.which("redis-server") or "redis-server"
    proc = subprocess.Popen([server, "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", tempfile.mkdtemp()], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return proc, client
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def used(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def url(n: int) -> str:
    return f"https://www.bannedbook.org/bnews/cnnews/2024{n % 12 + 1:02d}{n % 28 + 1:02d}/{1000000 + n}.html"


def measure(urls: int, queue_sample: int = 50_000) -> dict[str, float]:
    proc, client = start_redis()
    try:
        dupefilter = RFPDupeFilter(client, key="bench:dupefilter:1")
        base = used(client)
        for start in range(0, urls, 10_000):
            pipe = client.pipeline(transaction=False)
            for n in range(start, min(urls, start + 10_000)):
                pipe.sadd(dupefilter.key, dupefilter.request_fingerprint(Request(url(n))))
            pipe.execute()
        dupe = used(client) - base

        base = used(client)
        digest = "sha256:" + "ab" * 32
        for start in range(0, urls, 10_000):
            pipe = client.pipeline(transaction=False)
            for n in range(start, min(urls, start + 10_000)):
                pipe.hset("bench:articles", str(1000000 + n), f"1|1|{digest}")  # RedisMemory's entry
            pipe.execute()
        articles = used(client) - base

        spider = BannedbookSpider(start_urls=["https://www.bannedbook.org/bnews/"])
        queue = PriorityQueue(client, spider, "bench:requests")
        base = used(client)
        for n in range(queue_sample):
            queue.push(Request(url(n), callback=spider.parse, errback=spider.failed, priority=10))
        per_queued = (used(client) - base) / queue_sample
    finally:
        proc.terminate()
        proc.wait()
    million = 1_000_000 / urls
    return {"dupefilter_mb_per_million": dupe * million / 2**20,
            "articles_mb_per_million": articles * million / 2**20,
            "queued_request_bytes": per_queued}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=1_000_000)
    args = parser.parse_args()
    started = time.monotonic()
    result = measure(args.urls)
    print(f"{args.urls:,} URLs, measured in {time.monotonic() - started:.0f} s:")
    print(f"  dupefilter (one fingerprint per URL requested): {result['dupefilter_mb_per_million']:.0f} MB "
          "per million URLs")
    print(f"  article state (one entry per stored article):   {result['articles_mb_per_million']:.0f} MB "
          "per million articles")
    print(f"  frontier: {result['queued_request_bytes']:.0f} bytes per queued request "
          f"({result['queued_request_bytes'] * 1e6 / 2**20:.0f} MB per million waiting)")


if __name__ == "__main__":
    main()
