"""What a crawl would cost, before it runs: ``newsspider estimate``.

:class:`~newsspider.run.measure.EstimateSpider` measures each start
listing from a few of its pages (the first, then page numbers doubling and
halving to its last page, and to where a window of time starts and ends);
this module turns those sizes into articles, pages, days at the politeness
settings and disk.  Pure functions; nothing here fetches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from newsspider.core.time import duration
from newsspider.dataset.layout import WARC_DIR
from newsspider.dataset.reader import shard_paths
from newsspider.extract.site import is_front_listing

__all__ = ["BYTES_PER_ARTICLE", "TAGS_PER_ARTICLE", "Cost", "ListingSize", "cost", "crawl_rate",
           "measured_bytes", "report"]

#: dataset and WARC bytes an article, measured by ``python -m benchmarks.run`` (10,000 articles of the
#: site's real markup, every listing page and redirect in the WARC) when the data dir has too few
TAGS_PER_ARTICLE = 4
BYTES_PER_ARTICLE = (23_000, 7_400)


@dataclass(frozen=True)
class ListingSize:
    """One start listing as measured: its pages, the pages a window takes, what measuring fetched."""

    url: str
    per_page: int
    pages: int
    #: the articles on its last page
    last_page_items: int
    #: first and one-past-last page of the window (1 and pages + 1 without one)
    window_pages: tuple[int, int]
    fetched: int

    @property
    def articles(self) -> int:
        """Articles the listing leads to (in the window: about a page's worth each page).

        >>> ListingSize("u", 20, 10, 7, (1, 11), 5).articles
        187
        >>> ListingSize("u", 20, 10, 7, (3, 6), 5).articles
        60
        """
        first, end = self.window_pages
        if (first, end) == (1, self.pages + 1):
            return (self.pages - 1) * self.per_page + self.last_page_items
        return max(end - first, 0) * self.per_page

    @property
    def listing_pages(self) -> int:
        """Pages of the listing a crawl fetches: those of the window and the one after it."""
        first, end = self.window_pages
        return min(end - first + 1, self.pages) if (first, end) != (1, self.pages + 1) else self.pages


@dataclass(frozen=True)
class Cost:
    articles: int
    listing_pages: int
    tag_pages: int
    pages_per_second: float
    dataset_bytes: int
    warc_bytes: int

    @property
    def pages(self) -> int:
        return self.articles + self.listing_pages + self.tag_pages

    @property
    def seconds(self) -> float:
        return self.pages / self.pages_per_second if self.pages_per_second else math.inf


def crawl_rate(latency: float, delay: float, autothrottle: bool, target_concurrency: float,
               per_host: int) -> float:
    """Pages a second from one host at these politeness settings, for responses that take *latency*.

    AutoThrottle waits latency / target concurrency between requests, never less than the delay;
    without it, the delay alone spaces them (or, with none, the host's concurrency does).

    >>> crawl_rate(0.5, 1.0, True, 1.0, 2)  # the defaults: one page a second
    1.0
    >>> crawl_rate(2.0, 1.0, True, 1.0, 2)  # a slow site: AutoThrottle waits for it
    0.5
    >>> crawl_rate(0.1, 0.0, False, 1.0, 16)
    160.0
    """
    wait = max(delay, latency / target_concurrency) if autothrottle else delay
    if wait > 0:
        return 1 / wait
    return per_host / latency if latency > 0 else math.inf


def measured_bytes(data_dir: Path, minimum: int = 20) -> tuple[int, int, bool]:
    """(dataset bytes, WARC bytes) an article in *data_dir*'s dataset, and whether they were measured
    there (*minimum* articles or more) rather than taken from :data:`BYTES_PER_ARTICLE`."""
    shards = shard_paths(data_dir) if data_dir.is_dir() else []
    lines = 0
    size = 0
    for shard in shards:
        with shard.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                lines += chunk.count(b"\n")
        size += shard.stat().st_size
    if lines < minimum:
        return (*BYTES_PER_ARTICLE, False)
    warc = sum(f.stat().st_size for f in (data_dir / WARC_DIR).glob("*.warc.gz"))
    return size // lines, warc // lines, True


def cost(sizes: list[ListingSize], rate: float, bytes_per_article: tuple[int, int]) -> Cost:
    """What a crawl of these start listings costs: the front page's articles when it is among them
    (it lists every article), else the sum of the listings'; tag listings at
    :data:`TAGS_PER_ARTICLE` tags an article."""
    front = [s for s in sizes if is_front_listing(s.url)]
    articles = max((s.articles for s in front), default=0) or sum(s.articles for s in sizes)
    per_page = max((s.per_page for s in sizes), default=20) or 20
    return Cost(articles, sum(s.listing_pages for s in sizes),
                math.ceil(articles * TAGS_PER_ARTICLE / per_page), rate,
                articles * bytes_per_article[0], articles * bytes_per_article[1])


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def report(sizes: list[ListingSize], result: Cost, window: str, politeness: str, measured: bool) -> str:
    """The estimate as the command prints it."""
    lines = []
    each = max(result.articles, 1)
    for s in sizes:
        first, end = s.window_pages
        span = f", window: pages {first}-{end - 1}" if window else ""
        lines.append(f"{s.url}: {s.pages:,} pages of {s.per_page}{span}, about {s.articles:,} articles "
                     f"({s.fetched} pages fetched to tell)")
    lines += [
        f"Articles: about {result.articles:,}{f' in {window}' if window else ''}",
        f"Pages: about {result.pages:,} ({result.articles:,} articles, {result.listing_pages:,} pages of the "
        f"start listings, {result.tag_pages:,} tag listing pages at {TAGS_PER_ARTICLE} tags an article)",
        f"Time: {duration(result.seconds)} at {result.pages_per_second:.2f} pages/s ({politeness})",
        f"Disk: {_size(result.dataset_bytes)} dataset + {_size(result.warc_bytes)} WARC "
        f"({_size(result.dataset_bytes / each)} and {_size(result.warc_bytes / each)} an article, "
        f"{'measured in this data dir' if measured else 'measured on the benchmark site'})",
    ]
    return "\n".join(lines)
