"""A small copy of bannedbook.org in its real markup, for the demo and the tests.

Built around the two real pages of the site (``article-openai-china-api.html``,
the article part of a real article page, and ``tag-page-trade-war.html``, a
real tag listing page) plus generated articles and listings in the same
markup (:mod:`newsspider.demo.markup`).  Generated articles say that they are
generated.

The site has what a crawl meets on the real one: pagination (下一页 and
``rel=next``), tag and category listings, related-article lists, links with
``utm_*`` parameters, fragments, relative and lower-case percent-encoded
forms, WordPress shortlinks ``/?p=<id>`` that redirect, the ``/bnews/zh-tw/``
mirror, links to other hosts, and a robots.txt that disallows a path.

It publishes sitemaps as a WordPress site with Yoast SEO does (:meth:`DemoSite.sitemap`): robots.txt
names ``/sitemap_index.xml``, an index of ``post-sitemapN.xml`` files (:data:`SITEMAP_SIZE` articles
each, every entry's ``lastmod`` the article's last change; the last one gzip-compressed, as
``.xml.gz``), a news sitemap and the sitemaps of pages and categories; WordPress core's
``/wp-sitemap.xml`` is there too.  :attr:`DemoSite.sitemap_mode` switches them (:data:`SITEMAP_MODES`).
Its RSS feeds are WordPress's (:meth:`DemoSite.feed`): ``/bnews/feed/`` lists the :data:`FEED_SIZE`
newest posts and ``/bnews/<category>/feed/`` a category's, and every page names the site's feed in
``<link rel="alternate">``; :meth:`DemoSite.set_feed_mode` switches them (:data:`FEED_MODES`).

Pages are written with the live host (``https://www.bannedbook.org``); the
server swaps in its own address when it serves them.
"""

from __future__ import annotations

import html
import random
import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from importlib import resources
from urllib.parse import unquote, urlsplit

from newsspider.demo import markup
from newsspider.demo.markup import CATEGORY_NAMES, LIVE, Article, tag_path
from newsspider.extract import site

# Stands for another host in links; the server replaces it with a different host name.
OTHER_HOST = "https://other-host.invalid"
PER_PAGE = 10
ROBOTS_TXT = "User-agent: *\nDisallow: /bnews/private/\nDisallow: /bnews/zh-tw/\n"
#: articles a post sitemap lists (Yoast lists 1,000)
SITEMAP_SIZE = 8
#: what the site's sitemaps are: ``yoast`` (robots.txt names Yoast's index; WordPress core's is there
#: too), ``core`` (only /wp-sitemap.xml, named nowhere), ``partial`` (Yoast's, its first post sitemap
#: missing every third article), ``off`` (none)
SITEMAP_MODES = ("yoast", "core", "partial", "off")
_URLSET = ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
           ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n{}</urlset>\n')
_INDEX = ('<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/'
          'sitemap/0.9">\n{}</sitemapindex>\n')
#: posts a feed lists (WordPress's default)
FEED_SIZE = 10
#: what the site's feeds are: ``on`` (the newest posts), ``stale`` (what they listed when the mode was
#: set, as a cache that is never refreshed serves it), ``bumped`` (the oldest post first, as if an
#: editor had re-dated it), ``off`` (none: 404)
FEED_MODES = ("on", "stale", "bumped", "off")
_RSS = ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n<title>{title}</title>\n'
        '<atom:link href="{self}" rel="self" type="application/rss+xml" />\n<link>{link}</link>\n'
        '<description>禁闻网 演示站点</description>\n<lastBuildDate>{built}</lastBuildDate>\n'
        '<language>zh-CN</language>\n{items}</channel>\n</rss>\n')
SEED_ARTICLE_PATH = "/bnews/itnews/20240626/2054421.html"
# The picture of a generated article (an SVG: an image the servers can send as text).
IMAGE_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="600" height="400"><rect width="600" '
             'height="400" fill="#ccd"/><text x="20" y="200" font-size="40">演示图片 {n}</text></svg>')
# The theme's stylesheet, linked from every article page as WordPress links it.
STYLESHEET_PATH = "/wp-content/themes/demo/style.css"
STYLESHEET = ("body { background: rgb(250, 246, 238); }\n"
              "div.entry { border-left: 4px solid rgb(153, 0, 0); padding-left: 1em; }\n"
              "p.notice { color: rgb(153, 0, 0); }\n")
SEED_TAG = "贸易战"
TAG_POOL = ["中国", "美国", "贸易战", "人工智能", "香港", "人权", "经济", "网络安全", "台湾", "民主"]
SENTENCES = [
    "本文是newsspider演示站点按禁闻网真实页面结构生成的示例文章，正文内容并非真实新闻。",
    "演示文章用来检验抓取、抽取、去重和存储的每一个环节。",
    "段落之间的链接文字应当原样保留，中文字符之间不会被插入空格。",
    "同一篇文章可以通过短链接、跟踪参数或繁体镜像等多种地址到达，但只应存储一次。",
    "相关文章列表和标签链接把这些页面连成一张网络，爬虫沿着它们发现新的文章。",
    "列表页按时间倒序排列文章，并通过“下一页”链接分页。",
]


#: how a taken-down article's page answers (DemoSite.remove_article)
REMOVED_ANSWERS = ("404", "410", "home")


@dataclass
class Page:
    """A response of the demo site."""

    status: int = 200
    body: str = ""
    content_type: str = "text/html; charset=UTF-8"
    location: str | None = None
    #: when the page last changed (seconds since the epoch): an article page's, sent as Last-Modified
    modified: float | None = None
    #: sent gzip-compressed (a sitemap's ``.xml.gz``)
    gzip: bool = False


def _group(pattern: str, text: str) -> str:
    """The first group of *pattern* in *text* (the seed pages are known to hold it)."""
    match = re.search(pattern, text)
    if match is None:
        raise ValueError(f"seed page changed: {pattern!r} not found")
    return match[1]


def _seed(name: str) -> str:
    return resources.files("newsspider.demo").joinpath(name).read_text("utf-8")


def image_path(article_id: int) -> str:
    """Where a generated article's picture is served.

    >>> image_path(1251440)
    '/wp-content/uploads/demo/1251440.svg'
    """
    return f"/wp-content/uploads/demo/{article_id}.svg"


class DemoSite:
    """All pages of the demo site, looked up by path (and query)."""

    def __init__(self, extra_articles: int = 14, seed: int = 7) -> None:
        self.random = random.Random(seed)
        self.articles: dict[int, Article] = {}
        self.edits: dict[int, int] = {}
        #: articles taken down, and how their page answers: 404, 410, or "home" (a redirect to the front page)
        self.removed: dict[int, str] = {}
        #: taken-down articles no page links to any more (not in listings, nor in related lists)
        self.unlinked: set[int] = set()
        #: every article page answers 404 (a broken site, a block), the listings as before
        self.all_gone = False
        #: when each edited article was last edited (seconds since the epoch)
        self.edited_at: dict[int, float] = {}
        self.sitemap_mode = "yoast"
        self.feed_mode = "on"
        #: what a stale feed lists (the newest posts when it went stale)
        self._stale_feed: list[Article] = []
        self._add_seed_articles()
        self._add_generated(extra_articles)
        self._sort()

    def _sort(self) -> None:
        self.newest_first = sorted(self.articles.values(), key=lambda a: (a.day, a.article_id),
                                   reverse=True)

    def add_articles(self, count: int) -> list[Article]:
        """Publish *count* new articles, newer than all others (on top of the listings)."""
        start = max(self.articles) + 1
        newest_day = max(a.day for a in self.articles.values())
        added = []
        for n in range(count):
            article_id = start + n * 11
            tags = self.random.sample(TAG_POOL, 3)
            day = str(int(newest_day) + 1) if newest_day[6:] < "28" else newest_day
            article = Article(article_id, ["itnews", "cnnews", "comments"][n % 3], day,
                              f"新发表的演示文章{article_id}：{tags[0]}", SENTENCES[n % len(SENTENCES)], tags,
                              self.random.sample(sorted(self.articles)[:20], 3))
            self.articles[article_id] = article
            added.append(article)
        self._sort()
        return added

    def edit_article(self, article_id: int) -> None:
        """Change an article's text (as an editor's correction would)."""
        self.edits[article_id] = self.edits.get(article_id, 0) + 1
        self.edited_at[article_id] = max(time.time(), self.modified(self.articles[article_id]) + 1)

    def modified(self, article: Article) -> float:
        """When *article* last changed: its last edit, else 10:00 UTC of its day.

        >>> site = DemoSite(extra_articles=0); site.modified(site.articles[2054421])
        1719396000.0
        """
        if article.article_id in self.edited_at:
            return self.edited_at[article.article_id]
        day = datetime.strptime(article.day, "%Y%m%d").replace(hour=10, tzinfo=timezone.utc)
        return day.timestamp()

    def remove_article(self, article_id: int, how: str, unlink: bool = False) -> None:
        """Take an article down: its page answers *how* (``404``, ``410``, ``home``); its links stay,
        unless *unlink* (then no listing or related list shows it)."""
        if how not in REMOVED_ANSWERS:
            raise ValueError(f"how: one of {', '.join(REMOVED_ANSWERS)}")
        self.removed[article_id] = how
        if unlink:
            self.unlinked.add(article_id)

    def restore_article(self, article_id: int) -> None:
        """Put a taken-down article back, and its links."""
        self.removed.pop(article_id, None)
        self.unlinked.discard(article_id)

    def removed_page(self, article_id: int) -> Page | None:
        """The answer of a taken-down article's page, else None."""
        how = "404" if self.all_gone else self.removed.get(article_id)
        if how is None:
            return None
        if how == "home":
            return Page(301, location=LIVE + "/bnews/")
        return Page(int(how), "<html><body><h2>" + how + "</h2></body></html>")

    # --- sitemaps ------------------------------------------------------------------------
    def lastmod(self, article: Article) -> str:
        """When *article* last changed (:meth:`modified`, as its Last-Modified says), in ISO 8601.

        >>> site = DemoSite(extra_articles=0); site.lastmod(site.articles[2054421])
        '2024-06-26T10:00:00+00:00'
        """
        return datetime.fromtimestamp(self.modified(article), timezone.utc).isoformat(timespec="seconds")

    def _published(self) -> list[Article]:
        """The articles the sitemaps list, newest first: not those taken down (WordPress drops a deleted
        post from its sitemaps)."""
        return [a for a in self.newest_first if a.article_id not in self.removed]

    def _post_sitemaps(self) -> list[list[Article]]:
        """The articles of each post sitemap, oldest first as Yoast orders them."""
        oldest_first = self._published()[::-1]
        return [oldest_first[i:i + SITEMAP_SIZE] for i in range(0, len(oldest_first), SITEMAP_SIZE)]

    def _urlset(self, articles: list[Article]) -> str:
        return _URLSET.format("".join(f"<url><loc>{LIVE}{a.path}</loc><lastmod>{self.lastmod(a)}</lastmod>"
                                      "</url>\n" for a in articles))

    def _index(self, entries: list[tuple[str, str]]) -> str:
        return _INDEX.format("".join(f"<sitemap><loc>{LIVE}{path}</loc><lastmod>{lastmod}</lastmod>"
                                     "</sitemap>\n" for path, lastmod in entries))

    def sitemap(self, path: str) -> Page | None:
        """The sitemap at *path* in the site's :attr:`sitemap_mode` (None: no sitemap there)."""
        mode = self.sitemap_mode
        groups = self._post_sitemaps()
        newest = max((self.lastmod(a) for a in self.articles.values()), default="")
        xml = "text/xml; charset=UTF-8"
        if mode in ("yoast", "partial"):
            if path == "/sitemap_index.xml":
                names = [f"/post-sitemap{n}.xml" + (".gz" if n == len(groups) else "")
                         for n in range(1, len(groups) + 1)]
                entries = [(name, max(self.lastmod(a) for a in group)) for name, group in zip(names, groups,
                                                                                               strict=True)]
                entries += [("/page-sitemap.xml", newest), ("/category-sitemap.xml", newest),
                            ("/news-sitemap.xml", newest)]
                return Page(body=self._index(entries), content_type=xml)
            if match := re.fullmatch(r"/post-sitemap(\d+)\.xml(\.gz)?", path):
                n = int(match[1])
                if not 1 <= n <= len(groups) or bool(match[2]) != (n == len(groups)):
                    return None
                group = groups[n - 1]
                if mode == "partial" and n == 1:
                    group = group[::3]
                return Page(body=self._urlset(group), content_type="application/x-gzip" if match[2] else xml,
                            gzip=bool(match[2]))
            if path == "/news-sitemap.xml":  # Google News: the newest articles, no lastmod
                news = "".join(
                    f"<url><loc>{LIVE}{a.path}</loc><news:news><news:publication><news:name>禁闻网"
                    f"</news:name><news:language>zh</news:language></news:publication><news:publication_date>"
                    f"{a.day[:4]}-{a.day[4:6]}-{a.day[6:]}</news:publication_date><news:title>"
                    f"{html.escape(a.title)}</news:title></news:news></url>\n" for a in self._published()[:5])
                return Page(body=_URLSET.format(news), content_type=xml)
            if path in ("/page-sitemap.xml", "/category-sitemap.xml"):
                return Page(body=_URLSET.format(f"<url><loc>{LIVE}/bnews/</loc></url>\n"), content_type=xml)
        if mode in ("yoast", "partial", "core"):
            if path == "/wp-sitemap.xml":
                return Page(body=self._index([("/wp-sitemap-posts-post-1.xml", newest),
                                              ("/wp-sitemap-taxonomies-category-1.xml", newest)]),
                            content_type=xml)
            if path == "/wp-sitemap-posts-post-1.xml":
                return Page(body=self._urlset(self._published()[::-1]), content_type=xml)
            if path == "/wp-sitemap-taxonomies-category-1.xml":
                return Page(body=_URLSET.format(f"<url><loc>{LIVE}/bnews/itnews/</loc></url>\n"),
                            content_type=xml)
        return None

    # --- feeds ---------------------------------------------------------------------------
    def set_feed_mode(self, mode: str) -> None:
        """Switch the feeds (:data:`FEED_MODES`): ``stale`` keeps what they list now."""
        if mode not in FEED_MODES:
            raise ValueError(f"mode: one of {', '.join(FEED_MODES)}")
        self.feed_mode = mode
        self._stale_feed = self._published() if mode == "stale" else []

    def feed(self, path: str, query: str = "") -> Page | None:
        """The RSS feed at *path* (None: no feed there): the site's newest posts, or a category's; with
        ``paged=N`` in *query*, the posts of page *N* (None past the last).

        >>> site = DemoSite(extra_articles=0); feed = site.feed("/bnews/feed/").body
        >>> feed.count("<item>"), f"<link>{LIVE}{SEED_ARTICLE_PATH}</link>" in feed
        (10, True)
        >>> site.feed("/bnews/itnews/feed/").body.count("<item>"), site.feed("/bnews/nothing/feed/")
        (4, None)
        >>> site.feed("/bnews/feed/", "paged=2").body.count("<item>"), site.feed("/bnews/feed/", "paged=9")
        (10, None)
        """
        if self.feed_mode == "off" or not (match := re.fullmatch(r"/bnews/(?:([a-z/-]+)/)?feed/", path)):
            return None
        category = match[1] or ""
        paged = re.search(r"(?:^|&)paged=(\d{1,6})(?:&|$)", query)
        page = int(paged[1]) if paged else 1
        posts = self._stale_feed if self.feed_mode == "stale" and not category else self._published()
        if self.feed_mode == "bumped" and not category:
            oldest = min((a for a in posts if a.category != "private"), key=lambda a: (a.day, a.article_id))
            posts = [oldest, *(a for a in posts if a is not oldest)]
        listed = [a for a in posts if not category or a.category == category
                  or a.category.startswith(category + "/")][(page - 1) * FEED_SIZE:page * FEED_SIZE]
        if not listed:
            return None
        items = "".join(
            f"<item>\n<title>{html.escape(a.title)}</title>\n<link>{LIVE}{a.path}</link>\n"
            f"<pubDate>{self._rfc822(a)}</pubDate>\n<dc:creator><![CDATA[演示作者]]></dc:creator>\n"
            f"<category><![CDATA[{CATEGORY_NAMES.get(a.category, a.category)}]]></category>\n"
            f'<guid isPermaLink="false">{LIVE}/?p={a.article_id}</guid>\n'
            f"<description>{html.escape(a.excerpt or SENTENCES[0])}</description>\n</item>\n" for a in listed)
        name = CATEGORY_NAMES.get(category, "") if category else ""
        body = _RSS.format(title=html.escape(f"禁闻网 » {name}" if name else "禁闻网"), self=f"{LIVE}{path}",
                           link=f"{LIVE}/bnews/{category + '/' if category else ''}",
                           built=self._rfc822(listed[0]) if listed else "", items=items)
        return Page(body=body, content_type="application/rss+xml; charset=UTF-8")

    def _rfc822(self, article: Article) -> str:
        """When *article* was published, as RSS writes it: 10:00 UTC of its day."""
        day = datetime.strptime(article.day, "%Y%m%d").replace(hour=10, tzinfo=timezone.utc)
        return format_datetime(day)

    # --- building ------------------------------------------------------------------------
    def _add_seed_articles(self) -> None:
        fragment = _seed("article-openai-china-api.html")
        self.seed_tag_page = _seed("tag-page-trade-war.html")
        related = [int(m) for m in re.findall(r"/(\d+)\.html'", fragment)]
        tags = re.findall(r'rel="tag"[^>]*>([^<]+)</a>', fragment)
        self.articles[2054421] = Article(2054421, "itnews", "20240626",
                                         "OpenAI将终止中国服务 陆新创公司恐将迎来灭顶之灾", "",
                                         tags, related, fragment)
        # Every article the real article links to (related and promoted) exists here too.
        for url, text in re.findall(r"<a href=['\"](https://www\.bannedbook\.org/bnews/[^'\"]+\.html)['\"]"
                                    r"[^>]*>(.*?)</a>", fragment):
            self._add_from_url(url, re.sub("<[^>]+>", "", text), "", ["OpenAI", "人工智能"])
        for block in self.seed_tag_page.split('<div class="postlist">')[1:]:
            url = _group(r'<h4><a href="([^"]+)"', block)
            title = html.unescape(_group(r'target="_blank">([^<]+)</a><span>', block))
            excerpt = html.unescape(_group(r'<div class="postcontent">(.*?) \[', block))
            self._add_from_url(url, title, excerpt, [SEED_TAG])

    def _add_from_url(self, url: str, title: str, excerpt: str, tags: list[str]) -> None:
        category, day, article_id = site.ARTICLE_PATH.match(urlsplit(url).path).group(  # type: ignore[union-attr]
            "category", "date", "id")
        extra = self.random.sample([t for t in TAG_POOL if t not in tags], 2)
        self.articles[int(article_id)] = Article(int(article_id), category, day, title.strip(),
                                                 excerpt.replace("\xa0", " "), tags + extra)

    def _add_generated(self, count: int) -> None:
        categories = ["itnews", "cnnews", "renquan/minyun", "worldnews/usa", "comments", "finance"]
        for n in range(count):
            article_id = 2060000 + n * 37
            # one a day in July 2024, then four a day (the benchmarks' larger sites)
            day = (date(2024, 7, 1) + timedelta(days=n if n < 31 else 31 + (n - 31) // 4)).strftime("%Y%m%d")
            tags = self.random.sample(TAG_POOL, 3)
            title = f"演示文章第{n + 1}篇：{tags[0]}与{tags[1]}"
            self.articles[article_id] = Article(article_id, categories[n % len(categories)], day,
                                                title, SENTENCES[n % len(SENTENCES)], tags)
        # One article only reachable through a robots-disallowed path.
        self.articles[1000001] = Article(1000001, "private", "20240101", "不应被抓取的页面",
                                         "robots.txt 禁止抓取此路径。", ["中国"])
        ids = sorted(a for a in self.articles if a != 1000001)
        for article in self.articles.values():
            if not article.related:
                article.related = self.random.sample([i for i in ids if i != article.article_id], 4)

    # --- serving -------------------------------------------------------------------------
    def get(self, path: str, query: str = "") -> Page:
        """The page at *path* (percent-encoding in any case) with *query*."""
        if path == "/robots.txt":
            named = f"Sitemap: {LIVE}/sitemap_index.xml\n" if self.sitemap_mode in ("yoast", "partial") else ""
            return Page(body=ROBOTS_TXT + named, content_type="text/plain; charset=UTF-8")
        if path.endswith((".xml", ".xml.gz")) and (sitemap := self.sitemap(path)) is not None:
            return sitemap
        if path.endswith("/feed/"):
            return self.feed(path, query) or Page(404, "<html><body><h2>404</h2></body></html>")
        if path == STYLESHEET_PATH:
            return Page(body=STYLESHEET, content_type="text/css; charset=UTF-8")
        if match := re.fullmatch(r"/wp-content/uploads/demo/(\d+)\.svg", path):
            return Page(body=IMAGE_SVG.format(n=match[1]), content_type="image/svg+xml")
        if path in ("", "/") and (match := re.fullmatch(r"p=(\d+)(?:&.*)?", query)):
            article = self.articles.get(int(match[1]))
            return Page(301, location=LIVE + article.path) if article else Page(404, "not found")
        mirror = path.startswith(site.MIRROR_PREFIX)
        if mirror:
            path = site.simplified_url(path)
        if match := site.ARTICLE_PATH.match(path):
            article = self.articles.get(int(match["id"]))
            if article is None or article.path != path:
                return Page(404, "<html><body><h2>404</h2></body></html>")
            if (gone := self.removed_page(article.article_id)) is not None:
                return gone
            return Page(body=self.article_page(article, mirror), modified=self.modified(article))
        decoded = unquote(path)
        if match := site.TAG_PATH.match(decoded):
            tag, page = match["slug"], int(match["page"] or 1)
            if tag == SEED_TAG and page == 1 and not mirror:
                return Page(body=self.seed_tag_page)
            items = [a for a in self.newest_first if (tag in a.tags or tag.lower() in map(str.lower, a.tags))
                     and a.article_id not in self.unlinked]
            return self.listing(f"{tag} - 中国禁闻网", f"【{tag}】标签文章列表", tag_path(tag), items, page)
        if (match := site.LISTING_PATH.match(path)) and not mirror:
            category, page = match["category"] or "", int(match["page"] or 1)
            items = [a for a in self.newest_first if a.article_id not in self.unlinked
                     and (category in ("", a.category) or a.category.startswith(category + "/"))]
            if category == "" or items or page == 1:
                name = CATEGORY_NAMES.get(category, "禁闻网")
                return self.listing(f"{name} - 中国禁闻网", name,
                                    f"/bnews/{category}/" if category else "/bnews/", items, page)
        return Page(404, "<html><body><h2>404</h2></body></html>")

    def listing(self, title: str, heading: str, base: str, items: list[Article], page: int) -> Page:
        """A listing page in the markup of the real tag page."""
        if page > markup.listing_pages(items, PER_PAGE):
            return Page(404, "<html><body><h2>404</h2></body></html>")
        return Page(body=markup.listing(title, heading, base, items, page, PER_PAGE, self.header(),
                                        self.sidebar()))

    def header(self) -> str:
        """Site header: language switch, menu of categories and tags, search form."""
        menu = "".join(f'<li><a href="/bnews/{c}/">{n}</a></li>' for c, n in CATEGORY_NAMES.items()
                       if c != "private")
        return f"""<div id="mininav"><a href="{LIVE}/bnews/zh-tw/">正体</a>
<a href="mailto:editor@bannedbook.invalid">联系我们</a> <a href="javascript:void(0)">收藏</a></div>
<div id="header"><span id="sitename1"><a href="/">中国禁闻网</a></span>
<form action="{LIVE}/sitesearch.php"><input type="text" name="q" /></form>
<a href="{LIVE}/bnews/?s=%E4%B8%AD%E5%9B%BD">搜索中国</a> <a href="/forum2/topic6190.html">论坛</a>
<a href="{LIVE}/bnews/feed/">RSS</a></div>
<div id="menu_container"><ul id="menu-main_menu" class="menu"><li><a href="/bnews/">首页</a></li>
{menu}<li><a href="{tag_path('香港', lower=True)}">香港</a></li>
<li><a href="https://shenyun.bannedbook.org/">神韵演出</a></li></ul></div>"""

    def sidebar(self) -> str:
        """Sidebar: 热门文章 with tracking parameters, a tag cloud, a disallowed and an off-site link."""
        hot = self.newest_first[:6]
        hot_links = "".join(
            f'<li><a href="{LIVE}{a.path}?utm_source=sidebar&amp;utm_medium=hot">{html.escape(a.title)}</a></li>'
            for a in hot
        )
        cloud = "".join(f'<a href="{LIVE}{tag_path(t, lower=True)}" rel="tag">{t}</a> ' for t in TAG_POOL)
        private = self.articles[1000001]
        return f"""<div id="right"><h3>热门文章</h3><ul class="hot">{hot_links}</ul>
<div class="tagcloud">{cloud}</div>
<a href="{LIVE}{private.path}">{private.title}</a>
<a href="{OTHER_HOST}{self.newest_first[1].path}">别处的同一篇文章</a></div>"""

    def article_page(self, article: Article, mirror: bool = False) -> str:
        """A full WordPress page around the article part (real or generated)."""
        fragment = article.fragment or self.article_fragment(article)
        title = article.title + ("（正體）" if mirror else "")
        meta_time = ""
        if article.fragment is None and article.article_id % 3 == 0:
            meta_time = (f'<meta property="article:published_time" content="{article.day[:4]}-'
                         f'{article.day[4:6]}-{article.day[6:]}T09:{article.article_id % 60:02d}:00+08:00" />\n')
        url = LIVE + ("/bnews/zh-tw" + article.path[6:] if mirror else article.path)
        head = f"""<link rel="stylesheet" id="theme-css" href="{LIVE}{STYLESHEET_PATH}?ver=1.0" type="text/css" media="all" />
<link rel="shortlink" href="{LIVE}/?p={article.article_id}" />
<meta property="og:type" content="article" />
<meta property="og:title" content="{html.escape(title)} - 禁闻网" />
<meta property="og:url" content="{url}" />
{meta_time}<link rel="alternate" hreflang="zh-Hant" href="{LIVE}/bnews/zh-tw{article.path[6:]}" />
"""
        breadcrumb = (f'<div class="breadcrumb"><a href="{LIVE}/" class="home">禁闻网</a> &gt; '
                      f'<a href="{LIVE}/bnews/{article.category}/">'
                      f"{CATEGORY_NAMES.get(article.category, article.category)}</a></div>\n")
        return markup.page(f"{title} - 禁闻网", url, self.header(), fragment, self.sidebar(), head, breadcrumb)

    def article_fragment(self, article: Article) -> str:
        """The article part of a generated article, in the markup of the real one."""
        n = article.article_id
        rnd = random.Random(n)
        tag_links = [markup.tag_link(t, lower=bool(i % 2)) for i, t in enumerate(article.tags)]
        paragraphs = [article.excerpt or SENTENCES[0]]
        paragraphs += [f"{rnd.choice(SENTENCES)}本段提到{tag}。" for tag in tag_links]
        paragraphs.append(
            f'<span class=\'wp_keywordlink_affiliate\'><a href="{LIVE}/" title="大陆">大陆</a></span>'
            f"读者可以在<b>文末</b>找到相关阅读。"
        )
        credit = ""  # each form of credit line the site writes
        if (form := {0: 0, 4: 1, 1: 2, 5: 3}.get(n % 8)) is not None:
            credit = markup.credit_line(form, f"演示作者{n % 7}", "美国之音" if form == 2 else "演示来源",
                                        "演示公众号")
        summary = f'<p id="summary">{html.escape(article.excerpt)}</p>' if n % 2 else ""
        conimg = ""
        if n % 3:  # an image, and its credit line right after it, as the site writes them
            conimg = (f'<p><img src="{LIVE}{image_path(n)}" alt="演示图片{n}" width="600" height="400"></p>'
                      '<p id="conimg">图/演示图片社</p>')
        editor = ""
        if n % 10 == 0:  # the 2025 ending: the share block, then the editor (after an image, if any)
            picture = f'<p><img src="{LIVE}{image_path(n)}" alt="" width="300" height="300"></p>' if n % 3 else ""
            editor = picture + markup.editor_line(f"编辑{n % 5}", share=True)
        elif n % 5 == 0:
            editor = markup.editor_line(f"编辑{n % 5}")
        postmeat = ""
        if n % 3 == 1:
            postmeat = f'<div class="postmeat">{article.date_cn} 10:{n % 60:02d} | 分类：演示</div>'
        related = "".join(
            f"<li><a href='{self.related_href(article, other, i)}' target='_blank'>"
            f"{html.escape(self.articles[other].title)}</a></li>"
            for i, other in enumerate(article.related) if other in self.articles and other not in self.unlinked
        )
        if self.edits.get(n):
            paragraphs.append(f"（本文已于发表后第{self.edits[n]}次更正。）")
        body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
        return markup.article_part(
            article.title, "大陆网友注意：此为演示站点页面。", summary + conimg + credit, body,
            f"<p>&nbsp;</p>{editor}", related, "演示来源", postmeat,
            promoted=f'<li><a href="{LIVE}/?p={self.newest_first_ids()[0]}">推荐文章</a></li>',
            after='<div id="archive-pix-1" class="banner-ads"><div id="ad"></div></div>\n')

    def related_href(self, article: Article, other_id: int, i: int) -> str:
        """A related link in one of the spellings the site uses, chosen by position."""
        other = self.articles[other_id]
        forms = [
            f"{LIVE}{other.path}",
            f"{LIVE}{other.path}?utm_source=related&amp;utm_campaign=demo",
            f"{LIVE}{other.path}#comments",
            f"{LIVE}/?p={other.article_id}",
            f"../../{other.path.split('/', 2)[2]}" if article.category.count("/") == 0 else other.path,
            f"{LIVE}/bnews/zh-tw{other.path[6:]}",
        ]
        return forms[(article.article_id + i) % len(forms)]

    def newest_first_ids(self) -> list[int]:
        return [a.article_id for a in self.newest_first]

    def public_articles(self) -> list[Article]:
        """Articles a polite crawl should store (all but the robots-disallowed one)."""
        return [a for a in self.articles.values() if a.category != "private"]
