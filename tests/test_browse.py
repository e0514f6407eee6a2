"""``newsspider browse``: the real Datasette, driven in a real headless Chromium."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser

from newsspider.dataset.reader import iter_articles
from tests.conftest import REPO, crawl, read_jsonl
from tests.mockserver import MockServer
from tests.test_report import browser  # noqa: F401  (the shared headless Chromium)
from tests.test_search import brute_force


def start_browse(data: Path, *args: str) -> tuple[subprocess.Popen[str], int]:
    """``newsspider browse DATA --port 0``, serving: the process and the port it chose and printed."""
    command = [sys.executable, "-m", "newsspider", "browse", str(data), "--port", "0", *args]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r" at http://127\.0\.0\.1:(\d+)/archive/articles \(read-only", line)
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
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``newsspider browse`` over a crawled mock site with one article edited (two versions)."""
    data = tmp_path_factory.mktemp("browse")
    with MockServer() as server:
        assert crawl(server, data).returncode == 0
        server.edit_article(2060000)
        assert crawl(server, data, "--refresh").returncode == 0
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
    assert "Canonical URL" in page.locator("dl.column-descriptions").inner_text()
    # open a hit: its row page, then its archived page from the WARC
    first_id = page.locator("td.col-article_id").first.inner_text().split()[0]
    title = next(r["title"] for r in records if r["article_id"] == first_id)
    page.locator("td.col-article_id a").first.click()
    page.wait_for_load_state()
    assert "2 versions" in page.inner_text("body") or first_id in page.inner_text("body")
    page.go_back()
    page.locator("td.col-warc a.archived").first.click()
    page.wait_for_load_state()
    assert page.title().startswith(title)
    assert page.locator("h2").first.inner_text().strip() == title


def test_versions_side_by_side_show_what_changed(
        browser: Browser, archive: tuple[str, Path]) -> None:  # noqa: F811
    root, data = archive
    page = browser.new_page()
    page.goto(f"{root}/-/newsspider/versions/2060000")
    text = page.inner_text("body")
    assert "2 versions of article 2060000" in text
    changed = page.locator("tr.diff").all_inner_texts()
    assert changed and page.locator("tr.diff ins, tr.diff del").count() > 0
    old, new = sorted((r for r in read_jsonl(data / "articles.jsonl") if r["article_id"] == "2060000"),
                      key=lambda r: r["version"])
    for name in ("title", "body"):
        if old[name] != new[name]:
            assert any(row.startswith(f"{name}: what changed") for row in changed)


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
    taken = subprocess.run([sys.executable, "-m", "newsspider", "browse", str(data), "--port", str(port)],
                           cwd=REPO, capture_output=True, text=True, timeout=60)
    assert taken.returncode == 1 and taken.stderr.startswith(f"Error: --port {port}: "), taken.stderr
    assert len(taken.stderr.strip().splitlines()) == 1, taken.stderr
    process, _port = start_browse(data)
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and out.strip().endswith("stopped"), out + err
    assert "Aborted" not in err and "Traceback" not in err, err
