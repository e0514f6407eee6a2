"""What a crawl would cost, before it runs: ``newsspider estimate``.

:class:`~newsspider.run.measure.EstimateSpider` measures each start
listing from a few of its pages (the first, then page numbers doubling and
halving to its last page, and to where a window of time starts and ends), and
the front page's listing too when a start listing links to it (the crawl
reaches it, and so every article).  It then reads a few articles and the first
page of their tag and category listings: a crawl follows every listing it meets
to its end (or to the window's end), so these, not the start listings, are most
of its pages.  This module turns what was measured into articles, pages, time
at the politeness settings and disk.  Pure functions; nothing here fetches.

The listings are counted from the sample the way a survey counts from a
size-biased one: an article's tag is met with a chance in proportion to the
articles the tag has, so over the (article, tag) pairs read, the mean of
*pages / articles* of the tag's listing, times the article-tag pairs of the
whole site, estimates the pages of all its tag listings (a Horvitz-Thompson
estimate); the same for categories.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from newsspider.core.time import duration
from newsspider.dataset.layout import WARC_DIR
from newsspider.dataset.reader import shard_paths
from newsspider.extract.site import is_front_listing

__all__ = ["BYTES_PER_ARTICLE", "SAMPLE_ARTICLES", "SEEK_PROBES", "Cost", "Listing", "ListingSize", "Sample",
           "cost", "family_pages", "listing_pages_read", "measured_bytes", "report", "seconds_a_page"]

#: dataset and WARC bytes an article, measured by ``python -m benchmarks.run`` (10,000 articles of the
#: site's real markup, every listing page and redirect in the WARC) when the data dir has too few
BYTES_PER_ARTICLE = (23_000, 7_400)
#: articles read to learn the tags an article has and the size of its tag and category listings
SAMPLE_ARTICLES = 4
#: tag listings read of each article read (the first, the middle, the last of its tags)
SAMPLE_TAGS = 3
#: pages a crawl reads going ahead by page numbers to a window far down a listing (the spider's
#: ``Seek``: guessed from the days the pages show), measured on the tests' 2,000-article site
SEEK_PROBES = 4
#: a window's first page from which the spider goes ahead by page numbers (the spider's SEEK_FROM)
SEEK_FROM = 12


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
    #: whether a crawl reads its pages (the front page's listing, measured for its articles, may be
    #: linked from no page)
    crawled: bool = True

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
            return self.all_articles
        return max(end - first, 0) * self.per_page

    @property
    def all_articles(self) -> int:
        """Articles the listing holds, in or out of the window."""
        return (self.pages - 1) * self.per_page + self.last_page_items

    @property
    def listing_pages(self) -> int:
        """Pages of the listing a crawl reads (:func:`listing_pages_read`)."""
        return listing_pages_read(self.pages, *self.window_pages) if self.crawled else 0

    @property
    def share(self) -> tuple[float, float] | None:
        """Where the window lies in the listing, newest first, as shares of its articles: (the share
        newer than the window, the share newer than its oldest day); None without a window.

        >>> ListingSize("u", 20, 100, 20, (53, 65), 5).share
        (0.52, 0.64)
        """
        first, end = self.window_pages
        if (first, end) == (1, self.pages + 1):
            return None
        return (first - 1) / self.pages, min(end - 1, self.pages) / self.pages


def listing_pages_read(pages: int, first: int, end: int) -> int:
    """Pages a crawl reads of a listing of *pages* pages whose window is on pages *first* to *end* - 1:
    page 1, then page by page to the one after the window (it lists older articles: the listing ends
    there), or, for a window from page :data:`SEEK_FROM` on, page 1, :data:`SEEK_PROBES` pages going
    ahead by page numbers, the window's pages and the one after.

    >>> listing_pages_read(10, 1, 11), listing_pages_read(10, 1, 4), listing_pages_read(10, 3, 6)
    (10, 4, 6)
    >>> listing_pages_read(100, 53, 65)  # 1 + 4 + 12 + 1
    18
    """
    if (first, end) == (1, pages + 1):
        return pages
    last = min(end, pages)  # the page after the window, when there is one
    if first >= SEEK_FROM:
        return 1 + SEEK_PROBES + max(last - first + 1, 0)
    return last


@dataclass(frozen=True)
class Listing:
    """A tag or category listing as its first page tells: the articles it holds, its pages.

    >>> Listing.of_first_page(20, 12, True).articles, Listing.of_first_page(7, None, False).articles
    (230.0, 7.0)
    >>> Listing.of_first_page(20, None, True, 300, 5000)  # 20 in 300 days of the site's 5,000
    Listing(articles=333.0, pages=17, per_page=20)
    """

    articles: float
    pages: int
    per_page: int

    @classmethod
    def of_first_page(cls, items: int, last_page: int | None, more: bool, days: int = 0,
                      site_days: int = 0) -> Listing:
        """From page 1's *items*, the last page its pagination shows and whether it has a next page:
        the last page half full.  A next page but no last page shown: at page 1's pace (its items
        over the *days* they span) over the *site_days* the site's articles span, when known, else
        two pages."""
        per_page = max(items, 1)
        if not more:
            return cls(float(items), 1, per_page)
        if last_page and last_page > 1:
            return cls((last_page - 0.5) * per_page, last_page, per_page)
        if days and site_days > days:
            articles = float(round(items * site_days / days))
            return cls(articles, max(math.ceil(articles / per_page), 2), per_page)
        return cls(1.5 * per_page, 2, per_page)

    def pages_read(self, share: tuple[float, float] | None) -> int:
        """Pages a crawl reads of it, the window lying at *share* of its articles (as the front
        listing's does: :attr:`ListingSize.share`).

        >>> big = Listing(230.0, 12, 20)
        >>> big.pages_read(None), big.pages_read((0.52, 0.64)), big.pages_read((0.0, 0.1))
        (12, 9, 3)
        """
        if share is None:
            return self.pages
        newer, through = share
        first = min(math.floor(newer * self.articles / self.per_page) + 1, self.pages)
        end = math.ceil(through * self.articles / self.per_page) + 1
        return listing_pages_read(self.pages, first, max(end, first))


def family_pages(sampled: Sequence[Listing], pairs: float, share: tuple[float, float] | None,
                 seen: int) -> tuple[int, int]:
    """(pages a crawl reads, listings it meets) of one kind of listing (the tags, the categories),
    from *sampled*: the listing of each (article, listing) pair read, of *pairs* such pairs on the
    whole site.  A listing is met with a chance in proportion to its articles, so the mean of
    ``pages / articles`` over the sample, times *pairs*, estimates the pages of all of them.  In a
    window, a listing with fewer articles than the window's share takes one with that chance.
    Listings *seen* linked from the pages read beyond those estimated (menus, tag clouds) add a
    page each.  Without a sample: the seen listings, and a page for each page's worth of the
    window's pairs.

    >>> family_pages([Listing(230.0, 12, 20)] * 4, 9000.0, None, 40)  # 40 tags of 225 articles each
    (470, 40)
    >>> family_pages([Listing(230.0, 12, 20)] * 3 + [Listing(1.0, 1, 1)], 9000.0, None, 40)  # and unique ones
    (2602, 2279)
    >>> family_pages([Listing(230.0, 12, 20)] * 4, 9000.0, (0.52, 0.64), 40)  # a window: 9 pages each
    (353, 40)
    >>> family_pages([], 9000.0, None, 40), family_pages([], 9000.0, (0.0, 0.0), 40)
    ((490, 40), (40, 40))
    """
    if not sampled:
        width = 1.0 if share is None else share[1] - share[0]
        return seen + math.ceil(pairs * width / 20), seen
    reached = [1.0 if share is None else min(1.0, s.articles * (share[1] - share[0])) for s in sampled]
    pages = pairs * sum(r * s.pages_read(share) / s.articles for r, s in zip(reached, sampled, strict=True))
    listings = pairs * sum(r / s.articles for r, s in zip(reached, sampled, strict=True))
    pages, listings = pages / len(sampled), listings / len(sampled)
    return round(pages + max(seen - listings, 0.0)), round(max(listings, seen))


@dataclass(frozen=True)
class Sample:
    """The articles read and the first pages of their listings: what the site's listings are like."""

    #: article pages read
    articles: int = 0
    #: the tag links they hold, in all
    tags: int = 0
    #: the category listing of each article read
    categories: tuple[Listing, ...] = ()
    #: the tag listing of each (article, tag) pair read
    tag_listings: tuple[Listing, ...] = ()
    #: the category and tag listings linked from the pages read (menus, tag clouds, articles)
    seen_categories: int = 0
    seen_tags: int = 0
    #: pages fetched for it
    fetched: int = 0

    @property
    def tags_an_article(self) -> float:
        """Tags an article has, on average (4 when no article could be read)."""
        return self.tags / self.articles if self.articles else 4.0


@dataclass(frozen=True)
class Cost:
    articles: int
    listing_pages: int
    category_pages: int
    categories: int
    tag_pages: int
    tags: int
    robots_txt: int
    #: seconds a page at the politeness settings; None when they set no delay (the server's pace)
    seconds_a_page: float | None
    dataset_bytes: int
    warc_bytes: int
    sample: Sample = field(default_factory=Sample)
    #: sitemap files read; when any, :attr:`articles` is the count of the articles they list
    sitemap_files: int = 0

    @property
    def pages(self) -> int:
        return (self.articles + self.listing_pages + self.category_pages + self.tag_pages + self.robots_txt
                + self.sitemap_files)

    @property
    def seconds(self) -> float | None:
        return None if self.seconds_a_page is None else self.pages * self.seconds_a_page


def seconds_a_page(delay: float, jitter: float, autothrottle: bool, latency: float, target_concurrency: float,
                   max_delay: float) -> float | None:
    """Seconds between two requests to the site at these politeness settings; None without a
    ``DOWNLOAD_DELAY``: then the server's pace sets it, and no estimate can tell it.

    Scrapy waits the delay between requests to a host, whatever the concurrency, and AutoThrottle
    makes it latency / target concurrency when the site answers slower than that (at most
    ``AUTOTHROTTLE_MAX_DELAY``).  The delay is drawn at random within ±*jitter* of it, and drawn
    again each time Scrapy looks whether it has passed, which makes it longer on average than the
    delay: the expected wait is ``1 + jitter * (2e - 5)`` delays (1.22 at the default ±50%, as a
    crawl of the demo site measures).

    >>> seconds_a_page(1.0, 0.5, True, 0.2, 1.0, 30.0)  # the defaults: 0.82 pages a second
    1.218
    >>> seconds_a_page(1.0, 0.0, True, 2.0, 1.0, 30.0)  # a slow site: AutoThrottle waits for it
    2.0
    >>> seconds_a_page(0.0, 0.5, True, 0.001, 1.0, 30.0) is None
    True
    """
    if delay <= 0:
        return None
    wait = max(delay, min(latency / target_concurrency, max_delay)) if autothrottle else delay
    return round(wait * (1 + min(jitter, 1.0) * (2 * math.e - 5)), 3)


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


def cost(sizes: list[ListingSize], sample: Sample, wait: float | None, bytes_per_article: tuple[int, int],
         robots_txt: int = 1, sitemaps: tuple[int, int] | None = None) -> Cost:
    """What a crawl of these start listings costs.  The front page's listing lists every article and
    a crawl reaches it from any listing's menu, so its articles are the crawl's when it was measured
    (else the start listings' together); the category and tag listings are estimated from *sample*
    (:func:`family_pages`), less the start listings that are among them.

    >>> front = ListingSize("http://h/bnews/", 10, 5, 4, (1, 6), 7)
    >>> sample = Sample(4, 12, (Listing(7.0, 1, 7),) * 4, (Listing(14.0, 2, 10),) * 12, 42, 36, 16)
    >>> c = cost([front], sample, 1.218, (23_000, 7_400))
    >>> (c.articles, c.listing_pages, c.category_pages, c.tag_pages, c.pages)
    (44, 5, 42, 45, 137)

    With *sitemaps* (the articles they list in the window, the files read), the articles are theirs:

    >>> c = cost([front], sample, 1.218, (23_000, 7_400), sitemaps=(45, 8)); (c.articles, c.pages)
    (45, 146)
    """
    front = [s for s in sizes if is_front_listing(s.url)]
    main = max(front, key=lambda s: s.all_articles) if front else None
    articles = main.articles if main else sum(s.articles for s in sizes)
    whole = main.all_articles if main else sum(s.all_articles for s in sizes)
    share = main.share if main else next((s.share for s in sizes if s.share), None)
    start_pages = sum(s.listing_pages for s in sizes)
    categories = family_pages(sample.categories, float(whole), share, sample.seen_categories)
    tags = family_pages(sample.tag_listings, whole * sample.tags_an_article, share, sample.seen_tags)
    # the start listings other than the front page's are among the categories (or tags) estimated
    others = sum(s.listing_pages for s in sizes if not is_front_listing(s.url))
    articles, files = sitemaps if sitemaps else (articles, 0)
    return Cost(articles, start_pages, max(categories[0] - others, 0), categories[1], tags[0], tags[1],
                robots_txt, wait, articles * bytes_per_article[0], articles * bytes_per_article[1], sample,
                files)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def report(sizes: list[ListingSize], result: Cost, window: str, politeness: str, measured: bool) -> str:
    """The estimate as the command prints it (*window*: ``since 2024-01-01``, or empty)."""
    lines = []
    each = max(result.articles, 1)
    for s in sizes:
        first, end = s.window_pages
        span = f", window: pages {first}-{end - 1}" if window else ""
        unlinked = "" if s.crawled else "; no page read links to it: its articles count, not its pages"
        lines.append(f"{s.url}: {s.pages:,} pages of {s.per_page}{span}, about {s.articles:,} articles "
                     f"({s.fetched} pages fetched to tell{unlinked})")
    sample = result.sample
    robots = f", {result.robots_txt} robots.txt" if result.robots_txt else ""
    robots += f", {result.sitemap_files:,} sitemap files" if result.sitemap_files else ""
    lines += [
        f"Articles: {result.articles:,}{f' {window}' if window else ''}, counted in the site's sitemaps"
        if result.sitemap_files else f"Articles: about {result.articles:,}{f' {window}' if window else ''}",
        f"Pages: about {result.pages:,} ({result.articles:,} articles, {result.listing_pages:,} start "
        f"listing pages, {result.category_pages:,} pages of {result.categories:,} category listings, "
        f"{result.tag_pages:,} pages of {result.tags:,} tag listings{robots})",
        f"Listings: from {sample.articles} articles read ({sample.tags_an_article:.1f} tags an article) and "
        f"their listings' first pages ({sample.fetched} pages fetched to tell)" if sample.articles else
        "Listings: no article read (none listed in the window): a page a listing the pages read link to",
    ]
    if result.seconds is None:
        lines.append(f"Time: as fast as the site answers: no delay between requests ({politeness})")
    else:
        lines.append(f"Time: {duration(result.seconds)} at {1 / result.seconds_a_page:.2f} pages/s "  # type: ignore[operator]
                     f"({politeness})")
    lines.append(f"Disk: {_size(result.dataset_bytes)} dataset + {_size(result.warc_bytes)} WARC "
                 f"({_size(result.dataset_bytes / each)} and {_size(result.warc_bytes / each)} an article, "
                 f"{'measured in this data dir' if measured else 'measured on the benchmark site'})")
    return "\n".join(lines)
