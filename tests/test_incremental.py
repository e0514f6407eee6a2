"""Recurring crawls: only what is new is fetched; state and dataset agree; one crawl per data dir."""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from pathlib import Path

from newsspider.dataset.reader import iter_articles
from newsspider.dataset.storage import DataDirLock
from newsspider.demo.pages import DemoSite
from newsspider.extract import site
from newsspider.memory.sqlite import read_runs
from tests.conftest import crawl, read_jsonl, run_cli
from tests.mockserver import MockServer

PUBLIC_IDS = {str(a.article_id) for a in DemoSite().public_articles()}


def article_paths(requests: list[dict]) -> list[str]:
    return [r["path"] for r in requests if site.ARTICLE_PATH.match(r["path"])]


def ids_in(data_dir: Path) -> Counter:
    return Counter(r["article_id"] for r in read_jsonl(data_dir / "articles.jsonl"))


def test_second_run_fetches_only_what_is_new(mockserver: MockServer, tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    first = mockserver.requests()
    stored_paths = set(article_paths(first))
    added = mockserver.add_articles(3)

    result = crawl(mockserver, tmp_path)
    assert result.returncode == 0, result.stderr
    second = mockserver.requests()[len(first):]

    ids = ids_in(tmp_path)
    assert set(ids) == PUBLIC_IDS | {str(i) for i in added}
    assert max(ids.values()) == 1, "an article was stored twice"
    fetched = article_paths(second)
    assert not set(fetched) & stored_paths, "an already stored article was fetched again"
    assert sorted(int(p.rsplit("/", 1)[1][:-5]) for p in fetched) == sorted(added)
    assert " 3 stored" in result.stdout
    assert len(second) < len(first) / 3


def test_unchanged_site_costs_a_handful_of_requests(site_server: MockServer, tmp_path: Path) -> None:
    assert crawl(site_server, tmp_path).returncode == 0
    first = len(site_server.requests())
    assert crawl(site_server, tmp_path).returncode == 0
    second = site_server.requests()[first:]
    assert article_paths(second) == []
    assert not [r for r in second if "/page/" in r["path"]], "paged through listings with nothing new"
    assert len(second) <= 40  # robots.txt, the front page and the listings it links to


def test_extra_old_pages_setting_goes_deeper(site_server: MockServer, tmp_path: Path) -> None:
    assert crawl(site_server, tmp_path).returncode == 0
    first = len(site_server.requests())
    # (the feed is not read: its reading stops at the first page of old articles)
    assert crawl(site_server, tmp_path, "-s", "NEWSSPIDER_EXTRA_OLD_PAGES=1").returncode == 0
    assert "/bnews/page/2/" in [r["path"] for r in site_server.requests()[first:]]


def test_refresh_appends_changed_articles_with_a_higher_version(mockserver: MockServer,
                                                                tmp_path: Path) -> None:
    mockserver.validators("none")  # each page fetched whole, compared by content (304s: test_validators.py)
    assert crawl(mockserver, tmp_path).returncode == 0
    before = (tmp_path / "articles.jsonl").read_bytes()
    mockserver.edit_article(2060000)
    # without sitemaps, a refresh fetches every stored article (with them, only the changed one:
    # tests/test_sitemaps.py)
    result = crawl(mockserver, tmp_path, "--refresh", "--no-sitemaps")
    assert result.returncode == 0, result.stderr
    # unchanged is not dropped: counted in the summary, not one warning an article
    assert "unchanged" not in result.stderr.replace(" unchanged, ", ""), result.stderr
    unchanged = len(PUBLIC_IDS) - 1
    assert f", 1 stored, {unchanged} unchanged, 0 dropped, " in result.stdout.splitlines()[0], result.stdout
    after = (tmp_path / "articles.jsonl").read_bytes()
    assert after.startswith(before), "the dataset was rewritten"
    new_lines = read_jsonl(tmp_path / "articles.jsonl")[before.count(b"\n"):]
    assert [(r["article_id"], r["version"]) for r in new_lines] == [("2060000", 2)]
    assert "更正" in new_lines[0]["body"]
    latest = {r["article_id"]: r for r in iter_articles(tmp_path)}
    assert len(latest) == len(PUBLIC_IDS) and latest["2060000"]["version"] == 2
    assert len(list(iter_articles(tmp_path, latest=False))) == len(PUBLIC_IDS) + 1
    runs = read_runs(tmp_path)
    assert (runs[-1].new_articles, runs[-1].updated_articles) == (0, 1)


def test_deleted_state_is_rebuilt_from_the_dataset(site_server: MockServer, tmp_path: Path) -> None:
    assert crawl(site_server, tmp_path).returncode == 0
    (tmp_path / "state.sqlite3").unlink()
    first = len(site_server.requests())
    result = crawl(site_server, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no state file: built" in result.stderr and f"({len(PUBLIC_IDS)} records)" in result.stderr
    assert article_paths(site_server.requests()[first:]) == []
    assert max(ids_in(tmp_path).values()) == 1


def test_state_older_than_the_dataset_catches_up(mockserver: MockServer, tmp_path: Path) -> None:
    assert crawl(mockserver, tmp_path).returncode == 0
    saved = tmp_path.parent / "old-state.sqlite3"
    shutil.copy(tmp_path / "state.sqlite3", saved)
    added = mockserver.add_articles(2)
    assert crawl(mockserver, tmp_path).returncode == 0
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'state.sqlite3'}{suffix}").unlink(missing_ok=True)
    shutil.copy(saved, tmp_path / "state.sqlite3")
    first = len(mockserver.requests())
    result = crawl(mockserver, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "was missing 2 dataset records; added them" in result.stderr
    assert article_paths(mockserver.requests()[first:]) == []
    assert set(ids_in(tmp_path)) == PUBLIC_IDS | {str(i) for i in added}
    assert max(ids_in(tmp_path).values()) == 1


def test_corrupt_state_file_is_set_aside_and_rebuilt(site_server: MockServer, tmp_path: Path) -> None:
    assert crawl(site_server, tmp_path).returncode == 0
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp_path / 'state.sqlite3'}{suffix}").unlink(missing_ok=True)
    (tmp_path / "state.sqlite3").write_bytes(b"this is not a database" * 100)
    result = crawl(site_server, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "is unreadable" in result.stderr and "rebuilding the state from the dataset" in result.stderr
    assert list(tmp_path.glob("state.sqlite3.corrupt-*")), "the corrupt file was not kept"
    assert max(ids_in(tmp_path).values()) == 1


def test_one_crawl_per_data_dir(tmp_path: Path) -> None:
    with DataDirLock(tmp_path):
        result = run_cli("crawl", "--start-url", "http://127.0.0.1:9/bnews/", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip() == (f"Error: data dir {tmp_path} is in use by another crawl "
                                     f"(lock {tmp_path / '.newsspider.lock'})")


def test_runs_table(site_server: MockServer, tmp_path: Path) -> None:
    assert crawl(site_server, tmp_path).returncode == 0
    assert crawl(site_server, tmp_path).returncode == 0
    result = run_cli("runs", str(tmp_path))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["run", "started", "(UTC)", "ended"]
    assert len(lines) == 3
    first, second = read_runs(tmp_path)
    assert (first.status, first.new_articles) == ("finished", len(PUBLIC_IDS))
    assert (second.status, second.new_articles) == ("finished", 0)
    assert first.pages > second.pages > 0


def test_runs_of_an_empty_data_dir(tmp_path: Path) -> None:
    result = run_cli("runs", str(tmp_path))
    assert result.returncode == 0 and "no crawls recorded" in result.stdout


def test_a_locked_state_is_an_error_not_corruption(site_server: MockServer, tmp_path: Path) -> None:
    assert crawl(site_server, tmp_path).returncode == 0
    before = read_runs(tmp_path)
    holder = sqlite3.connect(tmp_path / "state.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program writing to it
    try:
        result = crawl(site_server, tmp_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: database is locked writing {tmp_path / 'state.sqlite3'}"
    assert not list(tmp_path.glob("state.sqlite3.corrupt-*")), "a healthy state was moved aside"
    assert read_runs(tmp_path) == before, "the run history was lost"


def test_a_state_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "state.sqlite3").mkdir()
    result = run_cli("crawl", "--start-url", "http://127.0.0.1:9/bnews/", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    state = tmp_path / "state.sqlite3"
    assert result.stderr.strip() == f"Error: state file {state}: unable to open database file"
    runs = run_cli("runs", str(tmp_path))
    assert runs.returncode == 1 and runs.stderr.strip() == f"Error: state file {state}: not a file"
    assert (tmp_path / "state.sqlite3").is_dir()


def test_another_programs_database_is_set_aside(site_server: MockServer, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "state.sqlite3")
    other.execute("CREATE TABLE notes (text TEXT)")
    other.execute("INSERT INTO notes VALUES ('keep me')")
    other.commit()
    other.close()
    result = crawl(site_server, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "another program's database (tables: notes)" in result.stderr
    (moved,) = tmp_path.glob("state.sqlite3.corrupt-*")
    assert sqlite3.connect(moved).execute("SELECT text FROM notes").fetchall() == [("keep me",)]
    assert set(ids_in(tmp_path)) == PUBLIC_IDS


def test_a_damaged_dataset_gets_one_continuation_shard(site_server: MockServer, tmp_path: Path) -> None:
    assert crawl(site_server, tmp_path, "-s", "CLOSESPIDER_ITEMCOUNT=5").returncode == 0
    with (tmp_path / "articles.jsonl").open("ab") as handle:
        handle.write(b'{"article_id":"9","tit')  # cut short by something else
    damaged = (tmp_path / "articles.jsonl").read_bytes()
    for _ in range(3):
        result = crawl(site_server, tmp_path, "-s", "CLOSESPIDER_ITEMCOUNT=5")
        assert result.returncode == 0, result.stderr
    assert crawl(site_server, tmp_path).returncode == 0
    shards = sorted(p.name for p in tmp_path.glob("articles-*.jsonl"))
    assert len(shards) == 1, shards
    assert (tmp_path / "articles.jsonl").read_bytes() == damaged
    ids = Counter(r["article_id"] for r in iter_articles(tmp_path, latest=False))
    assert set(ids) == PUBLIC_IDS and max(ids.values()) == 1


def test_a_crawl_stopped_at_a_bound_leaves_its_listings_to_the_next(site_server: MockServer,
                                                                   tmp_path: Path) -> None:
    for pages in (10, 25):
        assert crawl(site_server, tmp_path, "-s", f"CLOSESPIDER_PAGECOUNT={pages}").returncode == 0
    assert 0 < len(ids_in(tmp_path)) < len(PUBLIC_IDS)
    assert crawl(site_server, tmp_path).returncode == 0
    assert set(ids_in(tmp_path)) == PUBLIC_IDS and max(ids_in(tmp_path).values()) == 1
    assert [r.finish_reason for r in read_runs(tmp_path)] == [
        "closespider_pagecount", "closespider_pagecount", "finished"]
