"""A large local copy of the site in its real markup, written to disk as static files.

The pages are rendered by the demo site's markup (:mod:`newsspider.demo.markup`);
what differs is the content: many articles, long ones, and only the links a
static server can answer (no shortlink redirects).

Every page carries the real site's header and menu (taken from the real tag
page: 73 links); articles are 20-60 KB with 3-6 tags, 5 related links and the
real article's structure (notice, summary, image credit, credit line, source
line, promotional list); listings (front page, categories, tags) have 20 items
a page and 下一页 / ``rel=next`` pagination.  ``add_articles`` publishes new
articles on top of the listings, as the live site does between two crawls.

Two shapes (*shape*): ``"site"`` (the default) has the link count and chrome of
the two real seed pages (``newsspider/demo/*.html``): the real sidebar (ads and
an iframe, no links), a breadcrumb, the notice's three links, the keyword
plugin's links in the first two paragraphs only, four promoted links, and each
listing item's picture linked as well as its title (about 95 links an article
page, 157-170 a listing page; the real article 97, the real tag page 179);
``"links"`` is the earlier shape (about 140 links an article page, 150 a
listing page: a sidebar of 8 hot articles and 20 tags on every page, a
keyword link in every paragraph).
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from urllib.parse import unquote

from newsspider.demo import markup
from newsspider.demo.markup import LIVE, Article, tag_path

PER_PAGE = 20
CATEGORIES = ["cbnews", "cnnews", "headline", "ssgc", "comments", "baitai", "worldnews/usa", "finance",
              "itnews", "topimagenews", "renquan/minyun", "bannedvideo"]
TAGS = ["中国", "美国", "贸易战", "人工智能", "香港", "人权", "经济", "网络安全", "台湾", "民主", "习近平", "疫情",
        "新疆", "西藏", "法轮功", "六四", "言论自由", "审查", "翻墙", "OpenAI", "华为", "芯片", "俄罗斯", "乌克兰",
        "日本", "欧洲", "移民", "房地产", "股市", "失业", "腐败", "军队", "外交", "选举", "教育", "宗教", "环境",
        "科技", "媒体", "法治"]
SHAPES = ("site", "links")
NOTICE_LINKS = ('大陆网友注意：本文中的链接除 <a href="https://github.com/bannedbook/fanqiang" >翻墙</a>软件下载和'
                '<a href="https://github.com/killgcd/justmysocks/blob/master/README.md">翻墙推荐</a>链接外全部为'
                '禁网链接。请下载<a href="https://github.com/bannedbook/fanqiang">翻墙软件或APP</a>。')
SENTENCE = ("这是newsspider基准测试站点按禁闻网真实页面结构生成的段落，用来衡量抓取、抽取、去重和存储的速度，"
            "内容并非真实新闻。")


def _real_header() -> str:
    """The real tag page's header and menu: everything between <body> and the breadcrumb."""
    page = resources.files("newsspider.demo").joinpath("tag-page-trade-war.html").read_text("utf-8")
    return page[page.index("<body>") + len("<body>"): page.index('<div class="breadcrumb">')]


def _real_sidebar() -> str:
    """The real tag page's sidebar (ads and an iframe: no links)."""
    page = resources.files("newsspider.demo").joinpath("tag-page-trade-war.html").read_text("utf-8")
    end = '<div id="left6"></div></div>'
    return page[page.index('<div id="right">'): page.index(end) + len(end)]


class BenchSite:
    """Writes the site under *root* with links to *base* (the server's address); its article
    list is kept in ``root/site.json``."""

    def __init__(self, root: Path, base: str, shape: str = "site") -> None:
        if shape not in SHAPES:
            raise ValueError(f"shape {shape!r}: not one of {', '.join(SHAPES)}")
        self.root = root
        self.base = base
        self.shape = shape
        self.header = _real_header().replace(LIVE, base)
        self.real_sidebar = _real_sidebar().replace(LIVE, base)
        self.articles: list[Article] = []

    # --- building --------------------------------------------------------------------------
    def generate(self, count: int, seed: int = 1, orphans: float = 0.0,
                 paragraphs: tuple[int, int] = (12, 45)) -> None:
        """*count* articles over 2010-2023, newest last; a share *orphans* of the older half is linked
        to by no related list (only the listings lead to them)."""
        rnd = random.Random(seed)
        self.articles = [self._new_article(rnd, 3_000_000 + n * 7, n, count, paragraphs) for n in range(count)]
        unlinked = set(rnd.sample(range(count // 2), int(count * orphans)))
        linked = [n for n in range(count) if n not in unlinked]
        for article in self.articles:
            article.related = rnd.sample(linked, 5)
        self._write_all(self.articles)
        (self.root / "robots.txt").write_text("User-agent: *\nDisallow: /bnews/private/\n")

    def _new_article(self, rnd: random.Random, article_id: int, n: int, total: int,
                     paragraphs: tuple[int, int] = (12, 45)) -> Article:
        day = (date(2010, 1, 1) + timedelta(days=n * 5000 // max(total, 1))).strftime("%Y%m%d")
        return Article(article_id, rnd.choice(CATEGORIES), day, f"基准测试文章{article_id}", SENTENCE,
                       rnd.sample(TAGS, rnd.randint(3, 6)), paragraphs=rnd.randint(*paragraphs))

    def add_articles(self, count: int, seed: int = 2) -> list[int]:
        """Publish *count* new articles (newest), rewriting the listings; return their ids."""
        self.load()
        rnd = random.Random(seed)
        start = max(a.article_id for a in self.articles) + 7
        new = [self._new_article(rnd, start + n * 7, len(self.articles) + n, len(self.articles) + count)
               for n in range(count)]
        for article in new:
            article.day = "20300101"
            article.related = rnd.sample(range(len(self.articles)), 5)
        self.articles.extend(new)
        for article in new:
            self._write(article.path, self.article_page(article))
        self._write_listings()
        return [a.article_id for a in new]

    def load(self) -> None:
        if not self.articles:
            self.articles = [Article(**a) for a in json.loads((self.root / "site.json").read_text())]

    def _write_all(self, articles: list[Article]) -> None:
        for article in articles:
            self._write(article.path, self.article_page(article))
        self._write_listings()

    def _write_listings(self) -> None:
        newest = sorted(self.articles, key=lambda a: (a.day, a.article_id), reverse=True)
        self._write_listing("/bnews/", "禁闻网", newest)
        for category in CATEGORIES:
            self._write_listing(f"/bnews/{category}/", category, [a for a in newest if a.category == category])
        for tag in TAGS:
            self._write_listing(unquote(tag_path(tag)), tag, [a for a in newest if tag in a.tags])
        (self.root / "site.json").write_text(json.dumps([asdict(a) for a in self.articles]))

    def _write(self, path: str, page: str) -> None:
        target = self.root / unquote(path).lstrip("/")
        if path.endswith("/"):
            target = target / "index.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, "utf-8")

    # --- pages -----------------------------------------------------------------------------
    def sidebar(self) -> str:
        if self.shape == "site":
            return self.real_sidebar
        hot = "".join(f'<li><a href="{self.base}{a.path}?utm_source=hot">热门文章{a.article_id}</a></li>'
                      for a in self.articles[-8:])
        cloud = "".join(f'<a href="{self.base}{tag_path(t, lower=True)}" rel="tag">{t}</a> ' for t in TAGS[:20])
        return f'<div id="right"><h3>热门文章</h3><ul>{hot}</ul>\n<div class="tagcloud">{cloud}</div>\n</div>'

    def article_page(self, article: Article) -> str:
        rnd = random.Random(article.article_id)
        body = []
        for i in range(article.paragraphs):
            tag = article.tags[i % len(article.tags)]
            link = markup.tag_link(tag, self.base, lower=bool(i % 2)) if i < len(article.tags) else tag
            keyword = (f"<span class='wp_keywordlink_affiliate'><a href=\"{self.base}/\" title=\"大陆\">大陆</a>"
                       f"</span>" if self.shape == "links" or i < 2 else "大陆")  # the plugin links a few
            body.append(f"<p>{SENTENCE * rnd.randint(3, 6)}本段提到{link}。{keyword}读者。</p>")
        related = "".join(
            f"<li><a href='{self.base}{self.articles[i].path}' target='_blank'>相关文章{self.articles[i].article_id}"
            f"</a></li>" for i in article.related)
        n = article.article_id
        credit = markup.credit_line((0, 1, 3)[n % 3], "基准作者", "基准来源", "基准公众号")
        ending = ("", markup.editor_line("基准编辑"), markup.editor_line("基准编辑", share=True))[n % 3]
        lead = f'<p id="summary">{SENTENCE}</p> <p id="conimg">图/基准测试</p>\n{credit}'
        site_shaped = self.shape == "site"
        promoted = "".join(  # as the real page: two articles and two links to elsewhere
            f'<li>🔥<a href="{self.base}{a.path}" target="_blank">热门文章{a.article_id}</a></li>'
            for a in self.articles[-2:]) + (
            '<li>🔥<a href="https://github.com/bannedbook/fanqiang/wiki" target="_blank">翻墙</a></li>')
        content = markup.article_part(article.title, NOTICE_LINKS if site_shaped else "大陆网友注意：基准测试页面。",
                                      lead, "".join(body), ending, related, "基准来源",
                                      promoted=promoted if site_shaped else "")
        day, url = article.day, self.base + article.path
        head = (f'<meta property="og:title" content="{article.title} - 禁闻网" />\n'
                f'<meta property="article:published_time" content="{day[:4]}-{day[4:6]}-{day[6:]}T08:00:00+08:00" />\n')
        breadcrumb = (f'<div class="breadcrumb"><a href="{self.base}/" class="home">禁闻网</a> &gt; '
                      f'<a href="{self.base}/bnews/{article.category}/">{article.category}</a></div>\n'
                      if site_shaped else "")
        return markup.page(f"{article.title} - 禁闻网", url, self.header, content, self.sidebar(), head,
                           breadcrumb)

    def _write_listing(self, base: str, name: str, items: list[Article]) -> None:
        breadcrumb = (f'<div class="breadcrumb"><a href="{self.base}/" class="home">禁闻网</a> &gt; '
                      f'<span class="archive current-item">{name}</span></div>\n' if self.shape == "site" else "")
        for number in range(1, markup.listing_pages(items, PER_PAGE) + 1):
            self._write(base + (f"page/{number}/" if number > 1 else ""),
                        markup.listing(f"{name} - 禁闻网", name, base, items, number, PER_PAGE, self.header,
                                       self.sidebar(), root=self.base, pictures=self.shape == "site",
                                       breadcrumb=breadcrumb))
