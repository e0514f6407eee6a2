"""The site's markup, written once: the page frame, listings, the article part, credit lines.

Both synthetic copies of bannedbook.org render their pages here: the demo
site (:mod:`newsspider.demo.pages`, small, every kind of link a crawl meets)
and the benchmark site (``benchmarks/site.py``, large, written to disk).  The
markup is the real site's, as the two seed pages show it; what each copy puts
in it is its own.  Everything here is a pure function of its arguments.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

LIVE = "https://www.bannedbook.org"
CATEGORY_NAMES = {
    "itnews": "科技新闻", "cnnews": "中国新闻", "cbnews": "中国禁闻", "headline": "中国要闻",
    "comments": "新闻评论", "baitai": "社会百态", "bannedvideo": "禁播视频", "ssgc": "时事观察",
    "topimagenews": "图片新闻", "finance": "财经新闻", "renquan/minyun": "民主运动",
    "worldnews/usa": "美国新闻", "private": "内部",
}


@dataclass
class Article:
    """One article of a synthetic site."""

    article_id: int
    category: str
    day: str  # YYYYMMDD
    title: str
    excerpt: str
    tags: list[str]
    related: list[int] = field(default_factory=list)
    fragment: str | None = None  # the real seed article's markup
    paragraphs: int = 0  # long generated paragraphs of body text (the benchmark site's)

    @property
    def path(self) -> str:
        return f"/bnews/{self.category}/{self.day}/{self.article_id}.html"

    @property
    def date_cn(self) -> str:
        return f"{self.day[:4]}年{self.day[4:6]}月{self.day[6:]}日"


def tag_path(tag: str, page: int = 1, lower: bool = False) -> str:
    """Path of a tag listing; *lower* spells the percent-encoding in lower case as the site does.

    >>> tag_path("贸易战", 2)
    '/bnews/tag/%E8%B4%B8%E6%98%93%E6%88%98/page/2/'
    >>> tag_path("中国", lower=True), tag_path("AI")
    ('/bnews/tag/%e4%b8%ad%e5%9b%bd/', '/bnews/tag/ai/')
    """
    slug = quote(tag.lower() if tag.isascii() else tag, safe="")
    if lower:
        slug = re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), slug)
    return f"/bnews/tag/{slug}/" + (f"page/{page}/" if page > 1 else "")


#: the feeds WordPress names in every page's <head>: all posts, and the comments
FEED_HEAD = (f'<link rel="alternate" type="application/rss+xml" title="禁闻网 &raquo; Feed" '
             f'href="{LIVE}/bnews/feed/" />\n'
             f'<link rel="alternate" type="application/rss+xml" title="禁闻网 &raquo; 评论Feed" '
             f'href="{LIVE}/bnews/comments/feed/" />\n')


def page(title: str, canonical: str, header: str, content: str, sidebar: str, head: str = "",
         breadcrumb: str = "") -> str:
    """A whole page in the site's WordPress frame: *head* after the canonical link and the feeds,
    *breadcrumb* between the header and the page."""
    return f"""<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" dir="ltr" lang="zh-CN">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<title>{html.escape(title)}</title>
<link rel="canonical" href="{canonical}" />
{FEED_HEAD}{head}</head>
<body>
{header}
{breadcrumb}<div id="page" class="clearfloat">
<div id="center">
<div class="col">
{content}
</div>
</div>
{sidebar}
</div>
</body>
</html>
"""


def listing_pages(items: Sequence[Article], per_page: int) -> int:
    """How many pages a listing of *items* has (one, when it is empty).

    >>> listing_pages([], 10)
    1
    """
    return max(1, -(-len(items) // per_page))


def listing(title: str, heading: str, base: str, items: Sequence[Article], number: int, per_page: int,
            header: str, sidebar: str, root: str = LIVE, names: Mapping[str, str] = CATEGORY_NAMES,
            pictures: bool = False, breadcrumb: str = "") -> str:
    """Page *number* of the listing at *base* (a path ending in ``/``): its items, newest first, with
    下一页 and ``rel=next`` when a page follows; with *pictures*, each item's picture linked to it as
    on the real tag page, and *breadcrumb* above the page."""
    pages = listing_pages(items, per_page)
    chunk = items[(number - 1) * per_page: number * per_page]
    quoted = quote(base, safe="/%")
    url = root + quoted + (f"page/{number}/" if number > 1 else "")
    next_url = root + quoted + f"page/{number + 1}/" if number < pages else None
    posts = "\n".join(
        f'<div class="postlist">\n<h4><a href="{root}{a.path}" target="_blank">{html.escape(a.title)}</a>'
        f'<span><a href="{root}{a.path}" target="_blank" rel="nofollow">阅读全文&raquo;</a></span></h4>\n'
        + (f'<a href="{root}{a.path}" target="_blank">\n<img src="{root}/bnews/images/{a.article_id}.jpg" '
           f'alt="{html.escape(a.title)}">\n</a>\n' if pictures else "")
        + f'<div class="postcontent">{html.escape(a.excerpt)} [&hellip;]</div>'
        f'<div class="postmeat al">日期：{a.date_cn} | 分类：<a href="{root}/bnews/{a.category}/" '
        f'rel="category tag">{names.get(a.category, a.category)}</a></div>\n</div>'
        for a in chunk
    )
    pagenavi = (f'<p><div class="wp-pagenavi" style="text-align:center">\n<a href="{next_url}">'
                f"<b>下一页</b></a></div></p>" if next_url else "")
    head = (f'<link rel="next" href="{next_url}" />\n' if next_url else "") + \
        f'<meta property="og:title" content="{html.escape(title)}" />\n'
    content = f'<h2 class="pagetitle">{html.escape(heading)}</h2>\n{posts}\n{pagenavi}'
    return page(title, url, header, content, sidebar, head, breadcrumb)


def tag_link(tag: str, root: str = LIVE, lower: bool = False) -> str:
    """A tag as the article text links it."""
    return (f'<a href="{root}{tag_path(tag, lower=lower)}" class="st_tag internal_tag" rel="tag" '
            f'title="标签 {tag} 下的日志">{tag}</a>')


def credit_line(form: int, author: str, source: str, account: str) -> str:
    """The credit line in each form the site writes (``newsspider.extract.site`` reads them all):
    0 author and source, 1 the same without a separator, 2 a source alone, 3 a WeChat reprint."""
    return [f"<p>作者：{author}，来源：{source}，文章内容并不代表本网立场和观点。</p>",
            f"<p>作者：{author}来源：{source}，文章内容并不代表本网立场和观点。</p>",
            f"<p>来源：{source}, 文章内容并不代表本网立场。</p>",
            f"<p>Original {account} 时评 ，文章内容不知真假，请读者自行判断。</p>"][form]


def editor_line(editor: str, share: bool = False) -> str:
    """The page's last line naming the editor; *share*: the 2025 ending, after the share block."""
    return f"<p>{'站长动态，转发分享↓Follow Us ' if share else ''}责任编辑：{editor}</p>"


def article_part(title: str, notice: str, lead: str, body: str, ending: str, related: str, source: str,
                 postmeat: str = "", promoted: str = "", after: str = "") -> str:
    """The article part of an article page, in the markup of the real one: the title, the notice,
    *lead* (summary, picture and credit line) and the *body* paragraphs, then *ending* (the editor),
    the related list, the promoted links, the source line and *after* (an ad block)."""
    return f""" <!-- 面包屑导航 --> <h2>{html.escape(title)}</h2>
<p class="notice"><b>{notice}</b></p>
{postmeat}<div class="entry">
{lead}
{body}
{ending}
<ul class='op-related-articles' title='相关阅读'>{related}</ul>
<ul class="texttj"><li><a href="https://github.com/bannedbook/fanqiang" target="_blank">翻墙软件</a></li>
{promoted}</ul>
<p class="src-info">来源：{source} </p>
{after}</div><!--END ENTRY-->"""
