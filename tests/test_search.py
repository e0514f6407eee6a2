"""The SQLite database and its Chinese search, checked against a brute-force substring scan."""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

import opencc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsspider.dataset.reader import iter_articles, record_example
from newsspider.views.search.database import RANKED, Where, build, count, open_readonly, search
from tests.conftest import REPO, crawl, read_jsonl, run_cli
from tests.mockserver import MockServer

# One worker runs this module (one crawled site and one generated corpus for the module).
pytestmark = pytest.mark.xdist_group("search")

FIELDS = ("title", "summary", "body")


def _is_cjk(char: str) -> bool:
    name = unicodedata.name(char, "")
    return name.startswith(("CJK ", "HIRAGANA", "KATAKANA", "HANGUL"))


def _is_word(char: str) -> bool:
    return char.isalnum() and not _is_cjk(char)


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split()) if text.strip() else ""


def _terms(query: str) -> list[str]:
    if query.startswith('"') and query.endswith('"'):
        return [_normal(query[1:-1])]
    return [_normal(word) for word in query.split()]


def _occurs(text: str | None, term: str) -> bool:
    """Brute force: *term* is a substring of *text* whose letter/digit edges are not inside a word."""
    text = _normal(text or "")
    for start in range(len(text) - len(term) + 1):
        if text[start:start + len(term)] != term:
            continue
        end = start + len(term)
        if _is_word(term[0]) and start > 0 and _is_word(text[start - 1]):
            continue
        if _is_word(term[-1]) and end < len(text) and _is_word(text[end]):
            continue
        return True
    return False


def brute_force(records: Iterable[dict[str, Any]], query: str, forms: bool = False) -> set[str]:
    """The ids of the records whose title, summary or body hold every term of *query*."""
    converters = [opencc.OpenCC(name) for name in ("t2s", "s2t", "s2tw", "s2hk")] if forms else []
    terms = [{term, *(_normal(c.convert(term)) for c in converters)} for term in _terms(query)]
    return {r["article_id"] for r in records
            if all(any(_occurs(r.get(f), form) for form in group for f in FIELDS) for group in terms)}


def indexed(conn: sqlite3.Connection, query: str, forms: bool = False) -> set[str]:
    found = {hit.article_id for hit in search(conn, query, limit=None, variants=forms)}
    assert count(conn, query, variants=forms) == len(found)
    return found


def write_records(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


# -- generated texts: every kind of character next to every other -------------------------------

ALPHABET = "中国人民香港台湾新疆棉花的了ｱあ한AaBb16０·,，。 \n-"
TEXT = st.text(alphabet=ALPHABET, max_size=40)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[sqlite3.Connection, list[dict[str, Any]]]:
    data = tmp_path_factory.mktemp("generated")
    rng = random.Random(7)
    records = [record_example(article_id=str(n), title="".join(rng.choices(ALPHABET, k=rng.randint(1, 12))),
                              summary="".join(rng.choices(ALPHABET, k=rng.randint(0, 20))) or None,
                              body="".join(rng.choices(ALPHABET, k=rng.randint(1, 60))))
               for n in range(1, 401)]
    write_records(data / "articles.jsonl", records)
    built = build(data)
    assert built.articles == 400
    return open_readonly(built.path), records


@given(query=st.text(alphabet=ALPHABET.replace(" ", "").replace("\n", ""), min_size=1, max_size=4))
@settings(max_examples=400, deadline=None)
def test_every_query_of_generated_texts_finds_exactly_what_a_substring_scan_finds(
        generated: tuple[sqlite3.Connection, list[dict[str, Any]]], query: str) -> None:
    conn, records = generated
    assert indexed(conn, query) == brute_force(records, query)


@given(words=st.lists(st.text(alphabet="中国人香港AaB1·", min_size=1, max_size=3), min_size=1, max_size=3),
       quoted=st.booleans())
@settings(max_examples=200, deadline=None)
def test_several_words_and_quoted_phrases_of_generated_texts(
        generated: tuple[sqlite3.Connection, list[dict[str, Any]]], words: list[str], quoted: bool) -> None:
    conn, records = generated
    query = '"' + " ".join(words) + '"' if quoted else " ".join(words)
    assert indexed(conn, query) == brute_force(records, query)


# -- the crawled mock site ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mock site (the real seed pages and generated ones, 30 more added) crawled, one article edited."""
    data = tmp_path_factory.mktemp("site")
    with MockServer() as server:
        server.add_articles(30)
        assert crawl(server, data).returncode == 0
        server.edit_article(2060000)
        assert crawl(server, data, "--refresh").returncode == 0
    return data


def _queries(records: list[dict[str, Any]], rng: random.Random) -> list[str]:
    """Substrings of the articles' text: 1-4 characters anywhere, across a tag link, a line break."""
    queries = ["中国", "中", "香港 台湾", "6·4", "OpenAI API", '"OpenAI API"', "新疆 棉花", "2020", "AI",
               "贸易战"]
    for record in rng.sample(records, 25):
        body = record["body"]
        for _ in range(6):
            start = rng.randrange(len(body))
            queries.append(body[start:start + rng.randint(1, 4)])
        for tag in record["tags"]:  # the tag is a link inside the text: a query across its edges
            where = body.find(tag)
            if where > 1:
                queries += [body[where - 2:where + 1], body[where + len(tag) - 1:where + len(tag) + 2]]
        where = body.find("\n")
        if where > 1:  # paragraphs (and <br>) are a line break: a phrase across it
            queries.append('"' + body[where - 2:where + 3] + '"')
    return [q for q in queries if q.strip() and '"' not in q.strip('"')]


def test_search_of_the_crawled_site_is_exact_for_many_queries(site: Path) -> None:
    built = build(site)
    conn = open_readonly(built.path)
    records = list(iter_articles(site))
    assert built.articles == len(records) > 70
    queries = _queries(records, random.Random(3))
    assert len(queries) > 150
    hits = 0
    for query in queries:
        expected = brute_force(records, query)
        assert indexed(conn, query) == expected, query
        hits += bool(expected)
    assert hits > 100  # the queries do find articles
    assert indexed(conn, "中国") == brute_force(records, "中国") != set()


def test_simplified_and_traditional_forms_find_each_other(tmp_path: Path) -> None:
    write_records(tmp_path / "articles.jsonl", [
        record_example(article_id="1", title="中國經濟", body="臺灣"),
        record_example(article_id="2", title="中国经济", body="台湾"),
        record_example(article_id="3", title="美国", body="香港")])
    conn = open_readonly(build(tmp_path).path)
    records = list(iter_articles(tmp_path))
    for query in ("中国", "中國經濟", "台湾", "臺灣", "经济 台湾"):
        assert indexed(conn, query, forms=True) == brute_force(records, query, forms=True) == {"1", "2"}
    assert indexed(conn, "中國") == {"1"}  # the form typed only
    assert indexed(conn, "中国") == {"2"}


def test_the_database_holds_every_field_the_versions_tags_and_runs(site: Path) -> None:
    conn = open_readonly(build(site).path)
    conn.row_factory = sqlite3.Row
    latest = {r["article_id"]: r for r in iter_articles(site)}
    every = read_jsonl(site / "articles.jsonl")
    row = conn.execute("SELECT * FROM articles WHERE article_id = '2054421'").fetchone()
    record = latest["2054421"]
    assert row["title"] == record["title"] and row["body"] == record["body"]
    assert json.loads(row["tags"]) == record["tags"] and json.loads(row["images"]) == record["images"]
    assert row["year"] == 2024
    assert conn.execute("SELECT count(*) FROM versions").fetchone()[0] == len(every)
    assert [r[0] for r in conn.execute("SELECT version FROM versions WHERE article_id = '2060000' "
                                       "ORDER BY version")] == [1, 2]
    tags = {(r[0], r[1]) for r in conn.execute("SELECT article_id, tag FROM tags")}
    assert tags == {(a, t) for a, r in latest.items() for t in r["tags"]}
    assert [r["status"] for r in conn.execute("SELECT status FROM runs")] == ["finished", "finished"]
    hits = list(search(conn, "中国", Where(since="2024-01-01", tag="中国"), limit=None))
    assert hits and all(h.published_date >= "2024-01-01" and "中国" in latest[h.article_id]["tags"]
                        for h in hits)
    first = next(search(conn, "中国"))
    marked = [first.snippet[s:e] for s, e in first.highlights]
    assert marked and set(marked) == {"中国"}
    # more hits than are ranked: the same articles, newest first
    newest = list(search(conn, "中国", limit=None, variants=False, total=RANKED + 1))
    assert {h.article_id for h in newest} == brute_force(latest.values(), "中国")
    assert [h.published_date for h in newest] == sorted((h.published_date for h in newest), reverse=True)
    assert all(h.score is None for h in newest) and all(h.score is not None for h in hits)
    # the newest few of them, found by asking the index about the newest articles one by one
    assert [h.article_id for h in search(conn, "中国", limit=3, variants=False, total=RANKED + 1)
            ] == [h.article_id for h in newest[:3]]


# -- building again, killed, bad lines; the commands ---------------------------------------------

def test_building_again_adds_only_what_is_new_or_changed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with MockServer() as server:
        assert crawl(server, data).returncode == 0
        first = run_cli("dataset", "sqlite", str(data))
        assert first.returncode == 0, first.stderr
        total = len(list(iter_articles(data)))
        assert f"{data / 'archive.db'}: {total} articles ({total} added, 0 changed" in first.stdout
        again = run_cli("dataset", "sqlite", str(data))
        assert f"{total} articles (0 added, 0 changed, from 0 records read)" in again.stdout
        new = server.add_articles(3)
        server.edit_article(2060000)
        assert crawl(server, data, "--refresh").returncode == 0
    third = run_cli("dataset", "sqlite", str(data))
    assert f"{total + 3} articles (3 added, 1 changed" in third.stdout, third.stdout
    conn = open_readonly(data / "archive.db")
    assert {h.article_id for h in search(conn, f"新发表的演示文章{new[0]}")} == {str(new[0])}
    edited = next(r for r in iter_articles(data) if r["article_id"] == "2060000")
    title = conn.execute("SELECT title FROM articles WHERE article_id = '2060000'").fetchone()[0]
    assert title == edited["title"]
    # the old text is no longer in the index, the new text is
    old = next(r for r in read_jsonl(data / "articles.jsonl") if r["article_id"] == "2060000")
    gone = set(old["body"]) - set(edited["body"])
    for char in gone:
        assert "2060000" not in {h.article_id for h in search(conn, char, limit=None, variants=False)}
    diff = run_cli("dataset", "diff", str(data), "2060000")
    assert diff.returncode == 0 and "version 1" in diff.stdout and "→ version 2" in diff.stdout
    assert "{+" in diff.stdout or "[-" in diff.stdout


#: ``newsspider dataset sqlite DATA_DIR`` with a build cache of 2 MiB instead of 128 (CACHE_KIB), so
#: that a build of a few thousand articles, not of 40,000 (300 MB), spills its pages to the file
SMALL_CACHE_BUILD = ("import sys; from newsspider.views.search import database; database.CACHE_KIB = 2048; "
                     "from newsspider.cli import main; main(sys.argv[1:], prog_name='newsspider')")


def test_a_killed_build_leaves_the_last_database_usable(tmp_path: Path) -> None:
    base = [record_example(article_id=str(n), title=f"标题{n}", body="中国人权" * 50) for n in range(1, 11)]
    write_records(tmp_path / "articles.jsonl", base)
    assert build(tmp_path).articles == 10
    more = [record_example(article_id=str(n), title=f"新标题{n}", body="香港台湾新疆棉花" * 300)
            for n in range(11, 4011)]
    write_records(tmp_path / "articles.jsonl", more)
    process = subprocess.Popen([sys.executable, "-c", SMALL_CACHE_BUILD, "dataset", "sqlite", str(tmp_path)],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    database = tmp_path / "archive.db"
    before = database.stat().st_size
    deadline = time.monotonic() + 60
    while database.stat().st_size < before + 4_000_000:  # well into the build: pages spilled to the file
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    conn = open_readonly(tmp_path / "archive.db")
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 10
    assert count(conn, "香港") == 0 and count(conn, "人权") == 10
    conn.close()
    assert build(tmp_path).articles == 4010


def test_a_build_gives_back_the_space_it_freed_and_a_full_disk_leaves_it_complete(tmp_path: Path) -> None:
    """The index merged into one segment frees most of what the build wrote: VACUUM gives it back; on a
    disk without room for that, the database is complete all the same (a real small filesystem)."""
    rng = random.Random(3)
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 400)]
    records = [record_example(article_id=str(n), body="".join(rng.choices(han, k=600))) for n in range(800)]
    write_records(tmp_path / "articles.jsonl", records)
    roomy = build(tmp_path, tmp_path / "roomy.db")
    assert roomy.not_compacted is None
    with closing(sqlite3.connect(roomy.path)) as conn:
        pages, free, size = (conn.execute(f"PRAGMA {name}").fetchone()[0]
                             for name in ("page_count", "freelist_count", "page_size"))
    assert size == 65536 and free * 50 <= pages
    mount = tmp_path / "fs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={roomy.path.stat().st_size * 21 // 10 // 1024}k",
                    "tmpfs", str(mount)], check=True)
    try:
        tight = run_cli("dataset", "sqlite", str(tmp_path), "--out", str(mount / "archive.db"))
        assert tight.returncode == 0 and "800 articles (800 added" in tight.stdout, tight.stderr
        assert tight.stderr.strip() == (f"{mount / 'archive.db'}: complete, but the space it freed is not "
                                        "given back (database or disk is full); run the command again with "
                                        "more free disk")
        with closing(open_readonly(mount / "archive.db")) as conn:
            assert count(conn, han[0]) == count(open_readonly(roomy.path), han[0]) > 0
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_bad_line_is_named_and_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    write_records(tmp_path / "articles.jsonl", [record_example(article_id="1")])
    assert run_cli("dataset", "sqlite", str(tmp_path)).returncode == 0
    with (tmp_path / "articles.jsonl").open("a") as handle:
        handle.write(json.dumps(record_example(article_id="2")) + "\n{not json\n")
    bad = run_cli("dataset", "sqlite", str(tmp_path))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert f"{tmp_path / 'articles.jsonl'}:3: not a valid record (not JSON" in bad.stderr
    assert open_readonly(tmp_path / "archive.db").execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    skipped = run_cli("dataset", "sqlite", str(tmp_path), "--skip-bad-lines")
    assert "2 articles (1 added, 0 changed, from 1 records read, 1 bad lines skipped)" in skipped.stdout


def test_the_database_refuses_the_datasets_own_files_and_other_databases(tmp_path: Path) -> None:
    write_records(tmp_path / "articles.jsonl", [record_example()])
    own = run_cli("dataset", "sqlite", str(tmp_path), "--out", str(tmp_path / "state.sqlite3"))
    assert own.returncode == 1 and "is a file of the dataset or its crawl" in own.stderr
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE mine (x)").connection.commit()
    refused = run_cli("dataset", "sqlite", str(tmp_path), "--out", str(other))
    assert refused.returncode == 1 and "a database that newsspider did not build" in refused.stderr
    assert sqlite3.connect(other).execute("SELECT name FROM sqlite_master").fetchall() == [("mine",)]


def test_search_command_prints_hits_and_json_lines(site: Path) -> None:
    records = list(iter_articles(site))
    expected = brute_force(records, "中国", forms=True)
    result = run_cli("dataset", "search", str(site), "中国", "--limit", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{len(expected)} articles hold 中国; the best 3:")
    # each hit says how to open its archived copy, and that command prints the page
    opens = re.findall(r"^    archived copy: (newsspider dataset page (\S+) (\d+))$", result.stdout, re.M)
    assert len(opens) == 3, result.stdout
    assert all(where == str(site) and i in expected for _, where, i in opens), result.stdout
    title = next(r["title"] for r in records if r["article_id"] == opens[0][2])
    archived = run_cli(*shlex.split(opens[0][0])[1:])
    assert archived.returncode == 0 and title in archived.stdout, archived.stderr
    as_json = run_cli("dataset", "search", str(site), "中国", "--json", "--limit", "1000")
    hits = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {h["article_id"] for h in hits} == expected
    assert all(h["snippet"][s:e] == "中国" for h in hits for s, e in h["highlights"])
    since = run_cli("dataset", "search", str(site), "中国", "--json", "--since", "2024-01-01",
                    "--limit", "1000")
    dated = [json.loads(line) for line in since.stdout.splitlines()]
    assert dated and all(h["published_date"] >= "2024-01-01" for h in dated) and len(dated) < len(hits)
    words = run_cli("dataset", "search", str(site), "中国", "经济", "--json", "--limit", "1000")  # unquoted
    both = {json.loads(line)["article_id"] for line in words.stdout.splitlines()}
    assert both == expected & brute_force(records, "经济", forms=True) and 0 < len(both) < len(expected)
    empty = run_cli("dataset", "search", str(site), '""')
    assert empty.returncode == 1 and "the query has nothing to search for" in empty.stderr


def test_a_dir_without_a_dataset_names_those_below_it(tmp_path: Path) -> None:
    write_records((tmp_path / "demo").mkdir() or tmp_path / "demo" / "articles.jsonl", [record_example()])
    for command in (["info"], ["export", "--format", "jsonl", "--out", str(tmp_path / "x.jsonl")],
                    ["search", str(tmp_path), "中国"], ["sqlite"]):
        args = command if command[0] == "search" else [command[0], str(tmp_path), *command[1:]]
        result = run_cli("dataset", *args)
        assert result.returncode == 1, args
        assert f"{tmp_path}: no dataset here (no articles*.jsonl); did you mean {tmp_path / 'demo'}?" \
            in result.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_dataset_page_takes_the_data_dir_either_way(site: Path) -> None:
    new = run_cli("dataset", "page", str(site), "2054421")
    assert new.returncode == 0 and "<h2>" in new.stdout and not new.stderr
    old = run_cli("dataset", "page", "2054421", "--data-dir", str(site))  # as every command takes it
    assert old.returncode == 0 and old.stdout == new.stdout and not old.stderr


def test_a_damaged_crawl_memory_does_not_stop_reading_the_dataset(tmp_path: Path) -> None:
    """The state file is the crawl's memory, not the dataset: garbage in it is one warning line."""
    write_records(tmp_path / "articles.jsonl", [record_example(title="中国的新闻")])
    (tmp_path / "state.sqlite3").write_bytes(random.Random(5).randbytes(8192))
    warning = f"state file {tmp_path / 'state.sqlite3'}: unreadable (file is not a database)"
    built = run_cli("dataset", "sqlite", str(tmp_path))
    assert built.returncode == 0 and "1 articles (1 added" in built.stdout, built.stderr
    assert built.stderr.strip() == f"{warning}; the database keeps the run history it had"
    found = run_cli("dataset", "search", str(tmp_path), "中国")
    assert found.returncode == 0 and "1 article holds 中国:" in found.stdout, found.stderr
    report = run_cli("dataset", "report", str(tmp_path), "--out", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    assert report.stderr.strip() == f"warning: {warning}; the report has no run history"
    for result in (built, found, report):
        assert "Traceback" not in result.stderr


def test_a_read_only_data_dir_is_searched_with_the_database_elsewhere(tmp_path: Path) -> None:
    """A data dir on a read-only filesystem (a real read-only bind mount: CI runs as root), its state in
    WAL mode as a crawl leaves it: the database built elsewhere holds its articles and its runs."""
    from newsspider.memory.sqlite import SqliteMemory

    data = tmp_path / "data"
    data.mkdir()
    write_records(data / "articles.jsonl", [record_example(title="中国的新闻")])
    memory = SqliteMemory(data)
    memory.start_run()
    memory.finish_run("finished", "finished", pages=1)
    memory.close()
    mount = tmp_path / "ro"
    mount.mkdir()
    subprocess.run(["mount", "--bind", str(data), str(mount)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(mount)], check=True)
        built = build(mount, tmp_path / "elsewhere.db")
        with closing(open_readonly(built.path)) as conn:
            assert count(conn, "中国") == 1
            assert conn.execute("SELECT status FROM runs").fetchall() == [("finished",)]
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)
