"""The baseline: a bare Scrapy spider that follows exactly the links newsspider follows and extracts
nothing, written the usual way (every link turned into a request; Scrapy's dupefilter drops repeats).

``python -m benchmarks.bare START_URL [-s NAME=VALUE]...`` crawls and prints its stats as JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response

from newsspider.extract import site
from newsspider.extract.processors import canonical_url


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, start: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.start_urls = [start]
        self.host = urlsplit(start).netloc

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        for href in response.xpath("//a/@href | //link[@rel='next']/@href").getall():
            url = canonical_url(response.urljoin(href.strip()))
            if site.classify(url) is not site.Kind.OTHER and urlsplit(url).netloc == self.host:
                yield scrapy.Request(url, callback=self.parse)


def main() -> None:
    start, pairs = sys.argv[1], sys.argv[2:]
    settings = {"LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False,
                "ROBOTSTXT_OBEY": True, "COOKIES_ENABLED": False}
    for flag, pair in zip(pairs[::2], pairs[1::2], strict=True):
        assert flag == "-s", flag
        name, _, value = pair.partition("=")
        settings[name] = value
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, start=start)
    process.start()
    print(json.dumps(crawler.stats.get_stats(), default=str))


if __name__ == "__main__":
    main()
