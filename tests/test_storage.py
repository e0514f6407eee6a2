from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsspider.dataset import DatasetError, iter_records, record_example
from newsspider.storage import JsonLinesWriter


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
