"""Loading a crawled dataset: the loader, pandas, DuckDB, Hugging Face datasets; bad files; views."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from lxml import html as lxml_html

from newsspider.dataset.export import Filters, export, graph_edges, write_graph
from newsspider.dataset.reader import (
    DatasetError,
    SchemaVersionError,
    iter_articles,
    iter_records,
    load,
    record_example,
    to_pandas,
)
from newsspider.demo.pages import DemoSite
from newsspider.views.report import html_report, summarize
from tests.conftest import crawl, read_jsonl, run_cli
from tests.mockserver import MockServer

# One worker runs this module (one crawled data dir for the module).
pytestmark = pytest.mark.xdist_group("dataset")

PUBLIC = DemoSite().public_articles()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir crawled from the mock site, with one article stored again in a second version."""
    data = tmp_path_factory.mktemp("data")
    with MockServer() as server:
        assert crawl(server, data).returncode == 0
        server.edit_article(2060000)
        assert crawl(server, data, "--refresh").returncode == 0
    return data


def digest(data_dir: Path) -> str:
    files = sorted(data_dir.glob("articles*.jsonl"))
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def test_loader_returns_latest_versions(data_dir: Path) -> None:
    records = load(data_dir)
    assert len(records) == len(PUBLIC)
    assert {r["article_id"] for r in records} == {str(a.article_id) for a in PUBLIC}
    assert next(r for r in records if r["article_id"] == "2060000")["version"] == 2
    assert len(load(data_dir, latest=False)) == len(PUBLIC) + 1
    assert len(load(data_dir / "articles.jsonl")) == len(PUBLIC)  # a single file works too


def test_to_pandas_types(data_dir: Path) -> None:
    frame = to_pandas(data_dir)
    assert len(frame) == len(PUBLIC)
    assert str(frame["published_date"].dtype) == "date32[day][pyarrow]"
    crawled = str(frame["crawled_at"].dtype)
    assert crawled.startswith("datetime64[") and crawled.endswith(", UTC]")
    assert frame["published_date"].min().isoformat() == "2020-01-01"
    assert frame.loc[frame["article_id"] == "2054421", "tags"].iloc[0][:2] == ["OpenAI", "中国"]


def test_pandas_read_json(data_dir: Path) -> None:
    import pandas as pd

    frame = pd.read_json(data_dir / "articles.jsonl", lines=True, dtype={"article_id": str})
    assert len(frame) == len(PUBLIC) + 1  # every record, both versions
    assert set(frame.columns) >= {"article_id", "title", "body", "tags", "published_date"}


def test_duckdb_read_json_auto(data_dir: Path) -> None:
    import duckdb

    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_json_auto('{data_dir}/articles*.jsonl')")
    types = dict(zip(rel.columns, map(str, rel.types), strict=True))
    assert types["published_date"] == "DATE"
    assert types["tags"] == "VARCHAR[]"
    query = f"SELECT count(DISTINCT article_id) FROM read_json_auto('{data_dir}/articles*.jsonl')"
    assert con.execute(query).fetchone()[0] == len(PUBLIC)


def test_huggingface_datasets(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets

    ds = datasets.load_dataset("json", data_files=str(data_dir / "articles.jsonl"), split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert ds.num_rows == len(PUBLIC) + 1
    assert ds.features["tags"].feature.dtype == "string"
    assert ds.features["version"].dtype == "int64"


def test_nothing_rewrites_the_dataset(data_dir: Path, tmp_path: Path) -> None:
    before = digest(data_dir)
    load(data_dir)
    summarize(data_dir)
    export(data_dir, tmp_path / "out.jsonl", "jsonl")
    write_graph(data_dir, tmp_path / "graph.csv")
    assert digest(data_dir) == before


# --- bad files -------------------------------------------------------------------------------

def line(article_id: str, **fields: object) -> bytes:
    return json.dumps(record_example(article_id=article_id, **fields), ensure_ascii=False).encode() + b"\n"


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "articles.jsonl"
    path.write_bytes(data)
    return path


def test_truncated_last_line_is_skipped_with_a_warning(tmp_path: Path, caplog) -> None:
    path = write(tmp_path, line("1") + b'{"article_id":"2","ti')
    assert [r["article_id"] for r in iter_articles(tmp_path)] == ["1"]
    assert f"{path}:2: skipped a truncated last line" in caplog.text


def test_corrupt_middle_line_raises_unless_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, line("1") + b'{"article_id": 2,,}\n' + line("3"))
    with pytest.raises(DatasetError, match=rf"^{path}:2: not a valid record \(not JSON"):
        load(tmp_path)
    assert [r["article_id"] for r in load(tmp_path, errors="skip")] == ["1", "3"]


def test_empty_file_and_blank_lines(tmp_path: Path) -> None:
    write(tmp_path, b"")
    assert load(tmp_path) == []
    write(tmp_path, b"\n" + line("1") + b"\n")
    assert len(load(tmp_path)) == 1


def test_non_utf8_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, line("1") + b'{"title":"\xb9\xfa"}\n')
    with pytest.raises(DatasetError, match=rf"{path}:2: not a valid record \(not UTF-8\)"):
        load(tmp_path)


def test_record_of_a_newer_schema(tmp_path: Path) -> None:
    path = write(tmp_path, line("1") + line("2", schema_version=9))
    message = rf"{path}:2: written by a newer newsspider \(schema version 9; this one reads up to 2\)"
    with pytest.raises(SchemaVersionError, match=message):
        load(tmp_path)
    with pytest.raises(SchemaVersionError):
        load(tmp_path, errors="skip")


def test_missing_dataset(tmp_path: Path) -> None:
    result = run_cli("dataset", "info", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: {tmp_path / 'nope'}: no such dataset file or directory"


# --- export, graph, report, info -------------------------------------------------------------

@pytest.mark.parametrize("filters", [
    Filters(), Filters(since="2024-01-01"), Filters(until="2020-01-03"), Filters(category="renquan"),
    Filters(tag="贸易战"), Filters(since="2020-01-02", until="2020-01-04", tag="贸易战"),
])
def test_export_filters(data_dir: Path, tmp_path: Path, filters: Filters) -> None:
    expected = [r for r in load(data_dir, removals=True) if filters.keep(r)]  # the latest state of each
    assert 0 < len(expected) <= len(PUBLIC)
    count = export(data_dir, tmp_path / "out.jsonl", "jsonl", filters)
    assert count == len(expected)
    assert read_jsonl(tmp_path / "out.jsonl") == expected


def test_export_parquet_has_the_schema_types(data_dir: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    assert export(data_dir, tmp_path / "a.parquet", "parquet") == len(PUBLIC)
    table = pq.read_table(tmp_path / "a.parquet")
    types = {f.name: str(f.type) for f in table.schema}
    assert types["published_date"] == "date32[day]"
    assert types["crawled_at"] == "timestamp[ms, tz=UTC]"
    assert types["tags"] in ("list<element: string>", "list<item: string>")
    assert table.num_rows == len(PUBLIC)
    assert len(set(table.column("article_id").to_pylist())) == len(PUBLIC)


def test_export_csv(data_dir: Path, tmp_path: Path) -> None:
    import csv

    export(data_dir, tmp_path / "a.csv", "csv", Filters(tag="OpenAI"))
    rows = list(csv.DictReader((tmp_path / "a.csv").open(encoding="utf-8")))
    seed = next(r for r in rows if r["article_id"] == "2054421")
    assert seed["tags"].split("; ")[:3] == ["OpenAI", "中国", "美国"]
    assert seed["author"] == "" and seed["source"] == "中时"
    assert "\n\n" in seed["body"]


@pytest.mark.parametrize("fmt", ["csv", "excel-csv", "xlsx"])
def test_spreadsheets_read_back_in_reading_order_by_date(data_dir: Path, tmp_path: Path, fmt: str) -> None:
    """Read back with pandas (and openpyxl for xlsx): columns id, date, title … body last, rows by date."""
    import openpyxl
    import pandas as pd

    out = tmp_path / f"a.{'xlsx' if fmt == 'xlsx' else 'csv'}"
    result = run_cli("dataset", "export", str(data_dir), "--format", fmt, "--out", str(out))
    assert result.returncode == 0, result.stderr
    if fmt == "xlsx":
        frame = pd.read_excel(out, dtype=str, keep_default_na=False)
        sheet = openpyxl.load_workbook(out, read_only=True)["articles"]
        header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    else:
        raw = out.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") == (fmt == "excel-csv")  # the mark Excel reads UTF-8 by
        frame = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        header = list(frame.columns)
    assert header[:4] == ["article_id", "published_date", "title", "url"] and header[-1] == "body"
    latest = {r["article_id"]: r for r in iter_articles(data_dir)}
    assert len(frame) == len(latest)
    assert list(frame["published_date"]) == sorted(frame["published_date"])
    seed = frame[frame["article_id"] == "2054421"].iloc[0]
    assert seed["title"] == latest["2054421"]["title"]
    assert seed["tags"] == "; ".join(latest["2054421"]["tags"])
    assert seed["body"] == latest["2054421"]["body"]


#: site text that a spreadsheet would run as a formula (OWASP's CSV injection starts)
FORMULAS = ['=HYPERLINK("http://127.0.0.1/x?"&A1,"点击")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,1)",
            "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("fmt", ["csv", "excel-csv", "xlsx"])
def test_site_text_that_starts_like_a_formula_is_text(tmp_path: Path, fmt: str) -> None:
    import csv

    import openpyxl

    write(tmp_path, b"".join(line(str(n), title=text, summary=text, tags=[text], source=text)
                             for n, text in enumerate(FORMULAS, start=1)))
    out = tmp_path / f"a.{'xlsx' if fmt == 'xlsx' else 'csv'}"
    assert export(tmp_path, out, fmt) == len(FORMULAS)
    if fmt == "xlsx":
        sheet = openpyxl.load_workbook(out)["articles"]
        columns = [c.value for c in sheet[1]]
        for row, text in zip(sheet.iter_rows(min_row=2), FORMULAS, strict=True):
            for name in ("title", "summary", "tags", "source"):
                cell = row[columns.index(name)]
                assert cell.data_type == "s" and cell.quotePrefix, (name, cell.value)
                assert cell.value == text
        assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
    else:
        with out.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        for row, text in zip(rows, FORMULAS, strict=True):
            assert row["title"] == row["summary"] == row["tags"] == row["source"] == "'" + text
        assert rows[0]["url"] == record_example()["url"]  # what does not start a formula is as it was


def test_xlsx_cells_are_typed_linked_and_laid_out(tmp_path: Path) -> None:
    """Dates are date cells, URLs links, the header row frozen, the columns of a readable width."""
    from datetime import date, datetime

    import openpyxl

    url = "https://www.bannedbook.org/bnews/itnews/20240101/1.html"
    write(tmp_path, line("1", published_date="2024-01-01", crawled_at="2024-01-02T03:04:05Z", url=url,
                         image_url="https://www.bannedbook.org/a.jpg")
          + line("2", published_date="1899-12-30", image_url="https://x.org/" + "a" * 3000))
    export(tmp_path, tmp_path / "a.xlsx", "xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "a.xlsx")["articles"]
    columns = [c.value for c in sheet[1]]
    old, new = ({name: row[i] for i, name in enumerate(columns)} for row in sheet.iter_rows(min_row=2))
    assert new["published_date"].is_date and new["published_date"].value == datetime(2024, 1, 1)
    assert new["published_date"].number_format == "yyyy-mm-dd"
    assert new["crawled_at"].is_date and new["crawled_at"].value == datetime(2024, 1, 2, 3, 4, 5)
    assert new["url"].hyperlink.target == new["url"].value == url and new["url"].style == "Hyperlink"
    assert new["image_url"].hyperlink.target == "https://www.bannedbook.org/a.jpg"
    assert old["published_date"].value == "1899-12-30"  # before Excel's dates: text
    assert old["image_url"].hyperlink is None  # longer than Excel follows: text
    assert date(2024, 1, 1) == new["published_date"].value.date()
    assert sheet.freeze_panes == "A2" and all(c.font.bold for c in sheet[1])
    widths = {name: sheet.column_dimensions[openpyxl.utils.get_column_letter(i + 1)].width
              for i, name in enumerate(columns)}
    assert widths["title"] == 50 and widths["body"] == 80 and widths["article_id"] == 10


def test_export_refuses_to_overwrite_the_dataset(data_dir: Path) -> None:
    before = digest(data_dir)
    result = run_cli("dataset", "export", str(data_dir), "--format", "jsonl",
                     "--out", str(data_dir / "articles.jsonl"))
    assert result.returncode == 1
    assert "is a file of the dataset or its crawl; choose another output file" in result.stderr
    assert digest(data_dir) == before
    bad = run_cli("dataset", "export", str(data_dir), "--format", "csv", "--out", "x.csv",
                  "--since", "2024-1-1")
    assert bad.returncode == 2 and "--since: not a day (YYYY-MM-DD, or 30d" in bad.stderr


def test_graph_edges(data_dir: Path, tmp_path: Path) -> None:
    result = run_cli("dataset", "graph", str(data_dir), "--out", str(tmp_path / "g.csv"))
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "g.csv").read_text("utf-8").splitlines()
    assert lines[0] == "source,target,kind"
    edges = [tuple(line.split(",")) for line in lines[1:]]
    seed = [e for e in edges if e[0] == "2054421"]
    related = [e[1] for e in seed if e[2] == "related"]
    assert related == ["2054368", "2053926", "2053491", "2052794", "2052288"]
    assert [e[1] for e in seed if e[2] == "tag"][:2] == ["OpenAI", "中国"]
    assert len(edges) == len(list(graph_edges(load(data_dir))))
    assert f"{len(edges)} edges written" in result.stdout


def test_info(data_dir: Path) -> None:
    result = run_cli("dataset", "info", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert f"articles:     {len(PUBLIC)} ({len(PUBLIC) + 1} records; 1 older versions)" in result.stdout
    assert "published:    2020-01-01 to " in result.stdout
    assert "top tags:     贸易战 (" in result.stdout
    assert "bad lines:    0" in result.stdout


def test_report_page(data_dir: Path, tmp_path: Path) -> None:
    result = run_cli("dataset", "report", str(data_dir), "--out", str(tmp_path / "r.html"))
    assert result.returncode == 0, result.stderr
    page = lxml_html.fromstring((tmp_path / "r.html").read_text("utf-8"))
    records = load(data_dir)
    first, last = min(r["published_date"] for r in records), max(r["published_date"] for r in records)
    months = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:7]) - int(first[5:7]) + 1
    bars = page.xpath("//svg[@id='articles-over-time']/rect")  # a bar per month of the span, empty or not
    assert len(bars) == months and bars[0].get("data-label") == first[:7] + "-01"
    assert sum(int(bar[0].text.rsplit(": ", 1)[1]) for bar in bars) == len(records)
    assert page.xpath("//script") == [] and page.xpath("//*[@src] | //link") == []  # self-contained
    links = page.xpath("//a/@href")  # the only links: the latest articles' own URLs
    assert links and set(links) <= {r["url"] for r in records}
    headings = [h.text_content() for h in page.xpath("//h2")]
    assert headings[:2] == ["Articles over time", "Top tags over time"]
    table = page.xpath("//h2[.='Field coverage of the dataset']/following-sibling::div[1]/table/tbody/tr")
    coverage = {tr[0].text_content(): tr[1].text_content() for tr in table}
    assert coverage["tags"] == "100%" and coverage["source"] == "100%"


def test_report_on_dates_as_far_off_as_a_date_goes(tmp_path: Path) -> None:
    """Records that hold 9999-12-31 and 0001-01-01 (stored from a page's meta tag by an older crawl)."""
    write(tmp_path, b"".join(line(str(n), published_date=day, tags=["t"])
                             for n, day in enumerate(("2024-01-01", "9999-12-31", "0001-01-01"), start=1)))
    page = lxml_html.fromstring(html_report(summarize(tmp_path)))
    bars = page.xpath("//svg[@id='articles-over-time']/rect")
    assert len(bars) == 9999 and bars[0].get("data-label") == "0001-01-01"  # a bar a year
    assert sum(int(bar[0].text.rsplit(": ", 1)[1]) for bar in bars) == 3
    assert "published 0001-01-01 – 9999-12-31" in page.text_content()


def test_report_escapes_crawled_text(tmp_path: Path) -> None:
    record = record_example(title="<script>alert(1)</script>", published_date="2024-01-01",
                            category="x<marquee>", tags=["<img src=x onerror=alert(1)>"],
                            source="</table><script>")
    write(tmp_path, json.dumps(record).encode() + b"\n")
    page_text = html_report(summarize(tmp_path))
    page = lxml_html.fromstring(page_text)
    assert page.xpath("//script | //img | //marquee") == []
    assert "&lt;img src=x onerror=alert(1)&gt;" in page_text
    assert "</table><script>" in page.text_content()
    latest = page.xpath("//h2[.='Latest articles']/following-sibling::div[1]/table//td//text()")
    assert "<script>alert(1)</script>" in latest
    assert page.xpath("//table[@id='latest-articles']//a/@href") == [record["url"]]


def test_bad_lines_are_listed(tmp_path: Path) -> None:
    write(tmp_path, line("1") + b'not json\n{"article_id":"2"')
    summary = summarize(tmp_path, errors="skip")
    assert summary.articles == 1
    assert [(b.lineno, b.truncated) for b in summary.bad_lines] == [(2, False), (3, True)]
    assert [r["article_id"] for r in iter_records(tmp_path, errors="skip")] == ["1"]


# --- records of the wrong type, and the command line agreeing with the library ------------------

WRONG = {
    "not a record": b'{"version": "x"}\n',
    "no article_id": json.dumps({k: v for k, v in record_example().items() if k != "article_id"}).encode(),
    "superscript id": line("²")[:-1],
    "30-digit id": line("1" * 30)[:-1],
    "version x": line("5", version="x")[:-1],
    "tags 5": line("5", tags=5)[:-1],
    "date 5": line("5", published_date=5)[:-1],
    "crawled_at number": line("5", crawled_at=12345)[:-1],
    "empty object": b"{}",
    "lone surrogate": line("5", title="\\ud800")[:-1].replace(b"\\\\ud800", b"\\ud800"),
}
COMMANDS = {
    "info": [],
    "export": ["--format", "csv", "--out", "{out}/x.csv"],
    "graph": ["--out", "{out}/g.csv"],
    "report": ["--out", "{out}/r.html"],
}


@pytest.mark.parametrize("what", list(WRONG))
def test_a_record_of_the_wrong_type_is_a_bad_line(tmp_path: Path, what: str) -> None:
    path = write(tmp_path, line("1") + WRONG[what].rstrip(b"\n") + b"\n" + line("3"))
    with pytest.raises(DatasetError, match=rf"^{path}:2: not a valid record \("):
        load(tmp_path)
    assert [r["article_id"] for r in load(tmp_path, errors="skip")] == ["1", "3"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_commands_fail_on_a_bad_line_unless_told_to_skip(tmp_path: Path, command: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = write(data, line("1") + WRONG["tags 5"] + b"\n" + line("3"))
    out = tmp_path / "out"
    out.mkdir()
    args = [arg.format(out=out) for arg in COMMANDS[command]]
    result = run_cli("dataset", command, str(data), *args)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"Error: {path}:2: not a valid record (does not fit the schema: ")
    assert list(out.iterdir()) == [], "an output was written from a dataset with a bad line"
    skipped = run_cli("dataset", command, str(data), *args, "--skip-bad-lines")
    assert skipped.returncode == 0, skipped.stderr
    assert f"{path}:2: not a valid record" in skipped.stderr  # the warning names file and line


def test_export_has_the_mode_a_new_file_gets(data_dir: Path, tmp_path: Path) -> None:
    for command, args in (("export", ["--format", "jsonl", "--out"]), ("report", ["--out"]),
                          ("graph", ["--out"])):
        out = tmp_path / f"{command}.out"
        assert run_cli("dataset", command, str(data_dir), *args, str(out)).returncode == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~current_umask(), command


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("name", ["state.sqlite3", "articles-x.jsonl", "state.sqlite3-wal",
                                  ".newsspider.lock", "job/requests.seen"])
def test_export_refuses_the_data_dirs_own_files(tmp_path: Path, name: str) -> None:
    data = tmp_path / "data"
    (data / "job").mkdir(parents=True)
    write(data, line("1"))
    before = sorted(p.name for p in data.rglob("*"))
    result = run_cli("dataset", "export", str(data), "--format", "jsonl", "--out", str(data / name))
    assert result.returncode == 1
    assert "is a file of the dataset or its crawl; choose another output file" in result.stderr
    assert sorted(p.name for p in data.rglob("*")) == before
    ok = run_cli("dataset", "export", str(data), "--format", "jsonl", "--out", str(data / "export.jsonl"))
    assert ok.returncode == 0, ok.stderr


def test_report_on_a_path_that_is_not_utf8(tmp_path: Path) -> None:
    data = Path(os.fsdecode(bytes(tmp_path) + b"/data-\xff"))
    data.mkdir()
    write(data, line("1"))
    result = run_cli("dataset", "report", str(data), "--out", str(data / "r.html"))
    assert result.returncode == 0, result.stderr
    assert "data-\ufffd" in (data / "r.html").read_text("utf-8")
    info = run_cli("dataset", "info", str(data))
    assert info.returncode == 0 and "data-\ufffd" in info.stdout


def test_a_killed_exports_part_file_is_removed_by_the_next_export(tmp_path: Path) -> None:
    """Writers in real processes: one SIGKILLed while it writes (its part file stays behind), one still
    writing (its part file is kept), and the next export of the same output."""
    import signal
    import subprocess
    import sys

    write(tmp_path, line("1"))
    out = tmp_path / "a.csv"
    writer = ("import os, signal, sys\nfrom pathlib import Path\nfrom newsspider.dataset.export import "
              "atomic_output\nwith atomic_output(Path(sys.argv[1]), Path(sys.argv[2]), False) as handle:\n"
              "    handle.write('x' * 100000); handle.flush()\n    print('writing', flush=True)\n"
              "    if sys.argv[3] == 'die':\n        os.kill(os.getpid(), signal.SIGKILL)\n"
              "    sys.stdin.read()\n")
    killed = subprocess.run([sys.executable, "-c", writer, str(out), str(tmp_path), "die"],
                            capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL and killed.stdout == "writing\n"
    [stale] = tmp_path.glob(".a.csv.*.part")
    live = subprocess.Popen([sys.executable, "-c", writer, str(out), str(tmp_path), "live"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert live.stdout is not None and live.stdout.readline() == "writing\n"
        [working] = set(tmp_path.glob(".a.csv.*.part")) - {stale}
        other = tmp_path / ".b.csv.0123abcd.part"  # another output's
        other.write_text("x")
        assert export(tmp_path, out, "csv") == 1
        assert set(tmp_path.glob(".*.part")) == {working, other}
    finally:
        live.kill()
        live.wait()
