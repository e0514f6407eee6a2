"""The web archive: every fetched page kept as WARC, read back, checked by warcio's own tools."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from markupsafe import escape

from newsspider.archive.reader import ArchiveError, archived_page, warc_files
from newsspider.archive.replay import BATCH, archived_articles, share_archive
from newsspider.archive.warcfile import Fetch, WarcFiles
from newsspider.dataset.reader import check_record, record_example
from newsspider.demo.pages import STYLESHEET_PATH, DemoSite
from tests.conftest import FAST, crawl, read_jsonl, reports_killed_run, run_cli
from tests.mockserver import MockServer
from tests.pywb import wayback
from tests.test_kill import lines, start, wait_until

# One worker runs this module (one archived crawl and one offline copy for the module).
pytestmark = pytest.mark.xdist_group("archive")

PUBLIC = {str(a.article_id) for a in DemoSite().public_articles()}
WARCIO = shutil.which("warcio") or "warcio"


def warcio(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WARCIO, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory):
    """One crawl of the mock site with the archive on (the default)."""
    data_dir = tmp_path_factory.mktemp("data")
    with MockServer() as server:
        result = crawl(server, data_dir)
        assert result.returncode == 0, result.stderr
        yield server, data_dir, read_jsonl(data_dir / "articles.jsonl")


def test_every_warc_file_passes_warcio_check(archived) -> None:
    _, data_dir, _ = archived
    files = warc_files(data_dir)
    assert files, "no WARC file written"
    for path in files:
        checked = warcio("check", "-v", str(path))
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "digest pass" in checked.stdout


def test_the_index_lists_every_fetched_page_as_request_and_response(archived) -> None:
    server, data_dir, records = archived
    index = "".join(warcio("index", "-f", "warc-type,warc-target-uri", str(p)).stdout
                    for p in warc_files(data_dir))
    responses = {line.split('"warc-target-uri": "')[1].split('"')[0] for line in index.splitlines()
                 if '"response"' in line}
    assert {r["url"] for r in records} <= responses
    assert server.url("/robots.txt") in responses  # listing pages and robots.txt too, by default
    assert server.url("/bnews/") in responses
    assert index.count('"request"') == index.count('"response"')


def test_every_article_points_at_its_archived_page(archived) -> None:
    _, data_dir, records = archived
    assert {r["article_id"] for r in records} == PUBLIC
    for record in records:
        assert record["schema_version"] == 2
        page = archived_page(data_dir, record["warc"])
        assert page.url == record["url"]
        assert page.record_id == record["warc"]["record_id"]
        assert record["title"] in page.body.decode("utf-8")
        raw = (data_dir / record["warc"]["file"]).read_bytes()
        member = raw[record["warc"]["offset"]: record["warc"]["offset"] + record["warc"]["length"]]
        record_bytes = gzip.decompress(member)  # exactly one whole gzip member: the record
        assert record_bytes.startswith(b"WARC/1.1\r\n") and record_bytes.endswith(b"\r\n\r\n")
        assert b"\r\nWARC-Type: response\r\n" in record_bytes.split(b"\r\n\r\n", 1)[0] + b"\r\n"


def test_dataset_page_prints_the_archived_html(archived) -> None:
    _, data_dir, records = archived
    seed = next(r for r in records if r["article_id"] == "2054421")
    result = run_cli("dataset", "page", str(data_dir), "2054421")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<!DOCTYPE html>") and seed["title"] in result.stdout
    headers = run_cli("dataset", "page", str(data_dir), "2054421", "--headers")
    assert headers.stdout.splitlines()[0] == "HTTP/1.1 200 OK"
    assert "Content-Type: text/html" in headers.stdout


def test_dataset_page_of_an_unknown_article_is_one_line(archived) -> None:
    _, data_dir, _ = archived
    result = run_cli("dataset", "page", str(data_dir), "999")
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: article 999 is not in {data_dir}"


def _pointer(file: str) -> dict:
    return {"file": file, "offset": 0, "length": 10, "record_id": "<urn:uuid:1>"}


@pytest.mark.parametrize("file", ["../x", "/etc/passwd", "warc/../../x.warc.gz", "warc/sub/x.warc.gz",
                                  "x.warc"])
def test_the_schema_keeps_warc_pointers_in_the_warc_dir(file: str) -> None:
    good = _pointer("warc/newsspider-20240101000000-w1-00001.warc.gz")
    assert check_record(record_example(warc=good)) is None
    assert check_record(record_example(warc=_pointer(file))) == (
        r"does not fit the schema: data.warc.file must match pattern ^warc/[^/\\]+\.warc(\.gz)?$")


SECRET = "root:x:0:0:a secret first line"


@pytest.mark.parametrize("case", ["../x", "/etc/passwd", "link out", "not a warc"])
def test_dataset_page_of_a_pointer_to_another_file_is_one_line_without_its_content(tmp_path: Path,
                                                                                   case: str) -> None:
    """A dataset from elsewhere whose record points at a file outside its warc/ (or at one that is not a
    WARC): one line naming the record, nothing of the file printed."""
    data = tmp_path / "data"
    (data / "warc").mkdir(parents=True)
    (tmp_path / "x").write_text(SECRET + "\n")
    file = {"../x": "../x", "/etc/passwd": "/etc/passwd"}.get(case, "warc/x.warc.gz")
    if case == "link out":
        (data / "warc" / "x.warc.gz").symlink_to(tmp_path / "x")
    elif case == "not a warc":
        (data / "warc" / "x.warc.gz").write_text(SECRET + "\n")
    (data / "articles.jsonl").write_text(json.dumps(record_example(warc=_pointer(file))) + "\n")
    result = run_cli("dataset", "page", str(data), "1")
    assert result.returncode == 1 and result.stdout == ""
    assert "root:" not in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    expected = {
        "link out": f"Error: article 1: its archived page 'warc/x.warc.gz' is not a file of {data / 'warc'}: "
                    "not read",
        "not a warc": f"Error: article 1: its archived page {data / 'warc/x.warc.gz'}, byte 0: cannot be "
                      "read (not a WARC record)",
    }.get(case, f"Error: {data / 'articles.jsonl'}:1: not a valid record (does not fit the schema: "
                "data.warc.file must match pattern")
    assert result.stderr.startswith(expected), result.stderr
    with pytest.raises(ArchiveError, match=r"^'/etc/passwd' is not a file of .*/warc: not read$"):
        archived_page(data, _pointer("/etc/passwd"))  # a pointer that did not come through the schema


def test_browse_shows_a_pointer_out_of_the_archive_as_one_line(tmp_path: Path) -> None:
    """browse's archived page (the real Datasette and plugin, in this process) of a database whose
    pointer names a file outside the data dir's warc/ (a database built elsewhere, or edited)."""
    import asyncio
    import sqlite3
    from contextlib import closing

    from datasette.app import Datasette
    from datasette.plugins import pm

    from newsspider.views.search import browse as plugin
    from newsspider.views.search.database import build

    (tmp_path / "articles.jsonl").write_text(json.dumps(record_example(
        warc=_pointer("warc/x.warc.gz"))) + "\n")
    built = build(tmp_path)
    with closing(sqlite3.connect(built.path)) as conn, conn:
        conn.execute("UPDATE articles SET warc = ?", (json.dumps(_pointer("/etc/passwd")),))
    if not pm.is_registered(plugin):
        pm.register(plugin, name=plugin.PLUGIN)
    app = Datasette([str(built.path)], metadata=plugin.metadata(built.path.stem),
                    template_dir=str(plugin.TEMPLATES))
    plugin.configure(app, tmp_path)

    async def get(path: str) -> tuple[int, str]:
        response = await app.client.get(path)
        return response.status_code, response.text

    message = f"'/etc/passwd' is not a file of {tmp_path / 'warc'}: not read"
    status, text = asyncio.run(get("/-/newsspider/page/1/raw"))  # the page in the frame
    assert status == 500 and "root:x" not in text
    assert text == f"article 1: {message}\n"
    status, text = asyncio.run(get("/-/newsspider/page/1"))  # the reading room's page of it
    assert status == 500 and "root:x" not in text and str(escape(message)) in text


def test_no_warc_keeps_no_pages(site_server: MockServer, tmp_path: Path) -> None:
    result = crawl(site_server, tmp_path, "--no-warc", "-s", "CLOSESPIDER_ITEMCOUNT=3")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "warc").exists()
    records = read_jsonl(tmp_path / "articles.jsonl")
    assert records and all(r["warc"] is None for r in records)
    page = run_cli("dataset", "page", str(tmp_path), records[0]["article_id"])
    assert page.returncode == 1 and "was stored without its page" in page.stderr


def test_a_killed_crawl_leaves_warcs_that_warcio_accepts(site_server: MockServer, tmp_path: Path) -> None:
    proc = start(site_server, tmp_path)
    wait_until(lambda: lines(tmp_path / "articles.jsonl") >= 7, proc)
    proc.kill()
    proc.wait(timeout=10)
    result = crawl(site_server, tmp_path)
    assert reports_killed_run(result), result.stderr
    files = warc_files(tmp_path)
    assert len(files) == 2  # the next crawl started its own file
    for path in files:
        checked = warcio("check", str(path))
        assert checked.returncode == 0, checked.stdout + checked.stderr
    for record in read_jsonl(tmp_path / "articles.jsonl"):  # each pointer, before and after the kill
        assert archived_page(tmp_path, record["warc"]).record_id == record["warc"]["record_id"]


def test_warc_index_lists_every_article(archived) -> None:
    _, data_dir, records = archived
    result = run_cli("dataset", "warc-index", str(data_dir))
    assert result.returncode == 0, result.stderr
    index = (data_dir / "index.cdxj").read_text("utf-8").splitlines()
    assert result.stdout.strip() == f"{len(index)} records indexed in {data_dir / 'index.cdxj'}"
    assert index == sorted(index)
    urls = {json.loads(line.split(" ", 2)[2]).get("url") for line in index}
    assert {r["url"] for r in records} <= urls
    seed = next(r for r in records if r["article_id"] == "2054421")
    entry = next(json.loads(line.split(" ", 2)[2]) for line in index
                 if f'"url": "{seed["url"]}"' in line and '"status": "200"' in line)
    assert entry["filename"] == seed["warc"]["file"] and int(entry["offset"]) == seed["warc"]["offset"]


def test_wacz_opens_with_wacz_validate(archived, tmp_path: Path) -> None:
    _, data_dir, records = archived
    out = tmp_path / "archive.wacz"
    result = run_cli("dataset", "wacz", str(data_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{len(records)} pages packaged in {out}"
    validated = subprocess.run([shutil.which("wacz") or "wacz", "validate", "-f", str(out)],
                               capture_output=True, text=True, timeout=120)
    assert validated.returncode == 0 and "is valid" in validated.stdout, validated.stdout
    with zipfile.ZipFile(out) as package:
        pages = [json.loads(line) for line in package.read("pages/pages.jsonl").splitlines()[1:]]
        assert {p["url"] for p in pages} == {r["url"] for r in records}
        assert sum(name.endswith(".warc.gz") for name in package.namelist()) == len(warc_files(data_dir))


@pytest.mark.parametrize("command", [["warc-index"], ["wacz", "--out", "x.wacz"]])
def test_an_archive_without_warcs_is_one_line(tmp_path: Path, command: list[str]) -> None:
    result = run_cli("dataset", command[0], str(tmp_path), *command[1:], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"Error: {tmp_path}: no WARC files in {tmp_path / 'warc'} "
                                     "(crawled with --no-warc?)")
    assert not (tmp_path / "x.wacz").exists() and not (tmp_path / "index.cdxj").exists()


@pytest.mark.parametrize("command", [["warc-index"], ["wacz", "--out", "x.wacz"]])
def test_packaging_without_the_archive_extra_is_one_line(tmp_path: Path, command: list[str]) -> None:
    # `pip install .` without [archive]: the module is not there
    code = ("import sys; sys.modules['cdxj_indexer'] = None; from newsspider.cli import main; "
            "main(sys.argv[1:])")
    result = subprocess.run([sys.executable, "-c", code, "dataset", command[0], str(tmp_path), *command[1:]],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"Error: dataset {command[0]} needs cdxj_indexer: "
                                     "pip install 'newsspider[archive]'")


def content(records: list[dict]) -> dict[str, dict]:
    """The records by id, without when and where they were fetched."""
    return {r["article_id"]: {k: v for k, v in r.items() if k not in ("crawled_at", "warc")} for r in records}


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory):
    """A crawl's data dir whose site is gone (the server stopped)."""
    data_dir = tmp_path_factory.mktemp("offline")
    with MockServer() as server:
        assert crawl(server, data_dir).returncode == 0
    return data_dir


@pytest.mark.parametrize("jobs", [1, 2])
def test_reextract_without_the_site_gives_the_same_records(offline: Path, tmp_path: Path, jobs: int) -> None:
    out = tmp_path / "again"
    result = run_cli("reextract", str(offline), "--out", str(out), "--jobs", str(jobs))
    assert result.returncode == 0, result.stderr
    where = "in this process" if jobs == 1 else f"in {jobs} worker processes"
    assert f"reading {len(read_jsonl(offline / 'articles.jsonl'))} archived pages {where}" in result.stderr
    crawled, again = read_jsonl(offline / "articles.jsonl"), read_jsonl(out / "articles.jsonl")
    assert content(again) == content(crawled)
    assert {r["article_id"]: r["content_hash"] for r in again} == {
        r["article_id"]: r["content_hash"] for r in crawled}
    assert result.stdout.splitlines()[0] == (
        f"Re-extraction finished: {len(crawled)} archived pages read, {len(crawled)} stored "
        "(0 new versions), 0 unchanged, 0 dropped, 0 failed")
    for record in again:  # each points at the page it was read from, in its own dir's warc/: a hard link
        assert (out / record["warc"]["file"]).samefile(offline / record["warc"]["file"])
        assert archived_page(out, record["warc"]).url == record["url"]
    by_id = {r["article_id"]: r for r in crawled}
    assert all(r["crawled_at"] == by_id[r["article_id"]]["crawled_at"] for r in again)  # capture time
    # into the crawl's own dir: nothing changed, nothing stored
    same = run_cli("reextract", str(offline))
    assert same.returncode == 0, same.stderr
    assert f"0 stored (0 new versions), {len(crawled)} unchanged" in same.stdout
    assert read_jsonl(offline / "articles.jsonl") == crawled


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_changed_selector_changes_exactly_its_field(offline: Path, tmp_path: Path, jobs: int) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(offline, data_dir)
    before = read_jsonl(data_dir / "articles.jsonl")
    with_summary = {r["article_id"] for r in before if r["summary"]}
    assert with_summary and len(with_summary) < len(before)
    # the selector as edited in newsspider/extract/site.py: every process that loads the script has it, the
    # worker processes too (they load the main script again)
    script = tmp_path / "changed.py"
    script.write_text("import sys\nimport newsspider.extract.site as site\n"
                      "site.SUMMARY = 'p#no-such-summary'\n"
                      "if __name__ == '__main__':\n    from newsspider.cli import main\n"
                      "    main(sys.argv[1:])\n")
    result = subprocess.run([sys.executable, str(script), "reextract", str(data_dir), "--jobs", str(jobs)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    after = read_jsonl(data_dir / "articles.jsonl")
    assert after[: len(before)] == before  # appended to, never rewritten
    added = after[len(before):]
    assert {r["article_id"] for r in added} == with_summary
    old = {r["article_id"]: r for r in before}
    for record in added:
        assert record["version"] == 2 and record["summary"] is None
        changed = {k for k in record if record[k] != old[record["article_id"]][k]}
        assert changed <= {"summary", "version", "crawled_at", "warc"} and "summary" in changed


def children(pid: int) -> dict[int, str]:
    """The live processes whose parent is *pid*: their command lines."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(errors="replace").rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended meanwhile
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(stat.parent.name)] = cmdline
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_sigkilled_reextract_leaves_no_worker_running(offline: Path, tmp_path: Path) -> None:
    """reextract's worker processes (busy: each reads its batch for an hour) end with the command when it
    is SIGKILLed, as the out-of-memory killer kills."""
    script = tmp_path / "slow.py"
    script.write_text(
        "import sys, time\nimport newsspider.archive.replay as replay\n"
        "def read_for_an_hour(*args):\n    time.sleep(3600)\n"
        "replay.read_articles = read_for_an_hour\n"
        "if __name__ == '__main__':\n    from newsspider.cli import main\n    main(sys.argv[1:])\n")
    command = [sys.executable, str(script), "reextract", str(offline), "--out", str(tmp_path / "out"),
               "--jobs", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while sum("spawn_main" in line for line in children(process.pid).values()) < 2:
            assert process.poll() is None and time.monotonic() < deadline, "no worker processes started"
            time.sleep(0.1)
        started = children(process.pid)  # the workers, and multiprocessing's resource tracker
    finally:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in started):
        if time.monotonic() > deadline:
            for pid in started:  # not left running by the test either
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"still running 10 s after reextract was killed: "
                                 f"{ {pid: line for pid, line in started.items() if alive(pid)} }")
        time.sleep(0.1)


def test_reextract_out_to_another_filesystem_copies_the_warcs_its_records_point_into(
        offline: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """No hard link across filesystems (a real tmpfs, mounted by the test: CI runs as root): a copy, once;
    and a crawl into that dir leaves a WARC file linked from another dir as it is."""
    captures = archived_articles(offline)
    mount = tmp_path / "fs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], check=True)
    try:
        share_archive(offline, mount / "out", captures)
        [name] = {c.pointer["file"] for c in captures}
        assert (mount / "out" / name).read_bytes() == (offline / name).read_bytes()
        assert "copied 1 WARC files (0 MB) into" in caplog.text
        caplog.clear()
        share_archive(offline, mount / "out", captures)  # there already: kept
        assert caplog.text == "" and [p.name for p in (mount / "out/warc").iterdir()] == [Path(name).name]
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)
    source = tmp_path / "src"
    (source / "warc").mkdir(parents=True)
    shutil.copy(offline / name, source / name)
    with (source / name).open("ab") as handle:  # its last record cut short, as a killed crawl leaves it
        handle.write((offline / name).read_bytes()[captures[-1].pointer["offset"]:][:100])
    share_archive(source, tmp_path / "out", captures)
    size = (source / name).stat().st_size
    WarcFiles(tmp_path / "out").close()
    assert (source / name).stat().st_size == size  # the other dir's file: its own crawl repairs it


def gzip_bomb() -> bytes:
    """A gzip member of 1 GiB of zeros, 1 MiB in size: one deflate block of 1 MiB of zeros, full-flushed
    so that it stands alone, 1,024 times; its CRC-32 is zlib.crc32(bytes(2**30)) (0.8 s to compute)."""
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    repeated = block.compress(bytes(1 << 20)) + block.flush(zlib.Z_FULL_FLUSH)
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + repeated * 1024
            + zlib.compressobj(9, zlib.DEFLATED, -15).flush() + struct.pack("<II", 0x5B64C2B0, 2**30))


def test_reextract_of_a_compression_bomb_refuses_that_page_in_bounded_memory(tmp_path: Path) -> None:
    """An archive holding a page that inflates to 1 GiB (1 MiB as archived, written as the crawl writes a
    response), read back by reextract in a process that may map 1 GiB in all: the page is refused and
    counted, the others are stored."""
    import resource

    data = tmp_path / "data"
    files = WarcFiles(data)
    page = (Path(__file__).parents[1] / "newsspider/demo/article-openai-china-api.html").read_bytes()
    root = "http://127.0.0.1:1/bnews/itnews/20240626/"
    bomb = root + "7000001.html"
    pages = [(bomb, gzip_bomb(), [("Content-Encoding", "gzip")]),
             *((f"{root}{7000002 + n}.html", page, []) for n in range(10))]
    for url, body, encoding in pages:
        files.write(Fetch(url=url, method="GET", request_headers=[], request_body=b"", status=200,
                          response_headers=[("Content-Type", "text/html; charset=utf-8"), *encoding],
                          body=body))
    files.close()

    def at_most_1_gib() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    result = subprocess.run([sys.executable, "-m", "newsspider", "reextract", str(data), "--jobs", "1"],
                            capture_output=True, text=True, timeout=300, preexec_fn=at_most_1_gib)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    refused = [line for line in result.stderr.splitlines() if bomb in line]
    assert len(refused) == 1 and f"failed (too_large): {bomb}: " in refused[0], result.stderr
    assert "exceeded DOWNLOAD_MAXSIZE (8388608 B) decoded" in refused[0]
    assert result.stdout.splitlines()[0] == ("Re-extraction finished: 11 archived pages read, 10 stored "
                                             "(0 new versions), 0 unchanged, 0 dropped, 1 failed")


def test_reextract_of_a_dir_without_warcs_is_one_line(tmp_path: Path) -> None:
    result = run_cli("reextract", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip() == (f"Error: {tmp_path}: no WARC files in {tmp_path / 'warc'} "
                                     "(crawled with --no-warc?)")


def test_reextract_of_a_warc_cut_short_uses_what_is_whole(offline: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "warc").mkdir(parents=True)
    [source] = warc_files(offline)
    records = read_jsonl(offline / "articles.jsonl")
    last = max(records, key=lambda r: r["warc"]["offset"])
    cut = last["warc"]["offset"] + last["warc"]["length"] // 2  # in the middle of an article's record
    (data_dir / "warc" / source.name).write_bytes(source.read_bytes()[:cut])
    result = run_cli("reextract", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert f"cut short in the record at byte {last['warc']['offset']}" in result.stderr
    again = read_jsonl(data_dir / "articles.jsonl")
    assert {r["article_id"] for r in again} == {r["article_id"] for r in records
                                                if r["warc"]["offset"] < last["warc"]["offset"]}
    assert content(again) == {k: v for k, v in content(records).items() if k != last["article_id"]}


def test_a_reextract_worker_killed_stops_the_run_with_one_line(offline: Path, tmp_path: Path) -> None:
    records = sorted(read_jsonl(offline / "articles.jsonl"), key=lambda r: r["warc"]["offset"])
    assert len(records) > BATCH  # two batches: the second one's worker dies
    # A worker killed as the out-of-memory killer kills, on the batch that holds the second batch's
    # first page: patched in every process that loads the script (the workers load it again).
    script = tmp_path / "killed.py"
    script.write_text(
        "import os, signal, sys\nimport newsspider.archive.replay as replay\nread = replay.read_articles\n"
        "def read_or_die(source, data_dir, captures, *rest):\n"
        f"    if any(c.pointer['offset'] == {records[BATCH]['warc']['offset']} for c in captures):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return read(source, data_dir, captures, *rest)\n"
        "replay.read_articles = read_or_die\n"
        "if __name__ == '__main__':\n    from newsspider.cli import main\n    main(sys.argv[1:])\n")
    out = tmp_path / "again"
    result = subprocess.run([sys.executable, str(script), "reextract", str(offline), "--out", str(out),
                             "--jobs", "2"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    # whole lines: what was stored before the stop (no file at all when that was nothing)
    stored = read_jsonl(out / "articles.jsonl") if (out / "articles.jsonl").exists() else []
    assert len(stored) <= BATCH
    assert result.stderr.splitlines()[-1] == ("Error: a re-extraction worker process died (killed, or out of "
                                              f"memory?); stopped after {len(stored)} articles")
    assert "Traceback" not in result.stderr
    # the next run reads what is missing, and only that
    again = run_cli("reextract", str(offline), "--out", str(out), "--jobs", "2")
    assert again.returncode == 0, again.stderr
    assert f"{len(records) - len(stored)} stored (0 new versions), {len(stored)} unchanged" in again.stdout
    assert content(read_jsonl(out / "articles.jsonl")) == content(records)


def test_an_archived_article_replays_through_pywb(archived, tmp_path: Path) -> None:
    """pywb serves the archive with the index `dataset warc-index` wrote: the page comes back."""
    _, data_dir, records = archived
    with replay(data_dir, tmp_path) as (port, proc):
        seed = next(r for r in records if r["article_id"] == "2054421")
        archived_html = archived_page(data_dir, seed["warc"]).body
        raw = fetch(f"http://127.0.0.1:{port}/news/id_/{seed['url']}", proc)
        assert raw == archived_html  # identity replay: the bytes as archived
        replayed = fetch(f"http://127.0.0.1:{port}/news/2026/{seed['url']}", proc).decode("utf-8")
        assert seed["title"] in replayed and "wombat" in replayed  # rewritten for browsing


@contextmanager
def replay(data_dir: Path, folder: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """pywb serving *data_dir*'s archive (indexed by `dataset warc-index`) as collection ``news``."""
    assert run_cli("dataset", "warc-index", str(data_dir)).returncode == 0
    (folder / "config.yaml").write_text(
        f"collections:\n  news:\n    index_paths: {data_dir / 'index.cdxj'}\n    archive_paths: {data_dir}/\n"
        "framed_replay: false\n")
    port = free_port()
    proc = subprocess.Popen([str(wayback()), "-p", str(port), "-b", "127.0.0.1"], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield port, proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def free_port() -> int:
    """A free port for pywb (which opens a second, internal port of its own choosing: the port it
    was given is the one to read, so it is given one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str, proc: subprocess.Popen[str], timeout: float = 60) -> bytes:
    """GET *url* from the starting server, waiting for it to listen."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return bytes(response.read())
        except (ConnectionError, urllib.error.URLError):
            assert proc.poll() is None, f"pywb exited: {proc.stderr.read() if proc.stderr else ''}"
            assert time.monotonic() < deadline, "pywb did not answer"
            time.sleep(0.2)


def test_refresh_writes_revisits_for_unchanged_pages(mockserver: MockServer, tmp_path: Path) -> None:
    mockserver.validators("none")  # each page fetched whole (a 304's revisit: test_validators.py)
    assert crawl(mockserver, tmp_path).returncode == 0
    first = read_jsonl(tmp_path / "articles.jsonl")
    mockserver.edit_article(2060000)
    # The refresh does not read the archive (the state keeps each article's capture): it works with the
    # earlier WARC files moved away (to cold storage), and writes its revisits all the same.
    (earlier,) = warc_files(tmp_path)
    aside = earlier.rename(tmp_path / earlier.name)
    # Another article's page is the same, but what is extracted from it is not (as after an upgrade of
    # newsspider's extraction): its new version points at the earlier response, not at the revisit.
    reread = next(r for r in first if r["article_id"] == "2060037")
    with sqlite3.connect(tmp_path / "state.sqlite3") as state:
        state.execute("UPDATE articles SET content_hash = 'sha256:0' WHERE article_id = 2060037")
    result = crawl(mockserver, tmp_path, "--refresh", "--no-sitemaps")  # with them, only the edited one
    assert result.returncode == 0, result.stderr
    aside.rename(earlier)
    old, new = warc_files(tmp_path)
    again = [r for r in read_jsonl(tmp_path / "articles.jsonl") if r["article_id"] == "2060037"]
    assert [r["version"] for r in again] == [1, 2] and again[1]["warc"] == reread["warc"]
    verified = run_cli("verify", str(tmp_path))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for path in (old, new):
        checked = warcio("check", str(path))
        assert checked.returncode == 0, checked.stdout + checked.stderr
    index = [json.loads(line) for line in warcio("index", "-f", "warc-type,warc-target-uri,warc-profile,"
                                                   "warc-refers-to-target-uri", str(new)).stdout.splitlines()]
    revisits = {r["warc-target-uri"] for r in index if r["warc-type"] == "revisit"}
    responses = {r["warc-target-uri"] for r in index if r["warc-type"] == "response"}
    edited = next(r["url"] for r in first if r["article_id"] == "2060000")
    assert edited in responses and edited not in revisits  # its payload changed: archived again
    assert {r["url"] for r in first} - {edited} <= revisits  # the others: the same payload
    assert all(r.get("warc-profile", "").endswith("/revisit/identical-payload-digest")
               for r in index if r["warc-type"] == "revisit")
    # the new version of the edited article points at its new response; the page reads back
    latest = [r for r in read_jsonl(tmp_path / "articles.jsonl") if r["article_id"] == "2060000"][-1]
    assert latest["version"] == 2
    assert latest["warc"]["file"] == str(new.relative_to(tmp_path))
    assert "更正" in archived_page(tmp_path, latest["warc"]).body.decode("utf-8")


def test_images_are_fetched_into_the_archive_only_when_asked(site_server: MockServer, tmp_path: Path) -> None:
    plain = crawl(site_server, tmp_path / "plain")
    assert plain.returncode == 0, plain.stderr
    assert not [r for r in site_server.requests() if r["path"].startswith("/wp-content/")]
    records = read_jsonl(tmp_path / "plain" / "articles.jsonl")
    pictured = [r for r in records if r["images"]]
    assert pictured and all(r["image_url"] == r["images"][0]["url"] for r in pictured)
    assert all(r["images"][0]["caption"] == "图/演示图片社" for r in pictured)  # its credit line

    result = crawl(site_server, tmp_path / "images", "--images")
    assert result.returncode == 0, result.stderr
    wanted = {image["url"] for r in pictured for image in r["images"]}
    fetched = [r["path"] for r in site_server.requests() if r["path"].startswith("/wp-content/uploads/")]
    root = len(site_server.root)
    assert sorted(fetched) == sorted(site_server.url(urlsplit(u).path)[root:] for u in wanted)
    # and the article pages' own stylesheet, once (every article page links the same one)
    stylesheet = site_server.url(STYLESHEET_PATH + "?ver=1.0")
    assert [r["path"] for r in site_server.requests() if r["path"].startswith("/wp-content/themes/")] == [
        stylesheet[root:]]
    [warc] = warc_files(tmp_path / "images")
    assert warcio("check", str(warc)).returncode == 0
    index = [json.loads(line) for line in warcio("index", "-f", "warc-type,warc-target-uri,http:content-type",
                                                   str(warc)).stdout.splitlines()]
    archived = {r["warc-target-uri"] for r in index
                if r["warc-type"] == "response" and r.get("http:content-type") == "image/svg+xml"}
    assert archived == wanted
    assert [r["warc-target-uri"] for r in index if r["warc-type"] == "response"
            and r.get("http:content-type", "").startswith("text/css")] == [stylesheet]


def test_images_need_the_archive(tmp_path: Path) -> None:
    result = run_cli("crawl", "--images", "--no-warc", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "--images keeps the images in the web archive: it cannot go with --no-warc" in result.stderr


def test_warc_files_rotate_at_the_size_setting(site_server: MockServer, tmp_path: Path) -> None:
    result = crawl(site_server, tmp_path, "-s", "NEWSSPIDER_WARC_MAX_SIZE=100000")
    assert result.returncode == 0, result.stderr
    files = warc_files(tmp_path)
    assert len(files) >= 3
    assert [p.name[-13:] for p in files] == [f"{n:05d}.warc.gz" for n in range(1, len(files) + 1)]
    for path in files[:-1]:  # each is started anew once the last one reached the size
        assert path.stat().st_size >= 100_000
        assert warcio("check", str(path)).returncode == 0
    for record in read_jsonl(tmp_path / "articles.jsonl"):
        assert archived_page(tmp_path, record["warc"]).record_id == record["warc"]["record_id"]


def test_a_record_cut_short_by_a_kill_is_removed_by_the_next_crawl(site_server: MockServer,
                                                                   tmp_path: Path) -> None:
    """A SIGKILL can stop a write between two pages: the next crawl removes the piece it left."""
    assert crawl(site_server, tmp_path, "-s", "CLOSESPIDER_ITEMCOUNT=5").returncode == 0
    [warc] = warc_files(tmp_path)
    whole = warc.read_bytes()
    record = read_jsonl(tmp_path / "articles.jsonl")[-1]["warc"]
    piece = whole[record["offset"]: record["offset"] + record["length"] // 2]
    warc.write_bytes(whole + piece)  # as a killed crawl leaves it
    with pytest.raises(EOFError):  # (warcio check does not notice: it stops at the cut)
        gzip.decompress(warc.read_bytes())
    result = crawl(site_server, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{warc}: its last record was cut short" in result.stderr
    assert warc.read_bytes() == whole  # exactly the piece removed, every whole record kept
    assert warcio("check", str(warc)).returncode == 0 and gzip.decompress(warc.read_bytes())


def test_a_crawl_never_appends_to_another_crawls_warc(tmp_path: Path) -> None:
    """Two crawls that start in the same second get two files (the name has the second, not more)."""
    first = WarcFiles(tmp_path, "w1")
    second = WarcFiles(tmp_path, "w1")
    second.stem = first.stem  # as when both start within one second
    fetch = Fetch("http://127.0.0.1/x", "GET", [], b"", 200, [("Content-Type", "text/html")], b"<p>x</p>")
    one, _ = first.write(fetch)
    two, _ = second.write(fetch)
    first.close()
    second.close()
    assert one.file != two.file  # each a file of its own, its record right after its warcinfo:
    assert one.offset < 500 and two.offset < 500


def test_reextract_of_an_archive_crawled_before_the_new_credit_forms_updates_exactly_them(
        tmp_path: Path) -> None:
    """Crawled with the earlier credit-line rules, re-extracted with today's: new versions for exactly
    the articles whose credit line or ending takes one of the later forms, and only in those fields."""
    demo = DemoSite()
    with MockServer() as server:
        before_run = subprocess.run(
            [sys.executable, "-m", "tests.credit_rules_before", "crawl", "--start-url", server.url("/bnews/"),
             "--data-dir", str(tmp_path), *FAST], capture_output=True, text=True, timeout=120)
    assert before_run.returncode == 0, before_run.stderr
    before = read_jsonl(tmp_path / "articles.jsonl")
    assert any("来源：" in (r["author"] or "") for r in before)  # what the earlier rules got wrong
    result = run_cli("reextract", str(tmp_path), "--jobs", "1")
    assert result.returncode == 0, result.stderr
    after = read_jsonl(tmp_path / "articles.jsonl")
    assert after[: len(before)] == before  # appended to, never rewritten
    added = {r["article_id"]: r for r in after[len(before):]}
    later_forms = {str(a.article_id) for a in demo.public_articles()  # generated pages (not the real one)
                   if a.fragment is None and (a.article_id % 8 in (4, 5) or a.article_id % 10 == 0)}
    assert set(added) == later_forms
    old = {r["article_id"]: r for r in before}
    for article_id, record in added.items():
        changed = {k for k in record if record[k] != old[article_id][k]}
        assert changed <= {"author", "source", "editor", "body", "content_hash", "version", "crawled_at",
                           "warc"}
        assert record["version"] == 2
        assert "来源：" not in (record["author"] or "") and "转发分享" not in record["body"]
        assert "Original " not in record["body"]
