"""Writing the offline edition: the dataset as one ZIM file (openZIM's ``libzim`` writer).

What the file holds, by path (every link between them relative, so that
Kiwix, ``kiwix-serve`` and ``zimcheck`` resolve them alike)::

    index                 the front page (the main entry): the newest articles, months, categories, top tags
    a/<article id>        each article's latest version, as the reading room's article page shows it
    category/<name>       the articles of a category (its subcategories have pages of their own)
    tag/<name>            the articles with a tag
    month/<YYYY-MM>       the articles published in a month
    <list>/<n>            page n of such a list (LIST_PAGE articles a page, newest first)
    list/categories, list/months, list/tags    what the header links to
    img/<hash>.<ext>      the archived images the articles show (images.fit_image: within the size cap)

The articles are the full-text index's documents (Chinese, libzim's ``zho``
word splitting: title, summary, body and tags) and the title index's front
articles; the list pages are in the title index only.

The export streams: the dataset is read twice (:func:`~newsspider.dataset.reader.iter_articles`),
first for what the list pages and links need, (id, date, title, category,
tags) of each article, and the image URLs the articles show, kept in a
temporary SQLite database on disk (:class:`Index`); then each article is
rendered and handed to the writer one at a time, and the list pages are made
from one sorted pass over the database.  What newsspider holds in memory does
not grow with the articles (the archived images' locations do, with the
images); libzim's writer keeps an entry for each path until it finishes the
file, and Xapian merges the whole full-text index at the end
(``benchmarks/HISTORY.md`` has the figures).  The file is written under a hidden temporary name beside
the output (``.NAME.<random>.part``) and renamed into place when complete;
a failed write (a full disk) removes it and what libzim made beside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import itertools
import json
import os
import re
import shutil
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from newsspider.archive.evidence import Certifier
from newsspider.archive.reader import ArchiveError, Capture, archived_page, latest_captures, warc_files
from newsspider.dataset.export import ExportError, Filters, new_part
from newsspider.dataset.layout import WARC_DIR, owned_by_crawl
from newsspider.dataset.reader import Errors, display_path, iter_articles, shard_paths
from newsspider.dataset.storage import write_error
from newsspider.extract import site
from newsspider.views.zim import DEFAULT_MAX_IMAGE_KB

__all__ = ["Edition", "Written", "default_name", "write_zim"]

#: the front page's newest articles
FRONT_ARTICLES = 50
#: the front page's tags (the most used); list/tags has them all
FRONT_TAGS = 40
#: the articles of one list page (a month's, a category's or a tag's: page 2 is ``tag/<name>/2``)
LIST_PAGE = 200
#: libzim's compression threads; each holds a cluster and a compressor's state: its default, 4, made the
#: peak RSS 435 MB at 10,000 articles (most of it while the last clusters were compressed), 2 made it
#: 246 MB and 1 152 MB (benchmarks/HISTORY.md); two keep both cores of a small machine busy
ZIM_WORKERS = 2
#: documents Xapian indexes between two flushes to disk (its default, 10,000, holds them all in memory)
XAPIAN_FLUSH = 100
#: who published what the file holds (ZIM metadata Creator)
CREATOR = "bannedbook.org / 禁闻网"
PUBLISHER = "newsspider"
TEMPLATES = Path(__file__).parent / "templates"
ROOM_TEMPLATES = Path(__file__).parents[1] / "search" / "templates"


@dataclass(frozen=True)
class Edition:
    """Which articles the file holds (*filters*) and in which script (*traditional*: OpenCC's s2t).

    >>> Edition().name, Edition(traditional=True).name
    ('bannedbook_zh_all', 'bannedbook_zh-hant_all')
    >>> Edition(Filters(since="2024-05-01", until="2024-05-31")).name
    'bannedbook_zh_2024-05-01-to-2024-05-31'
    >>> Edition(Filters(since="2024-05-01", category="renquan/minyun")).flavour
    'renquan.minyun-since-2024-05-01'
    """

    filters: Filters = field(default_factory=Filters)
    traditional: bool = False

    @property
    def flavour(self) -> str:
        f = self.filters
        parts = [_slug(f.category) if f.category else "", _slug(f.tag) if f.tag else ""]
        if f.since and f.until:
            parts.append(f"{f.since}-to-{f.until}")
        elif f.since:
            parts.append(f"since-{f.since}")
        elif f.until:
            parts.append(f"until-{f.until}")
        return "-".join(p for p in parts if p) or "all"

    @property
    def language(self) -> str:
        """The language part of the name: zh, or zh-hant for the traditional-script edition."""
        return "zh-hant" if self.traditional else "zh"

    @property
    def name(self) -> str:
        """The ZIM's Name (openZIM: project_language_selection), the same for every month's file."""
        return f"bannedbook_{self.language}_{self.flavour}"

    @property
    def title(self) -> str:
        return "禁聞網 新聞存檔（繁體）" if self.traditional else "禁闻网 新闻存档"


def _slug(text: str) -> str:
    """*text* as a part of a file name: no slash, no space, no dot first.

    >>> _slug("renquan/minyun"), _slug(" 人权 / 民运 "), _slug("..")
    ('renquan.minyun', '人权.民运', '_')
    """
    slug = re.sub(r"[\s/\\:*?\"<>|]+", ".", text.strip()).strip(".")
    return slug or "_"


def default_name(edition: Edition, today: date | None = None) -> str:
    """The file's name when ``--out`` is not given: its Name and the month it was made (openZIM's).

    >>> default_name(Edition(traditional=True), date(2026, 12, 7))
    'bannedbook_zh-hant_all_2026-12.zim'
    """
    today = today or datetime.now(timezone.utc).date()
    return f"{edition.name}_{today:%Y-%m}.zim"


@dataclass
class Written:
    """What :func:`write_zim` wrote."""

    path: Path
    articles: int = 0
    #: images in the file, and those the articles show that the archive does not hold (left out)
    images: int = 0
    images_missing: int = 0
    #: why the file has no images at all (no web archive), else None
    no_archive: str | None = None


@dataclass(frozen=True)
class Brief:
    """What the list pages and links need of an article."""

    article_id: str
    day: str
    title: str
    category: str
    tags: tuple[str, ...]


def segment(name: str) -> str:
    """*name* as one segment of a path in the file: no slash, no control character, no dot first.

    >>> segment("人权"), segment("a/b"), segment(".."), segment("")
    ('人权', 'a_b', '_..', '_')
    """
    seg = re.sub(r"[/\\\x00-\x1f\x7f]", "_", name).strip() or "_"
    return "_" + seg if seg.startswith(".") else seg


def _segments(names: Iterable[str]) -> dict[str, str]:
    """A segment for each name, distinct (a clash gets ``~2``, ``~3``…).

    >>> _segments(["a/b", "a_b", "c"])
    {'a/b': 'a_b', 'a_b': 'a_b~2', 'c': 'c'}
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        seg, n = segment(name), 1
        while (candidate := seg if n == 1 else f"{seg}~{n}") in used:
            n += 1
        out[name] = candidate
        used.add(candidate)
    return out


def href(path: str) -> str:
    """The link from a page one level deep (``a/1``, ``tag/x``) to *path*.

    >>> href("a/12"), href("tag/人权"), href("tag/a?b#c")
    ('../a/12', '../tag/%E4%BA%BA%E6%9D%83', '../tag/a%3Fb%23c')
    """
    return "../" + quote(path, safe="/")


def _month(day: str) -> str:
    return day[:7] if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day or "") else ""


def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


@cache
def _converter() -> Any:
    import opencc

    return opencc.OpenCC("s2t")


class _Shown:
    """The edition's text: as stored, or converted to traditional script."""

    def __init__(self, traditional: bool) -> None:
        self.traditional = traditional

    def __call__(self, text: Any) -> str:
        text = _text_of(text)
        return str(_converter().convert(text)) if self.traditional and text else text


class Index:
    """The first pass: what the list pages and links need of each article (:class:`Brief`) and the image
    URLs the articles show, in a private temporary SQLite database (on disk: the export's memory does not
    grow with the articles; SQLite deletes it when it is closed, or when the process dies)."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("")
        self.db.executescript("""
            CREATE TABLE brief (article_id TEXT PRIMARY KEY, n INTEGER, day TEXT, title TEXT, category TEXT,
                                tags TEXT) WITHOUT ROWID;
            CREATE TABLE tag (tag TEXT, article_id TEXT);
            CREATE TABLE image (url TEXT PRIMARY KEY) WITHOUT ROWID;
        """)
        self.count = 0
        self.categories: dict[str, str] = {}
        self.tags: dict[str, str] = {}

    def add(self, record: dict[str, Any], shown: _Shown) -> None:
        article_id = str(record["article_id"])
        tags = tuple(dict.fromkeys(t for t in record.get("tags") or [] if isinstance(t, str) and t.strip()))
        title = shown(record.get("title")) or article_id
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO brief VALUES (?, ?, ?, ?, ?, ?)",
            (article_id, int(article_id) if article_id.isdigit() else 0,
             _text_of(record.get("published_date")), title, _text_of(record.get("category")),
             json.dumps(tags, ensure_ascii=False)))
        if cursor.rowcount:
            self.count += 1
            self.db.executemany("INSERT INTO tag VALUES (?, ?)", ((tag, article_id) for tag in tags))
            self.db.executemany("INSERT OR IGNORE INTO image VALUES (?)", ((u,) for u in _image_urls(record)))

    def finish(self) -> None:
        self.db.executescript("CREATE INDEX newest ON brief (day, n); CREATE INDEX tags ON tag (tag);")
        self.categories = _segments(c for (c,) in self.db.execute(
            "SELECT DISTINCT category FROM brief WHERE category != '' ORDER BY category"))
        self.tags = _segments(t for (t,) in self.db.execute("SELECT DISTINCT tag FROM tag ORDER BY tag"))

    def close(self) -> None:
        self.db.close()

    def brief(self, article_id: str) -> Brief | None:
        row = self.db.execute("SELECT article_id, day, title, category, tags FROM brief WHERE article_id = ?",
                              (article_id,)).fetchone()
        return _brief(row) if row else None

    @property
    def image_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM image").fetchone()[0])

    def has_image(self, url: str) -> bool:
        return self.db.execute("SELECT 1 FROM image WHERE url = ?", (url,)).fetchone() is not None

    def span(self) -> tuple[str, str]:
        """The first and last publication day ("?" when no article has one)."""
        first, last = self.db.execute("SELECT min(day), max(day) FROM brief WHERE day != ''").fetchone()
        return (first, last) if first else ("?", "?")

    def newest(self, n: int) -> list[Brief]:
        return [_brief(row) for row in self.db.execute(
            "SELECT article_id, day, title, category, tags FROM brief ORDER BY day DESC, n DESC LIMIT ?",
            (n,))]

    _GROUPS: ClassVar[dict[str, str]] = {
        "month": "SELECT substr(day, 1, 7) AS name, {what} FROM brief "
                 "WHERE day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'",
        "category": "SELECT category AS name, {what} FROM brief WHERE category != ''",
        "tag": "SELECT tag.tag AS name, {what} FROM tag JOIN brief USING (article_id)",
    }

    def counts(self, kind: str) -> dict[str, int]:
        """The articles of each month, category or tag (*kind*)."""
        query = self._GROUPS[kind].format(what="count(*)") + " GROUP BY name"
        return dict(self.db.execute(query).fetchall())

    def groups(self, kind: str) -> Iterator[tuple[str, Iterator[Brief]]]:
        """Each month, category or tag (*kind*) with its articles, newest first (one sorted pass)."""
        query = (self._GROUPS[kind].format(what="article_id, day, title, category, tags")
                 + " ORDER BY name, day DESC, n DESC")
        rows = self.db.execute(query)
        for name, group in itertools.groupby(rows, key=lambda row: row[0]):
            yield name, (_brief(row[1:]) for row in group)


def _brief(row: tuple[Any, ...]) -> Brief:
    return Brief(row[0], row[1], row[2], row[3], tuple(json.loads(row[4])))


def _image_urls(record: dict[str, Any]) -> list[str]:
    urls = [_text_of(record.get("image_url"))]
    urls += [_text_of(i.get("url")) for i in record.get("images") or [] if isinstance(i, dict)]
    return [u for u in dict.fromkeys(urls) if u.startswith(("http://", "https://"))]


# --- the pages ---------------------------------------------------------------------------------------

@cache
def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from newsspider.core.time import readable_time

    env = Environment(loader=FileSystemLoader([str(TEMPLATES), str(ROOM_TEMPLATES)]),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      keep_trailing_newline=True)
    env.filters["readable_time"] = readable_time
    return env


def render(template: str, **context: Any) -> str:
    return str(_environment().get_template(template).render(**context))


def live_link(url: Any) -> str | None:
    """*url* when it is a web address a reader may follow (http or https), else None.

    >>> live_link("https://www.bannedbook.org/a.html"), live_link("javascript:alert(1)"), live_link(None)
    ('https://www.bannedbook.org/a.html', None, None)
    """
    if not isinstance(url, str):
        return None
    url = url.strip()
    return url if re.match(r"https?://[^/\s]", url, re.IGNORECASE) else None


def related_id(url: str) -> str | None:
    """The article id a related link points at (the site's article URL or shortlink).

    >>> related_id("https://www.bannedbook.org/bnews/itnews/20240101/12.html"), related_id("https://x.org/")
    ('12', None)
    """
    parts = site.article_parts(url)
    return parts[0] if parts else site.shortlink_id(url)


class Images:
    """The archived images: each made to fit the cap once, stored once, whichever articles show it."""

    def __init__(self, data_dir: Path, captures: dict[str, Capture], max_bytes: int) -> None:
        self.data_dir = data_dir
        self.captures = captures
        self.max_bytes = max_bytes
        #: URL -> its path in the file, or None (not archived, unreadable, does not fit)
        self.done: dict[str, str | None] = {}
        self.pending: list[tuple[str, bytes, str]] = []
        self.stored = 0
        self.missing: set[str] = set()

    def path(self, url: str) -> str | None:
        """The image's path in the file, or None; an image seen first is queued (:attr:`pending`)."""
        if url in self.done:
            return self.done[url]
        self.done[url] = None
        capture = self.captures.get(url)
        if capture is None:
            self.missing.add(url)
            return None
        from newsspider.views.zim.images import fit_image

        try:
            page = archived_page(self.data_dir, capture.pointer)
        except ArchiveError:
            self.missing.add(url)
            return None
        fitted = fit_image(page.body, page.header("Content-Type"), self.max_bytes)
        if fitted is None:
            self.missing.add(url)
            return None
        data, mime = fitted
        extension = {"image/jpeg": "jpg", "image/svg+xml": "svg"}.get(mime, mime.rsplit("/", 1)[-1])
        path = f"img/{hashlib.sha256(url.encode('utf-8', 'surrogatepass')).hexdigest()[:24]}.{extension}"
        self.done[url] = path
        self.pending.append((path, data, mime))
        self.stored += 1
        return path


def article_page(record: dict[str, Any], index: Index, shown: _Shown, images: Images | None,
                 certificate: dict[str, Any] | None = None) -> str:
    """An article's page, linking inside the file (the live site, marked, for what is not in it), with the
    *certificate* of its capture (:class:`~newsspider.archive.evidence.Certifier`) when given."""
    fields = ("title", "summary", "body", "author", "source", "editor", "image_credit")
    text = {name: shown(record.get(name)) for name in fields}
    category = _text_of(record.get("category"))
    month = _month(_text_of(record.get("published_date")))
    figures = []
    for image in _figures(record):
        src = images.path(image["url"]) if images is not None else None
        if src is not None:
            figures.append({"src": "../" + src, "alt": shown(image.get("alt")),
                            "caption": shown(image.get("caption"))})
    lead = figures.pop(0) if figures and _text_of(record.get("image_url")) else None
    related = []
    for url in record.get("related_urls") or []:
        if not isinstance(url, str):
            continue
        target = related_id(url)
        brief = index.brief(target) if target else None
        related.append({"url": url, "live": live_link(url), "title": brief.title if brief else None,
                        "href": href(f"a/{brief.article_id}") if brief else None})
    warc = record.get("warc") if isinstance(record.get("warc"), dict) else None
    return render(
        "zim_article.html", a={**record, "warc": warc}, shown=text, root="../",
        edition_title=_edition_title(shown), title_prefix=_edition_title(shown),
        lang="zh-Hant" if shown.traditional else "zh", script="t" if shown.traditional else None,
        paragraphs=[p for p in text["body"].split("\n\n") if p.strip()],
        category=({"name": category, "href": href(f"category/{index.categories[category]}")}
                  if category else None),
        month={"name": month, "href": href(f"month/{month}")} if month else None,
        live=live_link(record.get("url")), lead=lead, figures=figures, related=related,
        certificate=certificate,
        tag_links=[(shown(tag), href(f"tag/{index.tags[tag]}"))
                   for tag in dict.fromkeys(record.get("tags") or []) if tag in index.tags])


def _edition_title(shown: _Shown) -> str:
    return Edition(traditional=shown.traditional).title


def _figures(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The lead image (first), then the body's images, each once."""
    images = [i for i in record.get("images") or [] if isinstance(i, dict) and isinstance(i.get("url"), str)]
    lead = _text_of(record.get("image_url"))
    if lead and not any(i["url"] == lead for i in images[:1]):
        images = [{"url": lead}, *images]
    seen: set[str] = set()
    return [i for i in images if not (i["url"] in seen or seen.add(i["url"]))]  # type: ignore[func-returns-value]


def _item(brief: Brief, root: str) -> dict[str, str]:
    return {"href": root + quote(f"a/{brief.article_id}"), "title": brief.title, "date": brief.day,
            "category": brief.category}


def list_path(kind: str, segment: str, page: int = 1) -> str:
    """The path of page *page* of the list of a month, category or tag.

    >>> list_path("tag", "人权"), list_path("tag", "人权", 2)
    ('tag/人权', 'tag/人权/2')
    """
    return f"{kind}/{segment}" if page == 1 else f"{kind}/{segment}/{page}"


def list_pages(index: Index, edition: Edition, shown: _Shown) -> Iterator[tuple[str, str, str]]:
    """(path, title, html) of the front page and every list page (a month's, a category's or a tag's
    articles, :data:`LIST_PAGE` a page, newest first)."""
    title = edition.title
    common = {"edition_title": title, "title_prefix": title,
              "lang": "zh-Hant" if edition.traditional else "zh"}
    counts = {kind: index.counts(kind) for kind in ("month", "category", "tag")}
    segments = {"month": {m: m for m in counts["month"]}, "category": index.categories, "tag": index.tags}
    months = sorted(counts["month"], reverse=True)
    tag_counts = Counter(counts["tag"])

    def links(root: str, kind: str, names: Iterable[str]) -> list[tuple[str, str, int]]:
        return [(shown(name) if kind == "tag" else name, root + quote(list_path(kind, segments[kind][name])),
                 counts[kind][name]) for name in names]

    first, last = index.span()
    yield "index", title, render(
        "zim_list.html", heading=title, root="", **common,
        intro=f"{index.count:,} articles of bannedbook.org (禁闻网) published {first} to {last}, "
              "archived by newsspider; search them with the reader's search box.",
        sections=[
            {"heading": "Newest articles", "articles": [_item(b, "") for b in index.newest(FRONT_ARTICLES)]},
            {"heading": "Months", "links": links("", "month", months),
             "more": {"href": "list/months", "label": "All months"}},
            {"heading": "Categories", "links": links("", "category", sorted(counts["category"]))},
            {"heading": "Tags", "links": links("", "tag", [t for t, _ in tag_counts.most_common(FRONT_TAGS)]),
             "more": {"href": "list/tags", "label": f"All {len(tag_counts):,} tags"}},
        ])
    yield "list/months", "Months", render(
        "zim_list.html", heading="Months", root="../", **common,
        sections=[{"links": links("../", "month", months)}])
    yield "list/categories", "Categories", render(
        "zim_list.html", heading="Categories", root="../", **common,
        sections=[{"links": links("../", "category", sorted(counts["category"]))}])
    yield "list/tags", "Tags", render(
        "zim_list.html", heading="Tags", root="../", **common,
        sections=[{"links": links("../", "tag", [t for t, _ in tag_counts.most_common()])}])
    for kind in ("month", "category", "tag"):
        for name, briefs in index.groups(kind):
            heading = shown(name) if kind == "tag" else name
            total = counts[kind][name]
            pages = max(1, -(-total // LIST_PAGE))
            for number in range(1, pages + 1):
                chunk = list(itertools.islice(briefs, LIST_PAGE))
                root = "../" if number == 1 else "../../"
                path = list_path(kind, segments[kind][name], number)
                pager = {"page": number, "pages": pages,
                         "prev": root + quote(list_path(kind, segments[kind][name], number - 1))
                         if number > 1 else None,
                         "next": root + quote(list_path(kind, segments[kind][name], number + 1))
                         if number < pages else None}
                yield path, heading if number == 1 else f"{heading} ({number})", render(
                    "zim_list.html", heading=heading, root=root, **common, pager=pager,
                    intro=f"{total:,} articles, newest first ({kind})",
                    sections=[{"articles": [_item(b, root) for b in chunk]}])


# --- the metadata ----------------------------------------------------------------------------------

def illustration() -> bytes:
    """The file's 48×48 PNG illustration (drawn here: a page of newsprint on the site's red).

    >>> from PIL import Image
    >>> Image.open(io.BytesIO(illustration())).size
    (48, 48)
    """
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (48, 48), (178, 34, 34))
    draw = ImageDraw.Draw(image)
    draw.rectangle((9, 7, 38, 40), fill=(255, 255, 255))
    draw.rectangle((13, 11, 34, 18), fill=(178, 34, 34))
    for y in (22, 26, 30, 34):
        draw.rectangle((13, y, 34, y + 1), fill=(90, 90, 90))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def metadata(edition: Edition, index: Index, images: int, today: date) -> dict[str, str]:
    """The ZIM's metadata (openZIM's names; libzim adds Counter itself)."""
    first, last = index.span()
    script = "traditional script, " if edition.traditional else ""
    return {
        "Name": edition.name,
        "Title": edition.title,
        "Description": f"{index.count} articles of bannedbook.org, {first} to {last}"[:80],
        "LongDescription": (f"{index.count} news articles of bannedbook.org (禁闻网), published {first} to "
                            f"{last}, {script}archived by newsspider with their images, tags and citations "
                            "(live URL, capture time, WARC record)."),
        "Language": "zho",
        "Creator": CREATOR,
        "Publisher": PUBLISHER,
        "Date": today.isoformat(),
        "Flavour": edition.flavour,
        "Tags": f"news;chinese;_category:news;_pictures:{'yes' if images else 'no'};_videos:no;_details:yes;"
                "_ftindex:yes",
        "Source": site.LIVE_ROOT,
        "Scraper": "newsspider",
    }


# --- writing ---------------------------------------------------------------------------------------

def _page_item(path: str, title: str, content: bytes | str, mimetype: str, front: bool,
               indexed: tuple[str, str, str] | None) -> Any:
    from libzim.writer import Hint, IndexData, Item, StringProvider

    class _Index(IndexData):  # type: ignore[misc]
        def has_indexdata(self) -> bool:
            return indexed is not None

        def get_title(self) -> str:
            return indexed[0] if indexed else ""

        def get_content(self) -> str:
            return indexed[1] if indexed else ""

        def get_keywords(self) -> str:
            return indexed[2] if indexed else ""

        def get_wordcount(self) -> int:
            return len(indexed[1]) if indexed else 0

        def get_geoposition(self) -> None:
            return None

    class _Item(Item):  # type: ignore[misc]
        def get_path(self) -> str:
            return path

        def get_title(self) -> str:
            return title

        def get_mimetype(self) -> str:
            return mimetype

        def get_contentprovider(self) -> Any:
            return StringProvider(content)

        def get_hints(self) -> dict[Any, bool]:
            return {Hint.FRONT_ARTICLE: front, Hint.COMPRESS: mimetype.startswith("text/")
                    or mimetype == "image/svg+xml"}

        def get_indexdata(self) -> Any:
            return _Index() if mimetype == "text/html" else None

    return _Item()


def check_output(out: Path, dataset: Path) -> None:
    """Refuse an output the export cannot or must not write (one line: what and where)."""
    try:
        protected = {p.resolve() for p in shard_paths(dataset)}
    except ValueError:
        protected = set()
    resolved = out.resolve()
    data_dir = dataset.resolve() if dataset.is_dir() else dataset.resolve().parent
    if resolved in protected or owned_by_crawl(resolved, data_dir):
        raise ExportError(f"{display_path(out)}: is a file of the dataset or its crawl; "
                          "choose another output file")
    if out.is_dir():
        raise ExportError(f"{display_path(out)}: is a directory")
    if not out.parent.is_dir():
        raise ExportError(f"{display_path(out)}: no such directory {display_path(out.parent)}; "
                          "nothing was written")


#: free space (bytes) below which a failed write is taken for a full disk: less than a cluster libzim
#: writes at once (its default cluster is 2 MiB before compression)
FULL = 4 * 1024 * 1024


def _disk_full(directory: Path) -> bool:
    try:
        return shutil.disk_usage(directory).free < FULL
    except OSError:
        return False


def _leftovers(part: Path) -> list[Path]:
    """The part file and what libzim writes beside it (``PART.zim``, ``PART.zim.tmp``, the indexes'
    ``PART.zim_*.idx*``)."""
    try:
        return [p for p in part.parent.iterdir() if p.name.startswith(part.name)]
    except OSError:
        return []


def remove_stale_parts(out: Path) -> list[Path]:
    """Remove what the exports to *out* that were killed left: each one's part file (``.NAME.<random>.part``,
    locked for as long as its export runs) that no process locks, and what libzim wrote beside it.

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> for name in (".a.zim.0123abcd.part", ".a.zim.0123abcd.part.zim.tmp", ".b.zim.0123abcd.part"):
    ...     _ = (d / name).write_text("x")
    >>> (d / ".a.zim.0123abcd.part.zim_fulltext.idx").mkdir()
    >>> len(remove_stale_parts(d / "a.zim")), sorted(p.name for p in d.iterdir())
    (3, ['.b.zim.0123abcd.part'])
    >>> shutil.rmtree(d)
    """
    name = re.compile(rf"\.{re.escape(out.name)}\.[0-9a-f]{{8}}\.part")
    try:
        parts = [p for p in out.parent.iterdir() if name.fullmatch(p.name)]
    except OSError:
        return []
    removed = []
    for part in parts:
        try:
            fd = os.open(part, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while its export runs
            stale = _leftovers(part)
            _remove(stale)
            removed += stale
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """libzim's writer prints its steps on the process's standard output: they go nowhere (the command
    prints its own one line there)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


class Progress:
    """The export's progress on standard error: a bar on a terminal, else a line each tenth."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total, self.done, self.next = total, 0, max(1, total // 10)
        self.bar: Any = None
        self.enabled = enabled
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=" articles", file=sys.stderr, dynamic_ncols=True)

    def step(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.enabled and (self.done >= self.next or self.done == self.total):
            print(f"zim: {self.done:,} of {self.total:,} articles", file=sys.stderr, flush=True)
            self.next = self.done + max(1, self.total // 10)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def say(line: str, enabled: bool) -> None:
    if enabled:
        print(f"zim: {line}", file=sys.stderr, flush=True)


def _records(dataset: Path, errors: Errors, keep: Callable[[dict[str, Any]], bool]
             ) -> Iterator[dict[str, Any]]:
    return (r for r in iter_articles(dataset, errors=errors) if keep(r))


def write_zim(dataset: str | Path, out: str | Path | None = None, edition: Edition | None = None,
              max_image_kb: int = DEFAULT_MAX_IMAGE_KB, errors: Errors = "raise",
              progress: bool = True) -> Written:
    """Write the offline edition of *dataset* to *out* (default: :func:`default_name` in the working
    directory); return what was written.  Bad input is :class:`ExportError` with one line."""
    edition = edition or Edition()
    dataset = Path(dataset)
    data_dir = dataset if dataset.is_dir() else dataset.parent
    out = Path(out).expanduser() if out is not None else Path(default_name(edition))
    check_output(out, dataset)
    shown = _Shown(edition.traditional)

    say("reading the dataset", progress)
    index = Index()
    try:
        return _write(dataset, data_dir, out, edition, shown, index, max_image_kb, errors, progress)
    finally:
        index.close()


def _write(dataset: Path, data_dir: Path, out: Path, edition: Edition, shown: _Shown, index: Index,
           max_image_kb: int, errors: Errors, progress: bool) -> Written:
    from libzim.writer import Creator

    for record in _records(dataset, errors, edition.filters.keep):
        index.add(record, shown)
    if not index.count:
        what = "no articles" if edition.filters == Filters() else "no articles that the options select"
        raise ExportError(f"{display_path(dataset)}: {what}; no ZIM written")
    index.finish()

    written = Written(out)
    captures: dict[str, Capture] = {}
    if not warc_files(data_dir):
        written.no_archive = (f"no web archive in {display_path(data_dir / WARC_DIR)}: the file has no "
                              "images (crawl with --images to keep them)")
    elif index.image_count:
        say(f"finding {index.image_count:,} images in the web archive", progress)
        try:
            captures = latest_captures(data_dir, want=index.has_image)
        except ArchiveError as exc:
            written.no_archive = f"{exc}: the file has no images"
    images = Images(data_dir, captures, max_image_kb * 1024) if captures else None
    # each page's certificate of capture, checked now (each WARC file hashed once for the whole file)
    certifier = Certifier(data_dir, [])

    today = datetime.now(timezone.utc).date()
    remove_stale_parts(out)
    try:
        part, lock = new_part(out)  # locked while this export runs; libzim writes PART.zim beside it
    except OSError as exc:
        raise ExportError(f"{write_error(exc, display_path(out))}; nothing was written") from exc
    bar = Progress(index.count, progress)
    # Xapian keeps the documents it indexes in memory until it flushes them, every 10,000 by default:
    # the peak RSS grew with the articles (874 MB at 10,000). Every 100 (no slower than 500): 322, 328 and
    # 427 MB at 1,000, 4,000 and 10,000 articles with libzim's 4 compression threads (ZIM_WORKERS)
    os.environ.setdefault("XAPIAN_FLUSH_THRESHOLD", str(XAPIAN_FLUSH))
    creator = Creator(str(part) + ".zim").config_indexing(True, "zho").config_nbworkers(ZIM_WORKERS)
    try:
        with _quiet_stdout(), creator:
            creator.set_mainpath("index")
            for record in _records(dataset, "skip", edition.filters.keep):
                certificate = (certifier.certificate(record, f"article {record['article_id']}")[0]
                               if record.get("warc") else None)
                page = article_page(record, index, shown, images, certificate)
                brief = index.brief(str(record["article_id"]))
                if brief is None:  # not in the first pass (the dataset grew meanwhile): in no list either
                    continue
                body = shown(record.get("body"))
                content = "\n".join(filter(None, [brief.title, shown(record.get("summary")), body]))
                creator.add_item(_page_item(f"a/{brief.article_id}", brief.title, page, "text/html", True,
                                            (brief.title, content, " ".join(map(shown, brief.tags)))))
                if images is not None:
                    for path, data, mime in images.pending:
                        creator.add_item(_page_item(path, "", data, mime, False, None))
                    images.pending.clear()
                written.articles += 1
                bar.step()
            for path, title, html in list_pages(index, edition, shown):
                creator.add_item(_page_item(path, title, html, "text/html", False, None))
            stored = images.stored if images else 0
            for name, value in metadata(edition, index, stored, today).items():
                creator.add_metadata(name, value)
            creator.add_illustration(48, illustration())
            say("writing the indexes", progress)
        bar.close()
        os.replace(str(part) + ".zim", out)
    except (RuntimeError, OSError) as exc:
        bar.close()
        full = _disk_full(out.parent)  # libzim's worker threads may report ENOSPC as "Unknown exception"
        _remove(_leftovers(part))
        message = str(exc)
        if isinstance(exc, OSError):
            reason = write_error(exc, display_path(out))
        elif "No space left on device" in message or full:
            reason = f"no space left on device writing {display_path(out)}"
        else:
            reason = f"{display_path(out)}: the ZIM writer failed ({message.strip().splitlines()[-1]})"
        raise ExportError(f"{reason}; nothing was written") from exc
    except BaseException:
        bar.close()
        _remove(_leftovers(part))
        raise
    finally:
        os.close(lock)
    _remove(_leftovers(part))  # the part file, and what libzim left beside it if anything
    written.images = images.stored if images else 0
    written.images_missing = len(images.missing) if images else index.image_count
    return written
