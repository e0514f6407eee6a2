"""The offline edition (``dataset export --format zim``): a ZIM of a mock-site crawl with its images,
checked with the real readers: openZIM's zimcheck, libzim's own check and search, kiwix-serve."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from libzim.reader import Archive
from libzim.search import Query, Searcher
from libzim.suggestion import SuggestionSearcher

from newsspider.archive.reader import archived_page, latest_captures
from newsspider.dataset.reader import load, record_example
from tests.conftest import crawl, run_cli
from tests.mockserver import MockServer
from tests.ports import wait_listening

pytestmark = pytest.mark.xdist_group("zim")

#: zimcheck's checks but the low-level one (-I: Debian's zimcheck, libzim 8, misreads a libzim 9 title index)
ZIMCHECK = ["-0", "-C", "-M", "-F", "-P", "-R", "-U", "-X", "-L"]
HOSTILE_ID = "9990001"
HOSTILE_TITLE = '<script>alert("title")</script>标题'
HOSTILE_BODY = 'first <img src=x onerror=alert(1)> 段落\n\n<script>alert("body")</script>第二段'


@dataclass
class Built:
    data: Path
    zim: Path
    result: subprocess.CompletedProcess[str]
    records: list[dict[str, Any]]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The mock site crawled with --images, one hostile record added, exported as a ZIM by the CLI."""
    data = tmp_path_factory.mktemp("zimdata")
    with MockServer() as server:
        crawled = crawl(server, data, "--images")
        assert crawled.returncode == 0, crawled.stderr
    first = load(data)[0]
    hostile = record_example(
        article_id=HOSTILE_ID, title=HOSTILE_TITLE, body=HOSTILE_BODY, category="<b>cat</b>",
        published_date="2024-02-03", tags=['<img src=x onerror=alert(2)>', "人权"],
        url="https://www.bannedbook.org/bnews/x/20240203/9990001.html",
        related_urls=[first["url"], "https://www.bannedbook.org/bnews/y/20240203/1.html"],
        image_url="https://www.bannedbook.org/wp-content/uploads/never-archived.jpg",
        images=[{"url": "https://www.bannedbook.org/wp-content/uploads/never-archived.jpg", "alt": "alt",
                 "caption": "<i>caption</i>"}])
    with (data / "articles.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(hostile, ensure_ascii=False) + "\n")
    zim = tmp_path_factory.mktemp("zimout") / "archive.zim"
    result = run_cli("dataset", "export", str(data), "--format", "zim", "--out", str(zim))
    return Built(data, zim, result, load(data))


def entry_html(archive: Archive, path: str) -> str:
    return bytes(archive.get_entry_by_path(path).get_item().content).decode("utf-8")


class Page(HTMLParser):
    """What a test reads of a page: the title heading, the body's paragraphs, images, elements."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.h1 = ""
        self.paragraphs: list[str] = []
        self.images: list[str] = []
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.links: list[str] = []
        self._body = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")
        if tag == "div" and ("class", "body") in attrs:
            self._body = 1
        if tag == "p" and self._body:
            self.paragraphs.append("")
        if tag not in ("img", "meta", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        if tag == "div" and self._body:
            self._body = 0

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "h1":
            self.h1 += data
        elif self._body and self.stack and self.stack[-1] == "p":
            self.paragraphs[-1] += data


def test_the_command_writes_the_file_and_says_what_is_in_it(built: Built) -> None:
    assert built.result.returncode == 0, built.result.stderr
    images = {i["url"] for r in built.records for i in r["images"]}
    archived = len(images) - 1  # the hostile record's image is not in the archive
    assert built.result.stdout == (f"{len(built.records)} articles and {archived} images, 1 not archived "
                                   f"left out written to {built.zim}\n")
    assert f"zim: {len(built.records)} of {len(built.records)} articles" in built.result.stderr
    assert "Traceback" not in built.result.stderr
    assert [p.name for p in built.zim.parent.iterdir()] == ["archive.zim"]  # nothing left beside it


def test_zimcheck_and_libzim_check_pass(built: Built) -> None:
    checked = subprocess.run(["zimcheck", *ZIMCHECK, str(built.zim)], capture_output=True, text=True,
                             timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Overall Test Status: Pass" in checked.stdout
    archive = Archive(built.zim)
    assert archive.check()
    assert archive.has_fulltext_index and archive.has_title_index and archive.has_main_entry
    assert archive.main_entry.get_item().path == "index"
    assert archive.article_count == len(built.records)
    meta = {key: bytes(archive.get_metadata(key)).decode() for key in archive.metadata_keys
            if not key.startswith("Illustration")}
    assert meta["Language"] == "zho" and meta["Creator"] == "bannedbook.org / 禁闻网"
    assert meta["Name"] == "bannedbook_zh_all" and meta["Flavour"] == "all"
    assert {"Title", "Description", "Publisher", "Date", "Tags", "Source", "Counter"} <= set(meta)
    assert "_pictures:yes" in meta["Tags"] and "text/html=" in meta["Counter"]
    assert archive.has_illustration(48)


def test_every_article_is_its_page_with_its_images(built: Built) -> None:
    archive = Archive(built.zim)
    captures = latest_captures(built.data)
    for record in built.records:
        text = entry_html(archive, f"a/{record['article_id']}")
        page = Page(text)
        assert page.h1 == record["title"]
        assert page.paragraphs == [p for p in record["body"].split("\n\n") if p.strip()]
        # the certificate of its capture, checked when the file was made (the hostile record has no capture)
        if record.get("warc"):
            assert escape(record["warc"]["record_id"]) in text
            assert "Verified when this file was made" in text
        shown = [u for u in dict.fromkeys(i["url"] for i in record["images"]) if u in captures]
        assert len(page.images) == len(shown)  # the one not archived is left out: no broken image
        for src, url in zip(page.images, shown, strict=True):
            path = src.removeprefix("../")
            stored = bytes(archive.get_entry_by_path(path).get_item().content)
            assert stored == archived_page(built.data, captures[url].pointer).body  # an SVG of drawing, kept


def test_hostile_text_is_escaped(built: Built) -> None:
    html = entry_html(Archive(built.zim), f"a/{HOSTILE_ID}")
    page = Page(html)
    assert page.h1 == HOSTILE_TITLE
    assert page.paragraphs == HOSTILE_BODY.split("\n\n")
    assert not [t for t, _ in page.tags if t == "script"]
    assert not [a for _, attrs in page.tags for a, _ in attrs if a.startswith("on")]
    assert page.images == []  # its image was never archived
    assert "javascript:" not in " ".join(page.links)
    first = built.records[0]
    assert f"../a/{first['article_id']}" in page.links  # a related article in the file: inside it
    assert "https://www.bannedbook.org/bnews/y/20240203/1.html" in page.links  # not in it: the live site
    assert "(live site ↗, not in this file)" in html


def test_kiwix_serve_serves_the_front_page_an_article_and_its_image(built: Built, tmp_path: Path) -> None:
    served = tmp_path / "served.zim"
    served.symlink_to(built.zim)
    proc = subprocess.Popen(["kiwix-serve", "--address", "127.0.0.1", "--port", "0", str(served)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = wait_listening(proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/catalog/v2/entries", timeout=30) as response:
            catalog = response.read().decode()  # the book's address: /served (3.3), /content/served
        [book] = re.findall(r'<link type="text/html" href="([^"]+)"', catalog)
        base = f"http://127.0.0.1:{port}{book}/"

        def get(path: str) -> tuple[str, bytes]:
            with urllib.request.urlopen(base + path, timeout=30) as response:
                return response.headers.get_content_type(), response.read()

        kind, front = get("index")
        assert kind == "text/html" and "禁闻网 新闻存档" in front.decode()
        record = next(r for r in built.records if r["images"] and r["article_id"] != HOSTILE_ID)
        kind, body = get(f"a/{record['article_id']}")
        page = Page(body.decode())
        assert page.h1 == record["title"]
        assert page.paragraphs == [p for p in record["body"].split("\n\n") if p.strip()]
        own = [src for src in page.images if src.startswith("../img/")]  # kiwix-serve adds its toolbar's
        assert len(own) == len({i["url"] for i in record["images"]})
        kind, image = get(own[0].removeprefix("../"))
        assert kind == "image/svg+xml" and image.startswith(b"<svg")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


#: Chinese words of the mock site's bodies searched for: 2, 3 and 4 characters
def _words(records: list[dict[str, Any]]) -> list[str]:
    tags = {t for r in records for t in r["tags"] if re.fullmatch(r"[\u4e00-\u9fff]{2,4}", t)}
    return sorted(w for w in tags if any(w in r["body"] for r in records))


def test_search_finds_articles_by_words_of_their_body(built: Built) -> None:
    searcher = Searcher(Archive(built.zim))
    words = _words(built.records)
    assert {len(w) for w in words} >= {2, 3, 4}
    expected = found = 0
    for word in words:
        holding = {f"a/{r['article_id']}" for r in built.records if word in r["body"]}
        search = searcher.search(Query().set_query(word))
        hits = set(search.getResults(0, len(built.records) + 10))
        expected += len(holding)
        found += len(holding & hits)
        assert holding & hits, f"{word}: none of the {len(holding)} articles that hold it found"
    assert found / expected >= 0.9, f"recall {found}/{expected}"


def test_title_search_finds_an_article(built: Built) -> None:
    archive = Archive(built.zim)
    record = built.records[0]
    suggestions = SuggestionSearcher(archive).suggest(record["title"][:6])
    assert f"a/{record['article_id']}" in set(suggestions.getResults(0, 50))
    assert archive.get_entry_by_title(record["title"]).path == f"a/{record['article_id']}"


def test_an_edition_of_a_window_in_traditional_script(built: Built, tmp_path: Path) -> None:
    days = sorted(r["published_date"] for r in built.records)
    since, until = days[len(days) // 3], days[2 * len(days) // 3]
    result = run_cli("dataset", "export", str(built.data), "--format", "zim", "--traditional",
                     "--since", since, "--until", until, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [made] = tmp_path.iterdir()
    assert re.fullmatch(rf"bannedbook_zh-hant_{since}-to-{until}_\d{{4}}-\d{{2}}\.zim", made.name)
    archive = Archive(made)
    kept = [r for r in built.records if since <= r["published_date"] <= until]
    assert archive.article_count == len(kept) < len(built.records)
    meta = {k: bytes(archive.get_metadata(k)).decode() for k in ("Name", "Flavour", "Title")}
    assert meta == {"Name": f"bannedbook_zh-hant_{since}-to-{until}", "Flavour": f"{since}-to-{until}",
                    "Title": "禁聞網 新聞存檔（繁體）"}
    record = next(r for r in kept if "国" in r["title"] or "国" in r["body"])
    page = Page(entry_html(archive, f"a/{record['article_id']}"))
    import opencc

    converter = opencc.OpenCC("s2t")
    assert page.paragraphs == [converter.convert(p) for p in record["body"].split("\n\n") if p.strip()]
    assert "國" in page.h1 + "".join(page.paragraphs)


# --- bad input ----------------------------------------------------------------------------------------

def export(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("dataset", "export", *args, cwd=cwd)


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    return line


def test_an_empty_data_dir(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    line = one_error(export(str(tmp_path / "empty"), "--format", "zim", "--out", str(tmp_path / "x.zim")))
    assert "no dataset here" in line
    (tmp_path / "empty" / "articles.jsonl").write_text("")
    line = one_error(export(str(tmp_path / "empty"), "--format", "zim", "--out", str(tmp_path / "x.zim")))
    assert line == f"Error: {tmp_path / 'empty'}: no articles; no ZIM written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_a_data_dir_without_archive_makes_a_file_without_images(built: Built, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(built.data / "articles.jsonl", data)
    result = export(str(data), "--format", "zim", "--out", str(tmp_path / "plain.zim"))
    assert result.returncode == 0, result.stderr
    assert (f"warning: no web archive in {data / 'warc'}: the file has no images (crawl with --images to "
            "keep them)") in result.stderr
    assert re.fullmatch(r"\d+ articles and 0 images, \d+ not archived left out written to .*\n",
                        result.stdout)
    archive = Archive(tmp_path / "plain.zim")
    assert archive.check() and archive.media_count == 0
    assert not Page(entry_html(archive, f"a/{built.records[0]['article_id']}")).images


def test_an_output_that_cannot_be_written(built: Built, tmp_path: Path) -> None:
    line = one_error(export(str(built.data), "--format", "zim", "--out", str(tmp_path / "no" / "x.zim")))
    missing = tmp_path / "no"
    assert line == f"Error: {missing / 'x.zim'}: no such directory {missing}; nothing was written"
    line = one_error(export(str(built.data), "--format", "zim", "--out", str(built.data / "articles.jsonl")))
    assert line.endswith("is a file of the dataset or its crawl; choose another output file")
    assert load(built.data) == built.records
    usage = export(str(built.data), "--format", "csv", "--out", str(tmp_path / "x.csv"), "--traditional")
    assert usage.returncode == 2 and "--traditional is an option of --format zim" in usage.stderr


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "fs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_leaves_nothing_behind(built: Built, small_fs: Path) -> None:
    free = shutil.disk_usage(small_fs).free
    (small_fs / "filler").write_bytes(b"\0" * (free - 60 * 1024))
    out = small_fs / "archive.zim"
    line = one_error(export(str(built.data), "--format", "zim", "--out", str(out)))
    assert line == f"Error: no space left on device writing {out}; nothing was written"
    assert [p.name for p in small_fs.iterdir()] == ["filler"]


def test_long_lists_are_paged_and_every_article_is_on_one_page() -> None:
    """A tag of 450 articles: three pages of at most LIST_PAGE, newest first, linked both ways, each
    article once (made from the first pass's on-disk index, not from records held in memory)."""
    from posixpath import join, normpath
    from urllib.parse import unquote

    from newsspider.views.zim.writer import LIST_PAGE, Edition, Index, _Shown, list_pages

    index, shown = Index(), _Shown(False)
    for n in range(450):
        index.add(record_example(article_id=str(1000 + n), title=f"标题{n}", tags=["人权", f"t{n % 3}"],
                                 published_date=f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}", category="cnnews"),
                  shown)
    index.finish()
    pages = {path: html for path, _, html in list_pages(index, Edition(), shown)}
    index.close()
    assert [p for p in pages if p.startswith("tag/人权")] == ["tag/人权", "tag/人权/2", "tag/人权/3"]
    listed: list[str] = []
    for number, path in enumerate(["tag/人权", "tag/人权/2", "tag/人权/3"], 1):
        links = [normpath(join(path, "..", unquote(href))) for href in Page(pages[path]).links
                 if not href.startswith("#")]
        articles = [link for link in links if link.startswith("a/")]
        assert len(articles) == (LIST_PAGE if number < 3 else 450 - 2 * LIST_PAGE)
        listed += articles
        assert ("tag/人权/" + str(number + 1) in links) == (number < 3)  # older
        assert (("tag/人权" if number == 2 else f"tag/人权/{number - 1}") in links) == (number > 1)  # newer
        assert all(link in pages or link.startswith(("a/", "list/")) or link == "index" for link in links)
    assert sorted(listed) == sorted(f"a/{1000 + n}" for n in range(450))
    html = "".join(pages[p] for p in ["tag/人权", "tag/人权/2", "tag/人权/3"])
    days = re.findall(r'<time datetime="([^"]+)"', html)
    assert days == sorted(days, reverse=True)
