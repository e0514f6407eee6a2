"""The reading room of ``newsspider browse``: the search page (the front door) and an article page.

Both are Datasette plugin routes (:func:`routes`) rendered server-side from
the Jinja templates in ``templates/`` (``room_*.html``, autoescaped: what the
site published is hostile until shown otherwise), with no script and nothing
from the internet.  Which articles a search finds is the exact definition of
:mod:`newsspider.views.search.tokens` (the same MATCH expression as
``dataset search``); they are ranked by bm25 as :func:`~newsspider.views.search.database.search`
ranks them, or listed newest or oldest first.  The query, the filters (year,
category, source, tag) and the page are all in the URL (:class:`Ask`).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import sqlite3
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from datasette import Response

from newsspider.dataset.diff import IGNORED
from newsspider.extract.items import FIELDS
from newsspider.views.search.database import PROBES, RANKED
from newsspider.views.search.snippet import snippet
from newsspider.views.search.tokens import QueryError, match_expression, term_forms, terms

__all__ = ["MAX_QUERY", "PER_PAGE", "Ask", "routes"]

PLUGIN = "newsspider"
#: hits on one page of results
PER_PAGE = 20
#: the longest query searched (characters): a longer one is a message, not minutes of work
MAX_QUERY = 200
#: the values of a filter listed with their counts
FACET_VALUES = 12
SORTS = ("best", "newest", "oldest")
FILTERS = ("year", "category", "source", "tag")
#: the filter of the articles the site removed (``removed=yes``), shown apart from the others
REMOVED = "removed"
_LIST_COLUMNS = ("a.article_id, a.published_date, a.title, a.category, a.author, a.source, a.tags, "
                 "a.summary, a.body")


@dataclass(frozen=True)
class Ask:
    """What a search page asks for, as its URL gives it (bad values made harmless, never an error).

    >>> Ask.parse({"q": "  中国 ", "page": "x", "sort": "worst", "tag": "人权"})
    Ask(query='中国', sort='best', page=1, filters=(('tag', '人权'),))
    >>> Ask.parse({"q": "中国", "page": "3"}).link(page=1)
    '?q=%E4%B8%AD%E5%9B%BD'
    """

    query: str = ""
    sort: str = "best"
    page: int = 1
    filters: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def parse(cls, args: Any) -> Ask:
        query = (args.get("q") or "").strip()
        sort = args.get("sort") or "best"
        page = args.get("page") or "1"
        filters = tuple((name, value) for name in (*FILTERS, REMOVED)
                        if (value := (args.get(name) or "").strip()))
        number = int(page) if page.isdigit() and len(page) < 10 else 0
        return cls(query, sort if sort in SORTS else "best", number or 1, filters)

    def params(self, **changes: Any) -> dict[str, str]:
        """The URL's parameters, with *changes* (a filter set to None is removed)."""
        values: dict[str, Any] = {"q": self.query, **dict(self.filters), "sort": self.sort, "page": self.page}
        values.update(changes)
        return {k: str(v) for k, v in values.items()
                if v not in (None, "") and not (k == "sort" and v == "best") and not (k == "page" and v == 1)}

    def link(self, **changes: Any) -> str:
        return "?" + urlencode(self.params(**changes))

    @property
    def removed(self) -> bool:
        """Whether only the articles the site removed are asked for."""
        return any(name == REMOVED for name, _ in self.filters)

    def where(self) -> tuple[str, list[Any]]:
        """The filters as SQL over ``articles a``."""
        clauses, params = [], []
        for name, value in self.filters:
            if name == REMOVED:  # any value: the articles the site removed
                clauses.append("a.article_id IN (SELECT article_id FROM removals WHERE ? != '')")
            elif name == "tag":
                clauses.append("a.article_id IN (SELECT article_id FROM tags WHERE tag = ?)")
            elif name == "year":
                clauses.append("a.year = ?")
            else:
                clauses.append(f"a.{name} = ?")
            params.append(value)
        return "".join(f" AND {c}" for c in clauses), params


@dataclass
class Hit:
    """One article of a results page, ready to show."""

    article_id: str
    published_date: str
    title: str
    category: str | None
    author: str | None
    source: str | None
    tags: list[str]
    #: the snippet as (text, marked) pieces
    pieces: list[tuple[str, bool]]
    #: when the site's removal of the article was confirmed (None: on the site)
    removed_at: str | None = None


@dataclass
class Results:
    """A page of results, the count and the filters' counts, or the message why there are none."""

    ask: Ask
    total: int = 0
    hits: list[Hit] = field(default_factory=list)
    ranked: bool = False
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    error: str | None = None
    #: each term alone and how many articles hold it (when all together hold none)
    alone: list[tuple[str, int]] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)
    #: the hits without the filters (when the filters leave none)
    unfiltered: int | None = None
    #: how many of the hits the site removed
    removed: int = 0

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PER_PAGE))


def _pieces(text: str, marks: tuple[tuple[int, int], ...]) -> list[tuple[str, bool]]:
    """*text* cut at *marks*: (piece, marked).

    >>> _pieces("前文新疆的棉花", ((2, 4), (5, 7)))
    [('前文', False), ('新疆', True), ('的', False), ('棉花', True)]
    """
    out, last = [], 0
    for start, end in marks:
        if start > last:
            out.append((text[last:start], False))
        out.append((text[start:end], True))
        last = end
    if last < len(text):
        out.append((text[last:], False))
    return out


def _list(value: str | None) -> list[Any]:
    try:
        items = json.loads(value) if value else []
    except ValueError:
        return []
    return items if isinstance(items, list) else []


def _matching(ask: Ask, many: bool = False) -> tuple[str, list[Any]]:
    """SQL over ``articles a`` that keeps the articles the search finds (query and filters).  With
    *many* (the query finds many articles) the hits are not looked up one by one (``+`` keeps SQLite
    from it) but an index of the articles is read whole and checked against them."""
    sql, params = ask.where()
    if ask.query:
        return (f" AND {'+' if many else ''}a.rowid IN (SELECT rowid FROM search WHERE search MATCH ?)" + sql,
                [match_expression(ask.query), *params])
    return sql, params


def _count(conn: sqlite3.Connection, ask: Ask, many: bool = False) -> int:
    """How many articles the search finds (*many*: most of the articles hold the query)."""
    if ask.query and not ask.filters:  # the index alone counts faster than a join
        return int(conn.execute("SELECT count(*) FROM search WHERE search MATCH ?",
                                [match_expression(ask.query)]).fetchone()[0])
    sql, params = _matching(ask, many)
    return int(conn.execute(f"SELECT count(*) FROM articles a WHERE 1{sql}", params).fetchone()[0])


def _articles(conn: sqlite3.Connection) -> int:
    """About how many articles there are (rowids are never reused)."""
    return int(conn.execute("SELECT coalesce(max(rowid), 0) FROM articles").fetchone()[0])


def _many(conn: sqlite3.Connection, ask: Ask) -> bool:
    """Whether the query alone finds so many articles (a twentieth or more) that reading the narrow
    ``articles_facets`` index whole is cheaper than looking up each hit's row."""
    if not ask.query:
        return True
    found = _count(conn, replace(ask, filters=()))
    return found * 20 >= _articles(conn)


#: the counts of every filter's values over all the articles (no query), by database file and version
_ALL_COUNTS: dict[str, tuple[tuple[int, int], dict[str, dict[Any, int]]]] = {}


def _counts(conn: sqlite3.Connection, where: str, params: list[Any]) -> dict[str, dict[Any, int]]:
    """Each filter's values and how many of the articles kept by *where* (SQL over ``articles a``) have
    each: the year, category and source in one grouped pass over the ``articles_facets`` index."""
    found: dict[str, dict[Any, int]] = {name: {} for name in FILTERS}
    for year, category, source, n in conn.execute(
            f"SELECT a.year, a.category, a.source, count(*) FROM articles a WHERE 1{where} GROUP BY 1, 2, 3",
            params):
        for name, value in (("year", year), ("category", category), ("source", source)):
            if value is not None:
                found[name][value] = found[name].get(value, 0) + n
    if where:
        tags = conn.execute(f"SELECT t.tag, count(*) FROM tags t WHERE t.article_id IN "
                            f"(SELECT a.article_id FROM articles a WHERE 1{where}) GROUP BY 1", params)
    else:  # every tag row is of an article (a changed article's are replaced)
        tags = conn.execute("SELECT t.tag, count(*) FROM tags t GROUP BY 1")
    found["tag"] = dict(tags.fetchall())
    return found


def _all_counts(conn: sqlite3.Connection) -> dict[str, dict[Any, int]]:
    """:func:`_counts` of every article, counted again only when the database file has changed."""
    path = next(row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main")
    try:
        stat = os.stat(path)
        version = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        return _counts(conn, "", [])
    cached = _ALL_COUNTS.get(path)
    if cached is None or cached[0] != version:
        cached = _ALL_COUNTS[path] = (version, _counts(conn, "", []))
    return cached[1]


def _order(value: Any) -> tuple[int, Any]:
    """SQLite's order of values of mixed types: NULL, numbers, text."""
    return (0, 0) if value is None else (1, value) if isinstance(value, int | float) else (2, str(value))


def _facets(conn: sqlite3.Connection, ask: Ask, many: bool) -> dict[str, list[tuple[str, int]]]:
    """Each filter's :data:`FACET_VALUES` commonest values among the hits with their counts (the years
    newest first).  When the query finds most of the articles, the counts are those of the filters alone
    less those of the few articles the query does not find."""
    filters, params = ask.where()
    if not ask.query:
        found = _all_counts(conn) if not filters else _counts(conn, filters, params)
    elif many and _count(conn, replace(ask, filters=())) * 2 > _articles(conn):
        found = _all_counts(conn) if not filters else _counts(conn, filters, params)
        missed = _counts(conn, " AND +a.rowid NOT IN (SELECT rowid FROM search WHERE search MATCH ?)"
                         + filters, [match_expression(ask.query), *params])
        found = {name: {value: n - missed[name].get(value, 0) for value, n in values.items()}
                 for name, values in found.items()}
    else:
        sql, sql_params = _matching(ask, many)
        found = _counts(conn, sql, sql_params)
    facets = {}
    for name in FILTERS:
        values = [(value, n) for value, n in found[name].items() if n > 0]
        if name == "year":
            values.sort(key=lambda item: _order(item[0]), reverse=True)
        else:
            values.sort(key=lambda item: (-item[1], _order(item[0])))
        facets[name] = [(str(value), n) for value, n in values[:FACET_VALUES]]
    return facets


def _ranked_filters(ask: Ask, many: bool) -> tuple[str, list[Any]]:
    """The filters of a ranked query (``search JOIN articles a``).  When the words are in many
    articles, the filters pick their articles first, from the narrow indexes, and each hit is checked
    against that set (``+``: not looked up one by one in the full-text index) instead of reading its
    whole row: 中国 in a year and a category at 100,000 articles, 115 → 24 ms."""
    where, params = ask.where()
    if many and ask.filters:
        return f" AND +search.rowid IN (SELECT a.rowid FROM articles a WHERE 1{where})", params
    return where, params


def find(conn: sqlite3.Connection, ask: Ask) -> Results:
    """The page of results *ask* wants, with the count and each filter's values and counts."""
    results = Results(ask)
    if len(ask.query) > MAX_QUERY:
        results.error = (f"The query is {len(ask.query):,} characters long; at most {MAX_QUERY} are "
                         "searched. Search for a few words of it.")
        return results
    try:
        many = _many(conn, ask)
        results.total = _count(conn, ask, many)
    except QueryError:
        results.error = "The query has nothing to search for (only spaces and quotes)."
        return results
    sql, params = _matching(ask, many)
    if results.total:
        offset = (ask.page - 1) * PER_PAGE
        results.ranked = bool(ask.query) and ask.sort == "best" and results.total <= RANKED
        if results.ranked:
            where, where_params = _ranked_filters(ask, many)
            rows = conn.execute(
                f"SELECT {_LIST_COLUMNS} FROM search JOIN articles a ON a.rowid = search.rowid "
                f"WHERE search MATCH ?{where} "
                "ORDER BY bm25(search, 1.0, 3.0, 10.0), a.published_date DESC LIMIT ? OFFSET ?",
                [match_expression(ask.query), *where_params, PER_PAGE, offset])
        else:
            order = "ASC" if ask.sort == "oldest" else "DESC"
            if (ask.query and not ask.filters and "*" not in params[0]
                    and (offset + PER_PAGE) * _articles(conn) <= PROBES * results.total):
                # most articles hold it: ask the index of each article in date order, as search() does
                rows = conn.execute(
                    f"SELECT {_LIST_COLUMNS} FROM articles a INDEXED BY articles_date WHERE EXISTS "
                    "(SELECT 1 FROM search WHERE search MATCH ? AND search.rowid = a.rowid) "
                    f"ORDER BY a.published_date {order}, a.rowid {order} LIMIT ? OFFSET ?",
                    [*params, PER_PAGE, offset])
            else:
                rows = conn.execute(f"SELECT {_LIST_COLUMNS} FROM articles a WHERE 1{sql} "
                                    f"ORDER BY a.published_date {order}, a.rowid {order} LIMIT ? OFFSET ?",
                                    [*params, PER_PAGE, offset])
        for article_id, day, title, category, author, source, tags, summary, body in rows:
            if ask.query:
                text, marks = snippet([summary, body, title], ask.query)
            else:
                text, marks = (summary or (body or "")[:80]).replace("\n", " "), ()
            results.hits.append(Hit(article_id, day or "", title or article_id, category, author, source,
                                    [t for t in _list(tags) if isinstance(t, str)], _pieces(text, marks)))
        results.facets = _facets(conn, ask, many)
        _mark_removed(conn, ask, results, many)
    elif ask.query:
        found = terms(ask.query)
        results.forms = [form for term in found for form in term_forms(term)[1:]]
        if len(found) > 1:
            results.alone = [(term, _count(conn, replace(ask, query=f'"{term}"', filters=())))
                             for term in found]
    if not results.total and ask.filters:
        results.unfiltered = _count(conn, replace(ask, filters=()))
    return results


def _mark_removed(conn: sqlite3.Connection, ask: Ask, results: Results, many: bool) -> None:
    """The hits the site removed: each one's date of removal, and how many there are of all the hits."""
    ids = [hit.article_id for hit in results.hits]
    removed = dict(conn.execute(f"SELECT article_id, removed_at FROM removals WHERE article_id IN "
                                f"({', '.join('?' * len(ids))})", ids).fetchall())
    for hit in results.hits:
        hit.removed_at = removed.get(hit.article_id)
    sql, params = _matching(ask, many)
    results.removed = int(conn.execute(
        f"SELECT count(*) FROM articles a WHERE a.article_id IN (SELECT article_id FROM removals){sql}",
        params).fetchone()[0])


def download_rows(conn: sqlite3.Connection, ask: Ask) -> list[dict[str, Any]]:
    """Every article the search finds, in its order, as the downloads give them."""
    sql, params = _matching(ask)
    columns = ["article_id", "published_date", "title", "category", "author", "source", "tags", "url"]
    select = ", ".join(f"a.{c}" for c in columns)
    if ask.query and ask.sort == "best" and _count(conn, ask) <= RANKED:
        rows = conn.execute(f"SELECT {select} FROM search JOIN articles a ON a.rowid = search.rowid "
                            f"WHERE search MATCH ?{ask.where()[0]} "
                            "ORDER BY bm25(search, 1.0, 3.0, 10.0), a.published_date DESC",
                            [match_expression(ask.query), *ask.where()[1]])
    else:
        order = "ASC" if ask.sort == "oldest" else "DESC"
        rows = conn.execute(f"SELECT {select} FROM articles a WHERE 1{sql} "
                            f"ORDER BY a.published_date {order}, a.rowid {order}", params)
    out = []
    for row in rows:
        item = dict(zip(columns, row, strict=True))
        item["tags"] = [t for t in _list(item["tags"]) if isinstance(t, str)]
        out.append(item)
    return out


# --- the article page ------------------------------------------------------------------------------

def web_link(url: Any) -> str | None:
    """*url* when a browser may follow it (http or https), else None.

    >>> web_link("https://www.bannedbook.org/a.html"), web_link("javascript:alert(1)"), web_link(None)
    ('https://www.bannedbook.org/a.html', None, None)
    >>> web_link(" JavaScript:alert(1)"), web_link("//evil.example/x")
    (None, None)
    """
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


_ARTICLE_ID = re.compile(r"/(\d+)\.html?$")


@cache
def _converter(name: str) -> Any:
    import opencc

    return opencc.OpenCC(name)


def convert(text: str | None, script: str | None) -> str | None:
    """*text* shown in the other script: "t" traditional (OpenCC s2t), "s" simplified (t2s), else as stored.

    >>> convert("中国人权", "t"), convert("中國人權", "s"), convert("中國", None)
    ('中國人權', '中国人权', '中國')
    """
    if not text or script not in ("t", "s"):
        return text
    return str(_converter("s2t" if script == "t" else "t2s").convert(text))


def article(conn: sqlite3.Connection, article_id: str) -> dict[str, Any] | None:
    """The article's latest record (lists and objects as Python values), its versions and related articles."""
    row = conn.execute(f"SELECT {', '.join(FIELDS)} FROM articles WHERE article_id = ?",
                       [article_id]).fetchone()
    if row is None:
        return None
    record = dict(zip(FIELDS, row, strict=True))
    gone = conn.execute("SELECT removed_at, removed_how FROM removals WHERE article_id = ?",
                        [article_id]).fetchone()
    record["removed_at"], record["removed_how"] = gone or (None, None)
    for name in ("tags", "related_urls", "images"):
        record[name] = _list(record[name])
    try:
        record["warc"] = json.loads(record["warc"]) if record["warc"] else None
    except ValueError:
        record["warc"] = None
    if not isinstance(record["warc"], dict):
        record["warc"] = None
    versions = [dict(zip(FIELDS, v, strict=True)) for v in conn.execute(
        f"SELECT {', '.join(FIELDS)} FROM versions WHERE article_id = ? ORDER BY version", [article_id])]
    record["versions_list"] = [
        {"version": v["version"], "crawled_at": v["crawled_at"], "content_hash": v["content_hash"],
         "changed": [name for name in FIELDS
                     if name not in IGNORED and i and versions[i - 1][name] != v[name]]}
        for i, v in enumerate(versions)]
    related = []
    for url in record["related_urls"]:
        if not isinstance(url, str):
            continue
        found = conn.execute("SELECT article_id, title FROM articles WHERE url = ?", [url]).fetchone()
        if found is None and (match := _ARTICLE_ID.search(urlsplit(url).path)):
            found = conn.execute("SELECT article_id, title FROM articles WHERE article_id = ?",
                                 [match[1]]).fetchone()
        related.append({"url": url, "live": web_link(url), "article_id": found[0] if found else None,
                        "title": found[1] if found else None})
    record["related"] = related
    return record


# --- the routes ------------------------------------------------------------------------------------

def _database(datasette: Any) -> Any:
    return next(db for name, db in datasette.databases.items() if name != "_internal" and not db.is_memory)


def _url(datasette: Any, path: str) -> str:
    return str(datasette.urls.path(path))


async def _page(datasette: Any, request: Any, template: str, context: dict[str, Any],
                status: int = 200) -> Response:
    database = _database(datasette)
    context = {"home": _url(datasette, "/"), "query_data": datasette.urls.table(database.name, "articles"),
               "title_prefix": "newsspider archive", **context}
    body = await datasette.render_template(template, context, request=request)
    return Response.html(body, status=status)


async def search_page(request: Any, datasette: Any) -> Response:
    """The front door: one search box, the results best first, filters with counts, paging."""
    ask = Ask.parse(request.args)
    database = _database(datasette)
    results: Results = await database.execute_fn(lambda conn: find(conn, ask))
    articles = None
    if not ask.query and not results.error:
        articles = await database.execute_fn(
            lambda conn: conn.execute("SELECT count(*) FROM articles").fetchone()[0])
    table = datasette.urls.table(database.name, "articles")
    context = {
        "ask": ask, "results": results, "articles": articles, "sorts": SORTS,
        "filter_names": FILTERS, "per_page": PER_PAGE, "max_query": MAX_QUERY,
        "article_url": _url(datasette, f"/-/{PLUGIN}/article/"),
        "downloads": {kind: _url(datasette, f"/-/{PLUGIN}/results.{kind}") + ask.link(page=1)
                      for kind in ("csv", "json")},
        "query_data": table + ("?" + urlencode({"_q": ask.query}) if ask.query else ""),
        "past_end": results.total and ask.page > results.pages,
    }
    return await _page(datasette, request, "room_search.html", context)


async def download(request: Any, datasette: Any) -> Response:
    """The search's whole result set as CSV or JSON."""
    kind = request.url_vars["format"]
    ask = Ask.parse(request.args)
    if len(ask.query) > MAX_QUERY:
        return Response.text(f"The query is longer than {MAX_QUERY} characters.\n", status=400)
    try:
        rows = await _database(datasette).execute_fn(lambda conn: download_rows(conn, ask))
    except QueryError:
        return Response.text("The query has nothing to search for.\n", status=400)
    for row in rows:
        row["article_page"] = _url(datasette, f"/-/{PLUGIN}/article/{row['article_id']}")
    headers = {"Content-Disposition": f'attachment; filename="newsspider-results.{kind}"'}
    if kind == "json":
        return Response(json.dumps(rows, ensure_ascii=False, indent=1), content_type="application/json",
                        headers=headers)
    out = io.StringIO()
    writer = csv.writer(out)
    columns = ["article_id", "published_date", "title", "category", "author", "source", "tags", "url",
               "article_page"]
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["|".join(row[c]) if c == "tags" else row[c] for c in columns])
    return Response("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8", headers=headers)


async def article_page(request: Any, datasette: Any) -> Response:
    """An article: its fields, its body, its tags and related articles, its versions, how to cite it."""
    article_id = unquote(request.url_vars["article_id"])
    database = _database(datasette)
    record = (await database.execute_fn(lambda conn: article(conn, article_id))
              if article_id.isdigit() else None)
    if record is None:
        return await _page(datasette, request, "room_missing.html", {"article_id": article_id}, status=404)
    script = request.args.get("script")
    script = script if script in ("t", "s") else None
    shown = {name: convert(record[name], script) for name in ("title", "summary", "body", "author", "source",
                                                               "editor", "image_credit", "category")}
    paragraphs = [p for p in (shown["body"] or "").split("\n\n") if p.strip()]
    warc = record["warc"]
    lead, figures = await _figures(datasette, record, script)
    context = {
        "lead": lead, "figures": figures,
        "a": record, "shown": shown, "paragraphs": paragraphs, "script": script,
        "live": web_link(record["url"]),
        "lang": {"t": "zh-Hant", "s": "zh-Hans"}.get(script or "", "zh"),
        "tag_links": [(convert(tag, script), _url(datasette, "/") + "?" + urlencode({"tag": tag}))
                      for tag in record["tags"] if isinstance(tag, str)],
        "article_url": _url(datasette, f"/-/{PLUGIN}/article/"),
        "archived": _url(datasette, f"/-/{PLUGIN}/page/{article_id}") if warc else None,
        "versions_url": _url(datasette, f"/-/{PLUGIN}/versions/{article_id}"),
        "certificate_url": _url(datasette, f"/-/{PLUGIN}/certificate/{article_id}") if warc else None,
        "row_url": (datasette.urls.table(database.name, "articles") + "?"
                    + urlencode({"article_id": article_id})),
        "script_links": {s: "?" + urlencode({"script": s}) if s else "?" for s in ("", "t", "s")},
    }
    return await _page(datasette, request, "room_article.html", context)


async def _figures(datasette: Any, record: dict[str, Any], script: str | None
                   ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The article's lead image and its other images, each with its alt text and caption and the route of
    its archived copy (``src``; None when the archive does not hold it).  A lead image not archived is
    left out; so is another with neither caption nor alt text to show in its place."""
    images = [{"url": i["url"], "alt": convert(i.get("alt"), script),
               "caption": convert(i.get("caption"), script)}
              for i in record["images"] if isinstance(i, dict) and isinstance(i.get("url"), str)]
    lead_url = record["image_url"] if isinstance(record["image_url"], str) else None
    if not images and not lead_url:
        return None, []
    from newsspider.views.search.served import asset_route, refreshed_assets

    assets = await refreshed_assets(datasette)
    at = record["crawled_at"] if isinstance(record["crawled_at"], str) else None
    prefix = datasette.urls.path("/")
    for image in images:
        image["src"] = asset_route(prefix, image["url"], at) if assets.find(image["url"], at) else None
    lead = None
    if lead_url is None or (images and images[0]["url"] == lead_url):
        if images and images[0]["src"]:
            lead = images.pop(0)
    elif assets.find(lead_url, at):
        lead = {"url": lead_url, "alt": None, "caption": None, "src": asset_route(prefix, lead_url, at)}
    return lead, [i for i in images if i["src"] or i["caption"] or i["alt"]]


async def certificate_page(request: Any, datasette: Any) -> Response:
    """The certificate of an article's latest capture, checked now against the data dir's web archive and
    run manifests (as ``newsspider verify DATA_DIR ID`` does): what a footnote cites, and whether it holds."""
    from newsspider.archive.evidence import CERTIFICATE_LABELS, record_certificate

    article_id = unquote(request.url_vars["article_id"])
    record = (await _database(datasette).execute_fn(lambda conn: article(conn, article_id))
              if article_id.isdigit() else None)
    if record is None:
        return await _page(datasette, request, "room_missing.html", {"article_id": article_id}, status=404)
    where = f"article {article_id} version {record['version']}"
    # reads the archived page and hashes its WARC file: off the event loop
    data_dir = datasette.newsspider_data_dir
    fields, report = await asyncio.to_thread(record_certificate, data_dir, record, where, [])
    return await _page(datasette, request, "room_certificate.html", {
        "fields": fields, "notes": report.notes, "labels": CERTIFICATE_LABELS,
        "article_link": _url(datasette, f"/-/{PLUGIN}/article/{article_id}")})


def routes() -> list[tuple[str, Any]]:
    """The reading room's routes: the search page is the site's front page."""
    return [(r"^/$", search_page),
            (rf"^/-/{PLUGIN}/results\.(?P<format>csv|json)$", download),
            (rf"^/-/{PLUGIN}/article/(?P<article_id>[^/]+)$", article_page),
            (rf"^/-/{PLUGIN}/certificate/(?P<article_id>[^/]+)$", certificate_page)]
