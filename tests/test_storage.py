from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsspider.dataset.reader import DatasetError, iter_records, load, record_example
from newsspider.dataset.storage import JsonLinesWriter, StorageError, encode_record
from newsspider.demo.pages import DemoSite
from newsspider.extract import site
from newsspider.memory.sqlite import SqliteMemory, read_runs
from tests.conftest import crawl, run_cli
from tests.mockserver import MockServer

PUBLIC_IDS = {str(a.article_id) for a in DemoSite().public_articles()}


def line(article_id: str) -> bytes:
    return json.dumps(record_example(article_id=article_id)).encode() + b"\n"


def test_truncated_dataset_is_left_alone_and_new_records_go_to_a_new_shard(tmp_path: Path) -> None:
    damaged = line("1") + b'{"article_id":"2","tit'
    (tmp_path / "articles.jsonl").write_bytes(damaged)
    writer = JsonLinesWriter(tmp_path)
    writer.write(record_example(article_id="3"))
    writer.close()
    assert (tmp_path / "articles.jsonl").read_bytes() == damaged
    assert writer.path != tmp_path / "articles.jsonl" and writer.path.name.startswith("articles-")
    assert [r["article_id"] for r in iter_records(tmp_path)] == ["1", "3"]


def test_reader_skips_a_truncated_last_line_with_a_warning(tmp_path: Path, caplog) -> None:
    path = tmp_path / "articles.jsonl"
    path.write_bytes(line("1") + b'{"article_id":"2","ti')
    assert [r["article_id"] for r in iter_records(path)] == ["1"]
    assert f"{path}:2: skipped a truncated last line" in caplog.text


def test_reader_names_file_and_line_of_a_corrupt_middle_line(tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    path.write_bytes(line("1") + b"not json\n" + line("3"))
    with pytest.raises(DatasetError, match=rf"{path}:2: not a valid record"):
        list(iter_records(tmp_path))
    assert [r["article_id"] for r in iter_records(tmp_path, errors="skip")] == ["1", "3"]


def test_reader_on_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such dataset"):
        list(iter_records(tmp_path / "nope"))


def test_writer_line_is_one_json_object(tmp_path: Path) -> None:
    writer = JsonLinesWriter(tmp_path, "articles-x.jsonl")
    writer.write({"body": "第一段\n\n第二段"})
    writer.close()
    lines = (tmp_path / "articles-x.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["body"] == "第一段\n\n第二段"


# --- a full disk: a real 400 KB filesystem (tmpfs, mounted by the test: CI runs as root) ----------

@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "fs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(fs: Path, leave: int) -> None:
    """Fill *fs* up to *leave* bytes of free space."""
    free = shutil.disk_usage(fs).free
    (fs / "filler").write_bytes(b"\0" * max(0, free - leave))


@pytest.mark.parametrize("archive", [False, True])
def test_full_disk_stops_the_crawl_with_one_line(site_server: MockServer, small_fs: Path,
                                                 archive: bool) -> None:
    """The disk fills up under the dataset (the web archive off) or under the web archive."""
    data_dir = small_fs / "data"
    fill(small_fs, (300 if archive else 200) * 1024)  # the state (its WAL at its largest), some articles
    # (without the sitemaps: their 45 articles queued at once filled the disk under the frontier's queue
    # and the state first, which a crawl survives; the subject here is the dataset and the archive)
    result = crawl(site_server, data_dir, "--no-sitemaps", *([] if archive else ["--no-warc"]))
    assert result.returncode == 1, result.stderr[-6000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    stored = (data_dir / "articles.jsonl").read_bytes()
    count = stored.count(b"\n")
    full = re.escape(str(data_dir / "articles.jsonl"))
    if archive:  # whichever write finds the disk full first: the page's WARC record or its line
        full = f"(?:{full}|{re.escape(str(data_dir / 'warc'))}/newsspider-\\d{{14}}-\\d{{5}}\\.warc\\.gz)"
    assert len(errors) == 1
    assert re.fullmatch(f"Error: no space left on device writing {full}; stopped after {count} articles",
                        errors[0]), errors
    assert 0 < count < len(PUBLIC_IDS)
    if archive:  # the record that did not fit was undone: the file holds whole records only
        [warc] = (data_dir / "warc").iterdir()
        checked = subprocess.run(["warcio", "check", str(warc)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout
        for record in load(data_dir, latest=False):  # and every stored article's page is in it
            assert record["warc"]["offset"] + record["warc"]["length"] <= warc.stat().st_size
    assert "Traceback" not in result.stderr
    assert stored.endswith(b"\n"), "a partial line was left"
    fetched = [r["path"] for r in site_server.requests() if site.ARTICLE_PATH.match(r["path"])]
    assert len(fetched) <= count + 20, "the crawl went on fetching after the disk was full"
    assert [(r.status, r.finish_reason) for r in read_runs(data_dir)] == [("failed", "storage_error")]

    subprocess.run(["mount", "-o", "remount,size=4m", str(small_fs)], check=True)  # room is made
    again = crawl(site_server, data_dir)
    assert again.returncode == 0, again.stderr
    ids = Counter(r["article_id"] for r in load(data_dir, latest=False))
    assert set(ids) == PUBLIC_IDS and max(ids.values()) == 1
    assert (data_dir / "articles.jsonl").read_bytes().startswith(stored)


def test_full_disk_under_the_state(small_fs: Path) -> None:
    state = SqliteMemory(small_fs, commit_every=1)
    state.start_run()
    fill(small_fs, 0)
    message = rf"^database or disk is full writing {small_fs / 'state.sqlite3'}$"
    with pytest.raises(StorageError, match=message):
        for n in range(1, 10_000):
            state.record_stored(record_example(article_id=str(n), body="正文" * 500), "articles.jsonl", n)
    state.close()


def test_full_disk_under_an_export(small_fs: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "articles.jsonl").write_bytes(b"".join(line(str(n)) for n in range(1, 2000)))
    out = small_fs / "out.jsonl"
    result = run_cli("dataset", "export", str(data_dir), "--format", "jsonl", "--out", str(out))
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: no space left on device writing {out}; nothing was written"
    assert sorted(p.name for p in small_fs.iterdir()) == [], "a partial output was left"


def test_a_failed_write_is_undone(small_fs: Path) -> None:
    writer = JsonLinesWriter(small_fs)
    writer.write(record_example(article_id="1"))
    fill(small_fs, 100)
    with pytest.raises(StorageError, match=r"^no space left on device writing "):
        writer.write(record_example(article_id="2", body="长" * 3000))
    writer.close()
    assert (small_fs / "articles.jsonl").read_bytes() == encode_record(record_example(article_id="1"))
