"""``newsspider browse``: the real Datasette, driven in a real headless Chromium."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser

from newsspider.core.time import readable_time
from newsspider.dataset.reader import iter_articles
from newsspider.views.search.versions import COMPARED
from tests.conftest import REPO, read_jsonl, run_cli
from tests.test_report import browser  # noqa: F401  (the shared headless Chromium)
from tests.test_search import brute_force

# One worker runs this module (one browse server of the refreshed data dir for the module).
pytestmark = pytest.mark.xdist_group("browse")


def start_browse(data: Path, *args: str) -> tuple[subprocess.Popen[str], int]:
    """``newsspider browse DATA --port 0``, serving: the process and the port it chose and printed."""
    command = [sys.executable, "-m", "newsspider", "browse", str(data), "--port", "0", *args]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r" at http://127\.0\.0\.1:(\d+)/ \(read-only", line)
        assert match, line + (process.stderr.read() if process.stderr else "")
        port = int(match[1])
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return process, port
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
    except BaseException:  # not serving: not left running either
        process.kill()
        process.wait()
        raise


@pytest.fixture(scope="module")
def archive(refreshed: Path) -> Iterator[tuple[str, Path]]:
    """``newsspider browse`` over a crawled mock site with one article edited (two versions)."""
    data = refreshed
    process, port = start_browse(data)
    try:
        yield f"http://127.0.0.1:{port}", data
    finally:
        process.terminate()
        process.wait(10)


def test_search_box_finds_what_a_substring_scan_finds_and_leads_to_the_archived_page(
        browser: Browser, archive: tuple[str, Path]) -> None:  # noqa: F811
    root, data = archive
    records = list(iter_articles(data))
    expected = brute_force(records, "中国", forms=True)
    page = browser.new_page()
    page.goto(f"{root}/archive/articles")
    page.fill("#newsspider-q", "中国")
    page.click(".newsspider-search input[type=submit]")
    page.wait_for_load_state()
    heading = page.locator("h3").first.inner_text()
    assert heading.startswith(f"{len(expected)} rows") and "hold 中国" in heading, heading
    assert set(page.locator("td.col-article_id").all_inner_texts()) <= {f"{i} versions" for i in expected}
    # the facets are there, explained columns too
    for facet in ("tags", "category", "source", "year"):
        assert page.locator(f"#facet-{facet}").count() == 1
    notes = page.locator("details.newsspider-columns")  # folded until asked for
    assert not page.locator("dl.column-descriptions").is_visible()
    notes.locator("summary").click()
    assert "Canonical URL" in notes.locator("dl.column-descriptions").inner_text()
    # open a hit: its row page, then its archived page from the WARC
    first_id = page.locator("td.col-article_id").first.inner_text().split()[0]
    title = next(r["title"] for r in records if r["article_id"] == first_id)
    page.locator("td.col-article_id a").first.click()
    page.wait_for_load_state()
    assert "2 versions" in page.inner_text("body") or first_id in page.inner_text("body")
    page.go_back()
    page.locator("td.col-warc a.archived").first.click()
    page.wait_for_load_state()
    assert page.title().startswith(title)  # the reading room's page of it: the banner, the page in a frame
    assert page.frame_locator("iframe.replay").locator("h2").first.inner_text().strip() == title


def test_the_versions_page_of_a_refreshed_article_shows_what_changed_and_links_each_archived_page(
        browser: Browser, archive: tuple[str, Path]) -> None:  # noqa: F811
    """Over a real --refresh crawl of an edited article: each changed field with its character diff, each
    version's archived page from the WARC."""
    root, data = archive
    page = browser.new_page()
    page.goto(f"{root}/-/newsspider/versions/2060000")
    assert "2 versions of article 2060000" in page.inner_text("main")
    old, new = sorted((r for r in read_jsonl(data / "articles.jsonl") if r["article_id"] == "2060000"),
                      key=lambda r: r["version"])
    changed = [name for name in COMPARED if old[name] != new[name]]
    what = page.locator("#v2 .what").inner_text()
    assert changed and what == f"Changed since version 1: {', '.join(changed)}."
    for name in changed:
        assert page.locator(f"#v2 .field-{name}").locator("ins, del").count() > 0, name
    folded = page.locator("#v2 details.unchanged summary").inner_text()
    assert folded == f"{len(COMPARED) - len(changed)} fields unchanged"
    for version, record in ((2, new), (1, old)):
        page.locator(f"#v{version} a.archived").click()
        page.wait_for_load_state()
        assert page.url.endswith(f"/-/newsspider/page/2060000?version={version}")
        assert page.title().startswith(record["title"])
        page.go_back()


def test_the_archived_page_of_an_article_answered_304_is_its_earlier_capture(
        archive: tuple[str, Path]) -> None:
    """The refresh was answered 304 for the unchanged articles (revisit records): their archived page is
    the capture the revisit refers to, body and time."""
    from newsspider.archive.reader import archived_page, warc_files
    from tests.test_validators import records

    root, data = archive
    *_, newest = warc_files(data)
    revisits = {url: headers for kind, url, headers, status in records(newest)
                if kind == "revisit" and status == "304"}
    record = next(r for r in iter_articles(data) if r["url"] in revisits)
    earlier = archived_page(data, record["warc"])
    assert revisits[record["url"]]["WARC-Refers-To"] == earlier.record_id
    with urllib.request.urlopen(f"{root}/-/newsspider/page/{record['article_id']}/raw") as response:
        assert response.headers["X-Archived-At"] == earlier.date
        assert record["title"] in response.read().decode("utf-8")


def test_the_archive_is_read_only(archive: tuple[str, Path]) -> None:
    root, data = archive
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{root}/archive.json?sql=" + quote("delete from articles"))
    assert refused.value.code == 400 and b"Statement must be a SELECT" in refused.value.read()
    before = (data / "archive.db").stat()
    with urllib.request.urlopen(f"{root}/archive.json?_shape=array&sql=" + quote(
            "select count(*) as n from articles")) as response:
        assert json.load(response) == [{"n": len(list(iter_articles(data)))}]
    after = (data / "archive.db").stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)


def test_ctrl_c_stops_browse_cleanly_and_a_port_in_use_is_one_line(archive: tuple[str, Path]) -> None:
    root, data = archive
    port = int(root.rsplit(":", 1)[1])  # the archive fixture's browse holds it
    taken = run_cli("browse", str(data), "--port", str(port), cwd=REPO, timeout=60)
    assert taken.returncode == 1 and taken.stderr.startswith(f"Error: --port {port}: "), taken.stderr
    assert len(taken.stderr.strip().splitlines()) == 1, taken.stderr
    process, _port = start_browse(data)
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and out.strip().endswith("stopped"), out + err
    assert "Aborted" not in err and "Traceback" not in err, err


def _get(url: str) -> tuple[int, bytes]:
    """The status and body of a GET (an error status too)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _read_until(done: threading.Event, urls: list[str], statuses: list[int]) -> None:
    """Ask for *urls* again and again until *done*, keeping each answer's status."""
    while not done.is_set():
        statuses.extend(_get(url)[0] for url in urls)


def _write_records(path: Path, first: int, n: int) -> None:
    from tests.test_report import record

    with path.open("a", encoding="utf-8") as out:
        for i in range(first, first + n):
            day = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"
            rec = record(i, day, [f"标签{i % 7}"], title=f"文章{i} 中国")
            rec["body"] = f"第{i}篇的正文，人权与贸易战。" * 40
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")


def test_browse_keeps_serving_while_dataset_sqlite_updates_the_database(tmp_path: Path) -> None:
    """A build after a crawl rewrites archive.db in place while browse serves it: pages stay 200 and
    show the new articles (browse opens it read-only, not immutable)."""
    _write_records(tmp_path / "articles.jsonl", 1000, 40)
    process, port = start_browse(tmp_path)
    root = f"http://127.0.0.1:{port}"
    count = f"{root}/archive.json?_shape=array&sql=" + quote("select count(*) as n from articles")
    pages = [f"{root}/archive/articles", f"{root}/archive/articles?_q=" + quote("中国"),
             f"{root}/archive/articles.json?_sort=title", f"{root}/archive/tags", count]
    try:
        assert [_get(url)[0] for url in pages] == [200] * len(pages)
        for step in range(2):  # a crawl adds articles, a build brings the database up to date
            _write_records(tmp_path / "articles.jsonl", 2000 + 400 * step, 400)
            during: list[int] = []
            building = threading.Event()
            reader = threading.Thread(target=_read_until, args=(building, pages, during))
            reader.start()
            try:
                built = run_cli("dataset", "sqlite", str(tmp_path))
            finally:
                building.set()
                reader.join()
            assert built.returncode == 0, built.stderr
            answers = [_get(url) for url in pages]
            assert [status for status, _ in answers] == [200] * len(pages), [
                (status, body[:300]) for status, body in answers if status != 200]
            assert json.loads(answers[-1][1]) == [{"n": 40 + 400 * (step + 1)}]
            assert during and set(during) == {200}, during
    finally:
        process.terminate()
        process.wait(10)


def _get_as(url: str, host: str) -> tuple[int, bytes]:
    """A GET with the Host header a browser sends for *host* (a DNS-rebinding page: its own name)."""
    try:
        request = urllib.request.Request(url, headers={"Host": host})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_browse_answers_only_the_hosts_it_serves(archive: tuple[str, Path]) -> None:
    """A page of evil.example whose name is rebound to 127.0.0.1 reaches the port, but its Host header gives
    it away: refused, in one line, whatever the path; the local names and addresses are answered."""
    root, _data = archive
    port = root.rsplit(":", 1)[1]
    for path in ("/archive/articles", "/archive.json?sql=select+1", "/-/metadata.json", "/"):
        status, body = _get_as(root + path, f"evil.example:{port}")
        assert status == 400 and len(body.decode().strip().splitlines()) == 1, (path, status, body[:200])
        assert b"evil.example" not in body and b"--allow-host" in body
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", f"[::1]:{port}", "127.0.0.1"):
        assert _get_as(f"{root}/archive/articles", host)[0] == 200, host
    for host in ("", "127.0.0.1.evil.example", "localhost.evil.example:80", f"evil.example:{port}@127.0.0.1"):
        assert _get_as(f"{root}/archive/articles", host)[0] == 400, host


def test_browse_shows_no_path_of_this_machine(archive: tuple[str, Path]) -> None:
    """Datasette's introspection pages and the metadata do not hold the data dir's absolute path."""
    root, data = archive
    for path in ("/-/metadata.json", "/-/databases.json", "/-/settings.json", "/-/plugins.json",
                 "/-/versions.json", "/-/threads.json", "/-/actor.json", "/archive", "/",
                 "/archive/articles", "/-/newsspider/page/1"):
        status, body = _get(root + path)
        assert str(data.resolve()).encode() not in body and str(data).encode() not in body, (path, status)
    status, body = _get(root + "/-/metadata.json")
    assert status == 200 and json.loads(body)["title"] == "newsspider archive"


def test_arbitrary_sql_is_off_when_browse_serves_others(archive: tuple[str, Path]) -> None:
    """Served to other names (behind a reverse proxy: --allow-host), no arbitrary SQL unless --allow-sql;
    the table pages, search and facets work all the same, under that name."""
    root, data = archive
    sql = "/archive.json?_shape=array&sql=" + quote("select count(*) as n from articles")
    assert _get(root + sql)[0] == 200  # this machine's own browse: the power tool is there
    for extra, status in ((["--allow-host", "archive.example.org"], 403),
                          (["--allow-host", "archive.example.org", "--allow-sql"], 200)):
        process, port = start_browse(data, *extra)
        try:
            other = f"http://127.0.0.1:{port}"
            assert _get_as(other + sql, "archive.example.org")[0] == status, extra
            page = _get_as(other + "/archive/articles?_q=" + quote("中国"), "archive.example.org")
            assert page[0] == 200 and b"hold" in page[1]
        finally:
            process.terminate()
            process.wait(10)


def test_the_article_page_of_a_crawled_article_cites_its_capture_and_leads_to_its_versions_and_page(
        browser: Browser, archive: tuple[str, Path]) -> None:  # noqa: F811
    """Over a real crawl (WARC, two versions of 2060000): the article page's cite block holds the record's
    WARC file and record id, its versions are listed newest first with what changed, and its links open the
    versions page and the archived page."""
    root, data = archive
    records = sorted((r for r in read_jsonl(data / "articles.jsonl") if r["article_id"] == "2060000"),
                     key=lambda r: r["version"])
    newest = records[-1]
    page = browser.new_page()
    page.goto(f"{root}/?q=" + quote(newest["title"][:4]))
    page.locator("ol.hits h2 a", has_text=newest["title"]).first.click()
    assert page.locator("h1").inner_text() == newest["title"]
    cite = page.locator(".cite").inner_text()
    for value in (newest["warc"]["file"], newest["warc"]["record_id"], newest["content_hash"], newest["url"],
                  newest["crawled_at"]):
        assert value in cite, value
    versions = page.locator("#versions ~ ul li").all_inner_texts()  # newest first
    assert len(versions) == 2 and "changed" in versions[0] and "the first capture" in versions[1]
    assert readable_time(records[0]["crawled_at"]) in versions[1]
    page.click("text=What changed in each")
    assert "2 versions of article 2060000" in page.inner_text("main")
    page.go_back()
    page.locator("a.archived").click()
    page.wait_for_load_state()
    assert page.title().startswith(newest["title"])
