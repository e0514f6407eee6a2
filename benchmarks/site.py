"""A large local copy of the site in its real markup, written to disk as static files.

Every page carries the real site's header and menu (taken from the real tag
page: some 70 links) and a sidebar; articles are 20-60 KB with 3-6 tags,
5 related links and the real article's structure (notice, summary, image
credit, credit line, source line, promotional list); listings (front page,
categories, tags) have 20 items a page and 下一页 / ``rel=next`` pagination.
``add_articles`` publishes new articles on top of the listings, as the live
site does between two crawls.
"""

from __future__ import annotations

import html
import json
import random
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from urllib.parse import quote, unquote

LIVE = "https://www.bannedbook.org"
PER_PAGE = 20
CATEGORIES = ["cbnews", "cnnews", "headline", "ssgc", "comments", "baitai", "worldnews/usa", "finance",
              "itnews", "topimagenews", "renquan/minyun", "bannedvideo"]
TAGS = ["中国", "美国", "贸易战", "人工智能", "香港", "人权", "经济", "网络安全", "台湾", "民主", "习近平", "疫情",
        "新疆", "西藏", "法轮功", "六四", "言论自由", "审查", "翻墙", "OpenAI", "华为", "芯片", "俄罗斯", "乌克兰",
        "日本", "欧洲", "移民", "房地产", "股市", "失业", "腐败", "军队", "外交", "选举", "教育", "宗教", "环境",
        "科技", "媒体", "法治"]
SENTENCE = ("这是newsspider基准测试站点按禁闻网真实页面结构生成的段落，用来衡量抓取、抽取、去重和存储的速度，"
            "内容并非真实新闻。")
# The credit lines and page endings the site writes (newsspider.extract.site), in turn.
CREDITS = ("<p>作者：基准作者，来源：基准来源，文章内容并不代表本网立场和观点。</p>",
           "<p>作者：基准作者来源：基准来源，文章内容并不代表本网立场和观点。</p>",
           "<p>Original 基准公众号 时评 ，文章内容不知真假，请读者自行判断。</p>")
ENDINGS = ("", "<p>责任编辑：基准编辑</p>", "<p>站长动态，转发分享↓Follow Us 责任编辑：基准编辑</p>")


@dataclass
class Article:
    article_id: int
    category: str
    day: str
    tags: list[str]
    related: list[int]
    paragraphs: int

    @property
    def path(self) -> str:
        return f"/bnews/{self.category}/{self.day}/{self.article_id}.html"


def _real_header() -> str:
    """The real tag page's header and menu: everything between <body> and the breadcrumb."""
    page = resources.files("newsspider.demo").joinpath("tag-page-trade-war.html").read_text("utf-8")
    return page[page.index("<body>") + len("<body>"): page.index('<div class="breadcrumb">')]


def tag_path(tag: str, lower: bool = False) -> str:
    """A tag listing's path, percent-encoded (in lower case too, as the site does).

    >>> tag_path("中国"), tag_path("中国", lower=True)
    ('/bnews/tag/%E4%B8%AD%E5%9B%BD/', '/bnews/tag/%e4%b8%ad%e5%9b%bd/')
    """
    slug = quote(tag, safe="")
    return f"/bnews/tag/{slug.lower() if lower else slug}/"


class BenchSite:
    """Writes the site under *root* with links to *base* (the server's address); its article
    list is kept in ``root/site.json``."""

    def __init__(self, root: Path, base: str) -> None:
        self.root = root
        self.base = base
        self.header = _real_header().replace(LIVE, base)
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
        return Article(article_id, rnd.choice(CATEGORIES), day, rnd.sample(TAGS, rnd.randint(3, 6)), [],
                       rnd.randint(*paragraphs))

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
    def page(self, title: str, canonical: str, content: str, head_extra: str = "") -> str:
        return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" dir="ltr" lang="zh-CN">
<head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<title>{html.escape(title)} - 禁闻网</title>
<link rel="canonical" href="{canonical}" />
<meta property="og:title" content="{html.escape(title)} - 禁闻网" />
{head_extra}</head>
<body>{self.header}
<div id="page" class="clearfloat"><div id="center"><div class="col">
{content}
</div></div>
<div id="right"><h3>热门文章</h3><ul>{self._hot()}</ul>
<div class="tagcloud">{"".join(f'<a href="{self.base}{tag_path(t, lower=True)}" rel="tag">{t}</a> ' for t in TAGS[:20])}</div>
</div></div></body></html>
"""

    def _hot(self) -> str:
        return "".join(f'<li><a href="{self.base}{a.path}?utm_source=hot">热门文章{a.article_id}</a></li>'
                       for a in self.articles[-8:])

    def article_page(self, article: Article) -> str:
        rnd = random.Random(article.article_id)
        body = []
        for i in range(article.paragraphs):
            tag = article.tags[i % len(article.tags)]
            link = (f'<a href="{self.base}{tag_path(tag, lower=bool(i % 2))}" class="st_tag internal_tag" rel="tag" '
                    f'title="标签 {tag} 下的日志">{tag}</a>') if i < len(article.tags) else tag
            body.append(f"<p>{SENTENCE * rnd.randint(3, 6)}本段提到{link}。"
                        f"<span class='wp_keywordlink_affiliate'><a href=\"{self.base}/\" title=\"大陆\">大陆</a></span>"
                        f"读者。</p>")
        related = "".join(
            f"<li><a href='{self.base}{self.articles[i].path}' target='_blank'>相关文章{self.articles[i].article_id}</a></li>"
            for i in article.related)
        title = f"基准测试文章{article.article_id}"
        day = article.day
        content = f""" <!-- 面包屑导航 --> <h2>{title}</h2> <p class="notice"><b>大陆网友注意：基准测试页面。</b></p>
<div class="entry"> <p id="summary">{SENTENCE}</p> <p id="conimg">图/基准测试</p>
{CREDITS[article.article_id % len(CREDITS)]}
{"".join(body)}{ENDINGS[article.article_id % len(ENDINGS)]}
<ul class='op-related-articles' title='相关阅读'>{related}</ul>
<ul class="texttj"><li><a href="https://github.com/bannedbook/fanqiang" target="_blank">翻墙软件</a></li></ul>
<p class="src-info">来源：基准来源 </p>
</div><!--END ENTRY-->"""
        meta = f'<meta property="article:published_time" content="{day[:4]}-{day[4:6]}-{day[6:]}T08:00:00+08:00" />\n'
        return self.page(title, self.base + article.path, content, meta)

    def _write_listing(self, base: str, name: str, items: list[Article]) -> None:
        pages = max(1, -(-len(items) // PER_PAGE))
        quoted = quote(base, safe="/")
        for page in range(1, pages + 1):
            chunk = items[(page - 1) * PER_PAGE: page * PER_PAGE]
            url = self.base + quoted + (f"page/{page}/" if page > 1 else "")
            next_url = self.base + quoted + f"page/{page + 1}/" if page < pages else None
            posts = "\n".join(
                f'<div class="postlist"><h4><a href="{self.base}{a.path}" target="_blank">基准测试文章{a.article_id}</a>'
                f'<span><a href="{self.base}{a.path}" target="_blank" rel="nofollow">阅读全文&raquo;</a></span></h4>'
                f'<div class="postcontent">{SENTENCE} [&hellip;]</div><div class="postmeat al">日期：'
                f'{a.day[:4]}年{a.day[4:6]}月{a.day[6:]}日 | 分类：<a href="{self.base}/bnews/{a.category}/" '
                f'rel="category tag">{a.category}</a></div></div>'
                for a in chunk)
            navi = (f'<p><div class="wp-pagenavi" style="text-align:center"><a href="{next_url}"><b>下一页</b></a>'
                    f"</div></p>") if next_url else ""
            head = f'<link rel="next" href="{next_url}" />\n' if next_url else ""
            self._write(base + (f"page/{page}/" if page > 1 else ""),
                        self.page(name, url, f'<h2 class="pagetitle">{name}</h2>{posts}{navi}', head))
