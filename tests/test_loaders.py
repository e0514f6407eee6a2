"""Extraction on the two real pages of the site, with exact expected values."""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import asdict
from functools import cache

import opencc
import pytest
from lxml import etree
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from newsspider.crawl.pipelines import ValidatePipeline
from newsspider.extract import site
from newsspider.extract.items import Article
from newsspider.extract.loaders import Problems, load_article, page_selector, parse_listing
from tests.conftest import FIXTURES, seed_page

ARTICLE_URL = "https://www.bannedbook.org/bnews/itnews/20240626/2054421.html"
TAG_URL = "https://www.bannedbook.org/bnews/tag/%E8%B4%B8%E6%98%93%E6%88%98/"


def response(name: str, url: str) -> HtmlResponse:
    return HtmlResponse(url=url, body=seed_page(name), encoding="utf-8")


@pytest.fixture(scope="module")
def article() -> dict:
    return asdict(load_article(response("article-openai-china-api.html", ARTICLE_URL + "?utm_source=x#c")))


def test_seed_article_matches_expected_record(article: dict) -> None:
    expected = json.loads((FIXTURES / "article-openai-china-api.expected.json").read_text("utf-8"))
    assert {k: v for k, v in article.items() if k != "crawled_at"} == expected


def test_seed_article_fields(article: dict) -> None:
    assert article["article_id"] == "2054421"
    assert article["url"] == ARTICLE_URL
    assert article["category"] == "itnews"
    assert article["published_date"] == "2024-06-26"  # from the URL: the fragment has no date
    assert article["published_at"] is None
    assert article["title"] == "OpenAI将终止中国服务 陆新创公司恐将迎来灭顶之灾"
    assert article["summary"].startswith("市场从24日晚间传出，多位大陆用户收到来自OpenAI的邮件")
    assert article["summary"].endswith("对于高度依赖OpenAI的大陆创业公司，恐将迎来灭顶之灾。")
    assert article["tags"] == ["OpenAI", "中国", "美国", "人工智能", "美国陆军", "网络安全",
                               "网络司令部", "美国网络"]
    assert article["source"] == "中时"
    assert article["author"] is None
    assert article["editor"] is None
    assert article["image_credit"] == "图/路透社"
    assert article["related_urls"] == [
        "https://www.bannedbook.org/bnews/itnews/20240625/2054368.html",
        "https://www.bannedbook.org/bnews/cnnews/20240624/2053926.html",
        "https://www.bannedbook.org/bnews/itnews/20240623/2053491.html",
        "https://www.bannedbook.org/bnews/cnnews/20240621/2052794.html",
        "https://www.bannedbook.org/bnews/itnews/20240620/2052288.html",
    ]
    assert article["content_hash"].startswith("sha256:")
    assert article["crawled_at"].endswith("Z")


def test_seed_article_body(article: dict) -> None:
    paragraphs = article["body"].split("\n\n")
    assert len(paragraphs) == 8
    # The first body paragraph stays although it repeats the summary.
    assert paragraphs[0] == article["summary"]
    assert paragraphs[1] == (
        "证券时报报导，目前OpenAI的API向161个国家和地区开放，但中国未包含在其中。"
        "这也意味着，OpenAI宣布终止对中国提供API服务。"
    )
    assert paragraphs[-1] == (
        "业内人士分析，“一直以来，国内就有不少创业公司是通过接入OpenAI API的方式，"
        "简单套壳做大模型或者AI应用。"
        "这次就会受到直接的影响”。OpenAI终止对中国提供API服务，一方面将对希望借助OpenAI大模型套壳创业的公司带来"
        "毁灭式打击，一批没有核心技术与竞争实力的公司如果未能及时找到替代方案，就将会被市场淘汰；另一方面，"
        "这也将倒逼中国的大模型公司加速自主研发，并促使更多的创业公司选择国产大模型，规避日后可能的风险。"
    )
    # Inline links keep their text, with no space invented around them.
    assert "退役的美国陆军将军Paul M. Nakasone（中曾根）将加入公司董事会" in article["body"]


@pytest.mark.parametrize("text", ["大陆网友注意", "备注：翻墙看新闻", "图/路透社", "来源：中时", "中时",
                                  "法国犹太老板", "翻墙软件", "相关阅读", "Ilya", "AuctionX"])
def test_seed_article_body_excludes_non_body(article: dict, text: str) -> None:
    assert text not in article["body"]


def test_real_tag_page_links_and_next_page() -> None:
    listing = parse_listing(response("tag-page-trade-war.html", TAG_URL))
    assert len(listing.article_urls) == 22
    assert listing.article_urls[0] == "https://www.bannedbook.org/bnews/cbnews/20200107/1254645.html"
    assert listing.article_urls[-1] == "https://www.bannedbook.org/bnews/comments/20200101/1251440.html"
    assert listing.next_url == TAG_URL + "page/2/"


def test_tag_page_next_page_from_pagination_links_without_rel_next() -> None:
    html = seed_page("tag-page-trade-war.html").decode("utf-8")
    html = html.replace('<link rel="next"', '<link rel="prev-removed"')
    listing = parse_listing(HtmlResponse(url=TAG_URL, body=html.encode(), encoding="utf-8"))
    assert listing.next_url == TAG_URL + "page/2/"


def test_article_full_page_title_fallbacks_and_dates() -> None:
    page = """<html><head><title>只有标题 - 禁闻网</title>
    <meta property="article:published_time" content="2024-06-26T08:12:30+08:00" /></head>
    <body><div class="entry"><p>作者：甲，来源：乙，文章内容并不代表本网立场和观点。</p>
    <p>第一段<br>第二行</p><p>&nbsp;</p><p>（责任编辑：丙）</p></div></body></html>"""
    record = load_article(HtmlResponse(url="http://127.0.0.1/bnews/renquan/minyun/20240101/7.html",
                                       body=page.encode(), encoding="utf-8"))
    assert record.title == "只有标题"
    assert (record.published_date, record.published_at) == ("2024-06-26", "2024-06-26T08:12:30+08:00")
    assert (record.author, record.source, record.editor) == ("甲", "乙", "丙")
    assert record.body == "第一段\n第二行"
    assert record.category == "renquan/minyun"


def test_postmeat_date_when_no_meta_tag() -> None:
    page = """<html><body><h2>标题</h2><div class="postmeat">2019年05月03日 08:15 | 分类：<a>中国</a></div>
    <div class="entry"><p>正文</p></div></body></html>"""
    record = load_article(HtmlResponse(url="http://127.0.0.1/bnews/cnnews/20190504/8.html",
                                       body=page.encode(), encoding="utf-8"))
    assert (record.published_date, record.published_at) == ("2019-05-03", "2019-05-03T08:15:00")
    assert record.title == "标题"


@pytest.mark.parametrize("entry", [
    "<p>第一行<br>第二行</p>",  # <br> tails get their line break for the time being
    "<p>第一行<br>第二行<script>var x = 1;</script></p>",  # a script: read from a copy
])
def test_extraction_leaves_the_page_tree_as_it_was(entry: str) -> None:
    """Link following reads the same parsed page after extraction: it must find it unchanged."""
    body = seed_page("article-openai-china-api.html").replace(
        b'<div class="entry">', b'<div class="entry">' + entry.encode(), 1)
    page = HtmlResponse(url=ARTICLE_URL, body=body, encoding="utf-8")
    selector = page_selector(page)
    before = etree.tostring(selector.root, encoding="unicode")
    first = asdict(load_article(page, selector))
    assert etree.tostring(selector.root, encoding="unicode") == before
    assert first["body"].startswith("第一行\n第二行\n\n")
    again = asdict(load_article(page, selector))  # and reads the same from it again
    assert {k: v for k, v in first.items() if k != "crawled_at"} == {
        k: v for k, v in again.items() if k != "crawled_at"}


def test_images_of_the_entry_with_their_captions_and_credits() -> None:
    """The seed page's image was not captured (only its credit line): put two back, as WordPress
    writes them, and read them with their caption or credit."""
    body = seed_page("article-openai-china-api.html").replace(
        b'<p id="conimg">', b'<p><img src="/img/a.jpg?utm_source=x" alt=" OpenAI "></p><p id="conimg">',
        1).replace(
        b'<div class="entry">', '<div class="entry"><div class="wp-caption"><img data-src='
        '"https://cdn.example.org/b.png"><p class="wp-caption-text">图说 一</p></div><p><img src="http://[::1"></p>'
        .encode(), 1)
    article = load_article(HtmlResponse(url=ARTICLE_URL, body=body, encoding="utf-8"))
    assert article.images == [
        {"url": "https://cdn.example.org/b.png", "alt": None, "caption": "图说 一"},
        {"url": "https://www.bannedbook.org/img/a.jpg", "alt": "OpenAI", "caption": "图/路透社"},
    ]  # the image whose src is not a URL is left out
    assert article.image_url == "https://cdn.example.org/b.png"  # no og:image: the first one
    assert article.image_credit == "图/路透社"
    expected = json.loads((FIXTURES / "article-openai-china-api.expected.json").read_text("utf-8"))
    assert article.body == expected["body"]  # captions are not body text


def test_og_image_is_the_lead_image() -> None:
    body = seed_page("article-openai-china-api.html").replace(
        b"<h2>", b'<meta property="og:image" content="/lead.jpg"><h2>', 1)
    article = load_article(HtmlResponse(url=ARTICLE_URL, body=body, encoding="utf-8"))
    assert article.image_url == "https://www.bannedbook.org/lead.jpg" and article.images == []


def seed_with(credit: str = "", ending: str = "", script: str | None = None) -> dict:
    """The real article with a credit line placed after its image credit and an ending after its last
    paragraph, as the site writes them; with *script* (an OpenCC conversion: ``s2t``, ``s2tw``,
    ``s2hk``), the whole page in traditional script, as an article reprinted from Taiwan or Hong Kong."""
    page = seed_page("article-openai-china-api.html").decode("utf-8")
    page = page.replace('<p id="conimg">图/路透社</p>', f'<p id="conimg">图/路透社</p> {credit}', 1)
    after_last = '<!--<div id="taboola-mid-1"></div>-->'
    page = page.replace(after_last, ending + after_last, 1)
    if script:
        page = converted(script, page)
    return asdict(load_article(HtmlResponse(url=ARTICLE_URL, body=page.encode("utf-8"), encoding="utf-8")))


@cache
def _opencc(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def converted(config: str, text: str | None) -> str | None:
    """*text* in another script (OpenCC's conversion *config*)."""
    return None if text is None else _opencc(config).convert(text)


CREDITS = [
    ("<p>作者：林骁来源：大纪元，文章内容并不代表本网立场和观点。</p>", "林骁", "大纪元"),
    ("<p>作者：林驍來源：大紀元，文章內容並不代表本網立場和觀點。</p>", "林驍", "大紀元"),
    ("<p>作者：公民老黑，来源：Citizen Laohei公民老黑youtube频道，文章内容并不代表本网立场和观点。</p>",
     "公民老黑", "Citizen Laohei公民老黑youtube频道"),
    ("<p>作者:王丹 | 来源:自由亚洲电台</p>", "王丹", "自由亚洲电台"),
    ("<p>来源：美国之音 作者：古立</p>", "古立", "美国之音"),
    ("<p>（来源：《纽约时报》中文网）</p>", None, "《纽约时报》中文网"),
    ("<p>文／陈破空，来源：新唐人</p>", "陈破空", "新唐人"),
    ("<p>Original 北美保守评论 时评 ，文章内容不知真假，请读者自行判断。</p>", None, "北美保守评论"),
    ("<p>记者：李志，编译：张三，来源：美国之音</p>", "李志", "美国之音"),
]


@pytest.mark.parametrize(("credit", "author", "source"), CREDITS)
def test_credit_line_forms_in_a_real_page(credit: str, author: str | None, source: str) -> None:
    plain = seed_with()
    record = seed_with(credit=credit)
    assert (record["author"], record["source"]) == (author, source)
    assert record["body"] == plain["body"]  # the credit line is not body, nothing else is lost


def test_a_line_that_only_looks_like_a_credit_stays_in_the_body() -> None:
    question = "记者：请问您如何看待这次的贸易谈判结果？"
    record = seed_with(credit=f"<p>{question}</p>")
    assert record["author"] is None and record["source"] == "中时"
    assert record["body"].split("\n\n")[0] == question


ENDINGS = [
    "<p>站长动态，转发分享↓Follow Us 责任编辑：李华</p>",
    '<p><img src="https://www.bannedbook.org/wp-content/uploads/qr.png" alt=""></p>'
    "<p>站长动态，转发分享↓Follow Us 责任编辑：李华</p>",
    "<p>站长动态，转发分享↓Follow Us</p><p>责任编辑：李华</p>",
    "<p>责任编辑：李华</p><p>站长动态，转发分享↓Follow Us</p>",
]


@pytest.mark.parametrize("ending", ENDINGS)
def test_the_2025_ending_gives_the_editor_and_no_share_text(ending: str) -> None:
    plain = seed_with()
    record = seed_with(ending=ending)
    assert record["editor"] == "李华"
    assert record["body"] == plain["body"]
    assert "转发分享" not in record["body"] and "Follow Us" not in record["body"]


#: OpenCC's conversions to traditional script: by character, Taiwan's, Hong Kong's, Taiwan's with its phrases
TRADITIONAL = ("s2t", "s2tw", "s2hk", "s2twp")


@pytest.mark.parametrize("script", TRADITIONAL)
@pytest.mark.parametrize(("credit", "ending"), [(credit, ENDINGS[n % len(ENDINGS)])
                                                for n, (credit, _, _) in enumerate(CREDITS)],
                         ids=[f"credit{n}" for n in range(len(CREDITS))])
def test_a_traditional_script_page_gives_the_credits_the_simplified_one_does(
        script: str, credit: str, ending: str) -> None:
    """The same page in traditional script: the same author, source, editor and image credit (in that
    script), and the same body (the credit line and the ending are not body)."""
    simplified = seed_with(credit=credit, ending=ending)
    assert simplified["editor"] == "李华" and (simplified["author"] or simplified["source"])
    traditional = seed_with(credit=credit, ending=ending, script=script)
    for name in ("author", "source", "editor", "image_credit"):
        assert traditional[name] == converted(script, simplified[name]), name
    plain = seed_with(script=script)
    assert traditional["body"] == plain["body"]
    assert "Follow Us" not in traditional["body"]
    assert plain["source"] == converted(script, "中时")  # the 來源： line's


# Credit lines and endings as the rules read them in simplified script (their doctests and the tests
# above): in traditional script they must read the same.
CREDIT_LINES = [
    *(re.sub(r"</?p>", "", credit) for credit, _, _ in CREDITS),
    "来源：美国之音, 文章内容并不代表本网立场。", "作者：王丹丨来源：RFA", "来源：《大纪元》",
    "Original 纵览中国", "编译：张三", "撰稿：王五 来源：自由时报", "转载自：看中国",
    "文章转自网络，旨在为读者提供多元信息，内容并不代表本网立场和观点。", "文章转自网络，仅供参考。",
    "原创 北美保守评论，文章内容不知真假。",
    "记者：请问您如何看待这次的贸易谈判结果？", "证券时报报导，目前OpenAI的API向161个国家和地区开放",
]
ENDING_LINES = [
    "站长动态，转发分享↓Follow Us 责任编辑：赵凌云", "站长动态 转发分享 责任编辑：李华", "（责任编辑：王五）",
    "【编辑：李明】", "站长动态，转发分享↓Follow Us", "他是责任编辑：不是编辑行", "转发分享这篇文章",
]


@pytest.mark.parametrize("script", TRADITIONAL)
def test_every_credit_line_form_reads_the_same_in_traditional_script(script: str) -> None:
    def credit(line: str) -> dict[str, str | None] | None:
        return site.parse_credit_line(line)

    def ending(line: str) -> tuple[str | None, bool]:
        return site.parse_editor_line(line), site.is_share_block(line)

    for line in CREDIT_LINES:
        expected = credit(line)
        if expected is not None:
            expected = {name: converted(script, value) for name, value in expected.items()}
        assert credit(converted(script, line)) == expected, line
    for line in ENDING_LINES:
        editor, share = ending(line)
        assert ending(converted(script, line)) == (converted(script, editor), share), line


@pytest.mark.parametrize("words", ["WRITER_LABELS", "REPORTER_LABELS", "SOURCE_LABELS", "EDITOR_LABELS",
                                   "DISCLAIMERS", "WECHAT_MARKERS", "SHARE_NEWS", "SHARE_FORWARD"])
def test_the_credit_rules_list_each_word_in_both_scripts(words: str) -> None:
    listed = getattr(site, words)
    assert {converted(script, word) for word in listed for script in TRADITIONAL} <= set(listed)


def validated(article: Article) -> Article:
    """*article* through the crawl's validation (which drops a record that breaks the schema)."""
    crawler = get_crawler()
    crawler.stats.open_spider()
    return ValidatePipeline.from_crawler(crawler).process_item(article)  # type: ignore[no-any-return]


RELATED = "<ul class='op-related-articles' title='相关阅读'>"


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "data:image/png;base64,iVBORw0KGgo=",
                                 "mailto:editor@example.org", "ftp://127.0.0.1/lead.jpg"])
@pytest.mark.parametrize("where", ["og:image", "img", "related"])
def test_a_link_that_is_not_a_web_url_loses_that_value_not_the_article(bad: str, where: str) -> None:
    """A lead image, a body image or a related link that is not an http(s) URL is left out and
    counted (bad_url); the article is stored with the rest."""
    page = seed_page("article-openai-china-api.html")
    before, after = {
        "og:image": ("<h2>", f'<meta property="og:image" content="{bad}"><h2>'),
        "img": ('<p id="conimg">', f'<p><img src="{bad}" alt="x"></p><p id="conimg">'),
        "related": (RELATED, f"{RELATED}<li><a href='{bad}'>坏链接</a></li>"),
    }[where]
    page = page.replace(before.encode(), after.encode(), 1)
    assert bad.encode() in page
    problems = Problems()
    article = validated(load_article(HtmlResponse(url=ARTICLE_URL, body=page, encoding="utf-8"),
                                     problems=problems))
    assert (article.image_url, article.images) == (None, [])
    assert len(article.related_urls) == 5 and all(u.startswith("https://") for u in article.related_urls)
    assert dict(problems.counts) == {"bad_url": 1}
    expected = json.loads((FIXTURES / "article-openai-china-api.expected.json").read_text("utf-8"))
    assert {k: v for k, v in asdict(article).items() if k != "crawled_at"} == expected


def test_a_utf16_page_with_a_byte_order_mark_is_read_whatever_its_header_says() -> None:
    """The byte order mark decides the encoding (as browsers do): a UTF-16 page sent as UTF-8."""
    html = seed_page("article-openai-china-api.html").decode("utf-8")
    plain = asdict(load_article(HtmlResponse(url=ARTICLE_URL, body=html.encode(), encoding="utf-8")))
    for codec, bom in (("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE)):
        page = HtmlResponse(url=ARTICLE_URL, body=bom + html.encode(codec),
                            headers={"Content-Type": "text/html; charset=utf-8"})
        problems = Problems()
        article = asdict(load_article(page, problems=problems))
        assert {k: v for k, v in article.items() if k != "crawled_at"} == {
            k: v for k, v in plain.items() if k != "crawled_at"}, codec
        assert not problems


@pytest.mark.parametrize("meta", [
    '<meta property="article:published_time" content="9999-12-31T08:00:00+08:00">',
    '<div class="postmeat">日期：9999年12月31日 | 分类：x</div>',
])
def test_a_publication_date_far_in_the_future_is_a_bad_value(meta: str) -> None:
    """A page that says 9999-12-31: the date is left out and counted, the next one (the URL's) taken."""
    body = seed_page("article-openai-china-api.html").replace(b"<h2>", meta.encode() + b"<h2>", 1)
    problems = Problems()
    article = load_article(HtmlResponse(url=ARTICLE_URL, body=body, encoding="utf-8"), problems=problems)
    assert (article.published_date, article.published_at) == ("2024-06-26", None)
    assert dict(problems.counts) == {"future_date": 1}
    far = "https://www.bannedbook.org/bnews/itnews/99991231/2054421.html"  # and the URL's own date
    problems = Problems()
    article = load_article(HtmlResponse(url=far, body=seed_page("article-openai-china-api.html"),
                                        encoding="utf-8"), problems=problems)
    assert article.published_date is None and dict(problems.counts) == {"future_date": 1}
    assert article.title  # the rest of the page is kept
