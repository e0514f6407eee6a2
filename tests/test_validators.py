"""Stored validators make ``--refresh`` cheap (issue 40): ETag/Last-Modified kept, conditional requests,
``304 Not Modified`` answers kept as revisit records that replay as the earlier page."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from newsspider.archive.evidence import load_key, new_key, verify_wacz
from newsspider.archive.package import write_wacz
from newsspider.archive.reader import Capture, archived_page, latest_captures, warc_files
from newsspider.archive.warcfile import NOT_MODIFIED_PROFILE, Fetch, WarcFiles, payload_digest
from newsspider.dataset.reader import iter_articles
from newsspider.demo.pages import DemoSite
from newsspider.extract import site
from newsspider.memory import Validators
from newsspider.memory.sqlite import SqliteMemory, read_runs
from tests.conftest import crawl, read_jsonl
from tests.mockserver import MockServer
from tests.test_archive import fetch, replay, warcio

PUBLIC_IDS = {str(a.article_id) for a in DemoSite().public_articles()}
EDITED = "2060000"


def article_answers(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The server's log of the article pages it answered."""
    return [r for r in requests if site.ARTICLE_PATH.match(r["path"].split("?")[0]) and "status" in r]


def response_bytes(result: subprocess.CompletedProcess[str]) -> int:
    """Scrapy's ``downloader/response_bytes`` of a crawl run with ``-s LOG_LEVEL=INFO`` (its stats dump)."""
    match = re.search(r"'downloader/response_bytes': (\d+)", result.stderr)
    assert match, result.stderr[-2000:]
    return int(match[1])


def records(path: Path) -> list[Any]:
    """The response and revisit records of a WARC file: (type, URL, WARC headers, HTTP status)."""
    with path.open("rb") as handle:
        return [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), dict(r.rec_headers.headers),
                 r.http_headers.get_statuscode() if r.http_headers else None)
                for r in ArchiveIterator(handle) if r.rec_type in ("response", "revisit")]


def request_headers(path: Path, name: str) -> dict[str, str]:
    """The value of request header *name* of each request record of a WARC file that has it, by URL."""
    found = {}
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type == "request" and (value := record.http_headers.get_header(name)):
                found[record.rec_headers.get_header("WARC-Target-URI")] = value
    return found


def test_a_refresh_of_an_unchanged_site_is_answered_304_and_costs_a_small_share_of_the_bytes(
        mockserver: MockServer, tmp_path: Path) -> None:
    mockserver.sitemaps("off")  # (with them, a refresh asks for no article whose lastmod is older)
    assert crawl(mockserver, tmp_path).returncode == 0
    first = read_jsonl(tmp_path / "articles.jsonl")
    # a refresh that asks without validators: every article page again, whole (the cost to beat)
    mark = len(mockserver.requests())
    full = crawl(mockserver, tmp_path, "--refresh", "-s", "NEWSSPIDER_VALIDATORS=False",
                 "-s", "LOG_LEVEL=INFO")
    assert full.returncode == 0, full.stderr
    full_answers = article_answers(mockserver.requests()[mark:])
    assert full_answers and {r["status"] for r in full_answers} == {200}
    assert f", 0 stored, {len(PUBLIC_IDS)} unchanged, 0 dropped" in full.stdout.splitlines()[0]

    mockserver.edit_article(int(EDITED))
    mark = len(mockserver.requests())
    result = crawl(mockserver, tmp_path, "--refresh", "-s", "LOG_LEVEL=INFO")
    assert result.returncode == 0, result.stderr
    answers = article_answers(mockserver.requests()[mark:])
    not_modified = [r for r in answers if r["status"] == 304]
    assert len(not_modified) >= 0.95 * len(answers) and len(not_modified) == len(PUBLIC_IDS) - 1
    edited = urlsplit(next(r["url"] for r in first if r["article_id"] == EDITED)).path
    assert [r["path"] for r in answers if r["status"] == 200] == [edited]
    # the article pages' bytes: a small share of a full refresh's; Scrapy's count of the whole crawl falls
    # by at least what the articles no longer send
    article_bytes = sum(r["bytes"] for r in answers)
    full_article_bytes = sum(r["bytes"] for r in full_answers)
    assert article_bytes <= 0.05 * full_article_bytes, (article_bytes, full_article_bytes)
    assert response_bytes(full) - response_bytes(result) >= 0.9 * (full_article_bytes - article_bytes)
    # one new version, of the edited article; a 304 is neither stored, nor dropped, nor failed
    summary = result.stdout.splitlines()[0]
    assert f", 1 stored, {len(PUBLIC_IDS) - 1} not modified, 0 dropped, 0 duplicates, 0 failed" in summary
    new_lines = read_jsonl(tmp_path / "articles.jsonl")[len(first):]
    assert [(r["article_id"], r["version"]) for r in new_lines] == [(EDITED, 2)]
    run = read_runs(tmp_path)[-1]
    assert (run.status, run.failed, run.new_articles, run.updated_articles) == ("finished", 0, 0, 1)
    assert run.failures == "{}"
    # last_seen moved on for the articles answered 304
    with sqlite3.connect(tmp_path / "state.sqlite3") as state:
        seen = dict(state.execute("SELECT article_id, last_seen FROM articles").fetchall())
    crawled = {r["article_id"]: r["crawled_at"] for r in first}
    assert all(seen[int(i)] > crawled[i] for i in PUBLIC_IDS)
    # the archive: each 304 a revisit record (server-not-modified) that refers to the capture stored
    *_, newest = warc_files(tmp_path)
    assert warcio("check", str(newest)).returncode == 0
    assert warcio("index", str(newest)).returncode == 0
    pointers = {r["url"]: r["warc"] for r in first}
    revisits = [r for r in records(newest) if r[0] == "revisit" and r[3] == "304"]
    assert len(revisits) == len(PUBLIC_IDS) - 1
    for _, url, headers, _ in revisits:
        earlier = archived_page(tmp_path, pointers[url])
        assert headers["WARC-Profile"] == NOT_MODIFIED_PROFILE
        assert (headers["WARC-Refers-To-Target-URI"], headers["WARC-Refers-To-Date"],
                headers["WARC-Refers-To"]) == (earlier.url, earlier.date, earlier.record_id)
    # re-extraction reads the newest response of each URL: for an article answered 304, its earlier page
    captures = latest_captures(tmp_path, html_only=True)
    assert all(captures[r["url"]].pointer["record_id"] == r["warc"]["record_id"]
               for r in first if r["article_id"] != EDITED)
    # the dataset's latest records still point at the earlier pages, which read back
    latest = {r["article_id"]: r for r in iter_articles(tmp_path)}
    assert all(latest[i]["warc"] == first_record["warc"]
               for first_record in first if (i := first_record["article_id"]) != EDITED)


@pytest.mark.parametrize(("crawled", "refreshed"), [
    ("strong", "weak"),  # a CDN that rewrites the site's strong ETags to weak ones
    ("weak", "strong"),  # a weak ETag stored is sent back as it was, W/ and all
    ("last-modified", "last-modified"),  # no ETag: If-Modified-Since
])
def test_validators_are_compared_as_the_server_sent_them(mockserver: MockServer, tmp_path: Path,
                                                          crawled: str, refreshed: str) -> None:
    mockserver.sitemaps("off")
    mockserver.validators(crawled)
    assert crawl(mockserver, tmp_path).returncode == 0
    mockserver.validators(refreshed)
    mark = len(mockserver.requests())
    result = crawl(mockserver, tmp_path, "--refresh")
    assert result.returncode == 0, result.stderr
    assert {r["status"] for r in article_answers(mockserver.requests()[mark:])} == {304}
    assert f", 0 stored, {len(PUBLIC_IDS)} not modified, " in result.stdout.splitlines()[0]
    *_, newest = warc_files(tmp_path)
    sent = request_headers(newest, "If-None-Match")
    if crawled == "last-modified":
        assert not sent and len(request_headers(newest, "If-Modified-Since")) == len(PUBLIC_IDS)
    else:
        assert len(sent) == len(PUBLIC_IDS)
        assert all(value.startswith("W/") == (crawled == "weak") for value in sent.values())


def test_an_unchanged_200_keeps_its_validators_for_the_next_refresh(mockserver: MockServer,
                                                                     tmp_path: Path) -> None:
    mockserver.sitemaps("off")
    mockserver.validators("none")  # a site that sends none: nothing to ask with
    assert crawl(mockserver, tmp_path).returncode == 0
    mockserver.validators("strong")  # ...until it does
    result = crawl(mockserver, tmp_path, "--refresh")
    assert result.returncode == 0, result.stderr
    assert f", 0 stored, {len(PUBLIC_IDS)} unchanged, 0 dropped" in result.stdout.splitlines()[0]
    mark = len(mockserver.requests())
    again = crawl(mockserver, tmp_path, "--refresh")
    assert again.returncode == 0, again.stderr
    assert {r["status"] for r in article_answers(mockserver.requests()[mark:])} == {304}
    assert f", 0 stored, {len(PUBLIC_IDS)} not modified, " in again.stdout.splitlines()[0]


def test_a_304_nobody_asked_for_is_one_failed_page(mockserver: MockServer, tmp_path: Path) -> None:
    """A server that answers 304 to a request without validators has nothing to refer to: the page
    fails with its status, once (not retried), and the crawl goes on."""
    article = DemoSite().articles[2060037]
    mockserver.fault(article.path, "page", status=304)
    result = crawl(mockserver, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 failed (http_304 1)" in result.stdout.splitlines()[0]
    assert [r["path"] for r in mockserver.requests()].count(article.path) == 1
    assert set(r["article_id"] for r in read_jsonl(tmp_path / "articles.jsonl")) == PUBLIC_IDS - {"2060037"}
    assert "not modified" not in result.stdout


def test_a_page_whose_latest_capture_is_a_304_replays_through_pywb(refreshed: Path, tmp_path: Path) -> None:
    """pywb, given the index ``dataset warc-index`` writes, replays the earlier page for a 304 revisit."""
    *_, newest = warc_files(refreshed)
    revisits = {url: headers for kind, url, headers, status in records(newest)
                if kind == "revisit" and status == "304"}
    record = next(r for r in iter_articles(refreshed) if r["url"] in revisits)
    body = archived_page(refreshed, record["warc"]).body
    with replay(refreshed, tmp_path) as (port, proc):
        timestamp = re.sub(r"\D", "", revisits[record["url"]]["WARC-Date"])[:14]
        assert fetch(f"http://127.0.0.1:{port}/news/{timestamp}id_/{record['url']}", proc) == body
        assert fetch(f"http://127.0.0.1:{port}/news/id_/{record['url']}", proc) == body  # the latest


def test_a_wacz_indexes_a_304_revisit_as_the_earlier_capture(refreshed: Path, tmp_path: Path) -> None:
    """The WACZ's own index (py-wacz's, rewritten) gives each 304 revisit's line the earlier response's
    mime, status, digest and place, at the revisit's time, as ``dataset warc-index`` does: replayweb.page
    shows the page, not an empty 304.  The package stays valid (its listed hashes and sizes, py-wacz's
    validation, the index's blocks against index.idx) and its signature verifies."""
    key = tmp_path / "key.pem"
    new_key(key)
    out = tmp_path / "signed.wacz"
    write_wacz(refreshed, out, key=load_key(key, lambda: None))
    *_, newest = warc_files(refreshed)
    revisits = {(url, re.sub(r"\D", "", headers["WARC-Date"])[:14]): headers["WARC-Refers-To-Date"]
                for kind, url, headers, status in records(newest) if kind == "revisit" and status == "304"}
    assert len(revisits) == len(PUBLIC_IDS) - 1
    with zipfile.ZipFile(out) as package:
        assert {i.filename: i.compress_type for i in package.infolist()
                if i.filename.startswith(("indexes/", "archive/"))} == {
            "indexes/index.cdx.gz": zipfile.ZIP_STORED, "indexes/index.idx": zipfile.ZIP_DEFLATED,
            **{f"archive/{w.name}": zipfile.ZIP_STORED for w in warc_files(refreshed)}}
        blocks = package.read("indexes/index.cdx.gz")
        header, *summary = package.read("indexes/index.idx").decode().splitlines()
    assert json.loads(header.split(" ", 2)[2]) == {"format": "cdxj-gzip-1.0", "filename": "index.cdx.gz"}
    lines: list[str] = []
    for entry in summary:  # each block where index.idx says, with the digest it says, from its first key
        prefix, block = entry.split(" {")[0], json.loads(entry.split(" ", 2)[2])
        data = blocks[block["offset"]:block["offset"] + block["length"]]
        assert block["digest"] == f"sha256:{hashlib.sha256(data).hexdigest()}"
        block_lines = gzip.decompress(data).decode().splitlines()
        assert block_lines[0].startswith(prefix + " ")
        lines += block_lines
    assert block["offset"] + block["length"] == len(blocks)
    entries = {(json.loads(data)["url"], timestamp): json.loads(data)
               for _, timestamp, data in (line.split(" ", 2) for line in lines)}
    assert not [e for e in entries.values() if e["status"] == "304"]
    for (url, timestamp), refers_to in revisits.items():
        earlier = entries[url, re.sub(r"\D", "", refers_to)[:14]]
        assert earlier["mime"] == "text/html" and earlier["status"] == "200"
        assert entries[url, timestamp] == earlier  # its place: that response's file, offset and length
    validated = subprocess.run([shutil.which("wacz") or "wacz", "validate", "-f", str(out)],
                               capture_output=True, text=True, timeout=120)
    assert validated.returncode == 0 and "is valid" in validated.stdout, validated.stdout
    report = verify_wacz(out, [])
    assert report.ok and report.signer, report.problems


def test_a_304_revisit_reads_back_as_the_page_it_refers_to(tmp_path: Path) -> None:
    url = "https://www.bannedbook.org/bnews/itnews/20240101/7.html"
    body = "<html><title>存档</title></html>".encode()
    files = WarcFiles(tmp_path)
    first, _ = files.write(Fetch(url, "GET", [], b"", 200, [("ETag", '"7"')], body))
    earlier = Capture(url, first.date, payload_digest(body), {"record_id": first.record_id})
    revisit, is_revisit = files.write(Fetch(url, "GET", [("If-None-Match", '"7"')], b"", 304,
                                            [("ETag", '"7"')], b""), earlier, not_modified=True)
    unasked, _ = files.write(Fetch(url, "GET", [], b"", 304, [], b""), earlier)  # no validators: as served
    files.close()
    assert is_revisit and revisit.record_id != first.record_id
    page = archived_page(tmp_path, revisit.asdict())
    assert (page.body, page.record_id, page.date) == (body, first.record_id, first.date)
    [path] = warc_files(tmp_path)
    assert warcio("check", str(path)).returncode == 0
    assert [(kind, status) for kind, _, _, status in records(path)] == [
        ("response", "200"), ("revisit", "304"), ("response", "304")]
    assert archived_page(tmp_path, unasked.asdict()).status_line.endswith("304 Not Modified")


def test_an_old_state_file_gets_the_validator_columns(tmp_path: Path) -> None:
    """A state file written before validators were kept: the columns are added, nothing else changes."""
    with sqlite3.connect(tmp_path / "state.sqlite3") as old:
        old.executescript(
            "CREATE TABLE articles (article_id INTEGER PRIMARY KEY, url TEXT NOT NULL, content_hash TEXT, "
            "first_seen TEXT, last_seen TEXT, version INTEGER NOT NULL DEFAULT 1, "
            "first_run INTEGER NOT NULL DEFAULT 0);"
            "CREATE TABLE shards (name TEXT PRIMARY KEY, size INTEGER NOT NULL);"
            "CREATE TABLE runs (run_id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, "
            "ended_at TEXT, pid INTEGER, status TEXT NOT NULL);"
            "INSERT INTO articles VALUES (7, 'https://x.test/bnews/a/20240101/7.html', 'sha256:a', "
            "'2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', 1, 1);")
    old.close()
    memory = SqliteMemory(tmp_path)
    try:
        assert memory.get(7) is not None and memory.validators(7) is None
        memory.set_validators(7, Validators('"7"', "Mon, 01 Jan 2024 09:00:00 GMT"))
        memory.commit()
        assert memory.validators("7") == Validators('"7"', "Mon, 01 Jan 2024 09:00:00 GMT")
    finally:
        memory.close()
