"""What the ``newsspider`` command makes of values out of range, odd paths and settings that cannot
work: each is one ``Error:`` line and a non-zero exit, in bounded time, or it works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest
from click.testing import CliRunner, Result

from newsspider.cli import main
from tests.conftest import FAST, REPO, run_cli
from tests.mockserver import MockServer


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one ``Error:`` line of a command that failed (a usage error also shows its usage lines)."""
    assert result.returncode not in (0, None), (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and result.stderr.strip().splitlines()[-1] == errors[0], result.stderr
    return errors[0]


# --- days, durations and counts out of range (issue 35, item 10) -----------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["crawl", "--since", "2100y"], "Error: --since: 2100y goes back before year 1"),
    (["crawl", "--since", "30000m"], "Error: --since: 30000m goes back before year 1"),
    (["crawl", "--since", "99999999d"], "Error: --since: 99999999d goes back before year 1"),
    (["crawl", "--until", "99999999999w"], "Error: --until: 99999999999w goes back before year 1"),
    (["estimate", "--since", "2100y"], "Error: --since: 2100y goes back before year 1"),
    (["schedule", "--every", "1h", "--since", "30000m"], "Error: --since: 30000m goes back before year 1"),
    (["schedule", "--every", "99999999999999d"], "Error: --every is at most 366 days, got '99999999999999d'"),
])
def test_a_day_or_a_duration_out_of_range_is_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = run_cli(*args, "--data-dir", str(tmp_path / "d"), timeout=60)  # never spins for ever
    assert one_error(result) == message
    assert not (tmp_path / "d").exists()


def _dataset(path: Path) -> Path:
    from tests.test_dataset import line

    path.mkdir()
    (path / "articles.jsonl").write_bytes(line("1") + line("2"))
    return path


def test_a_huge_search_limit_is_no_limit(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "data")
    result = invoke("dataset", "search", str(data), "标题", "--limit", "99999999999999999999", "--json")
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(line)["article_id"] for line in result.output.splitlines()) == ["1", "2"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """``newsspider ARGS``, its output read as UTF-8 (bytes that are not shown as U+FFFD)."""
    return run_cli(*args)


def test_the_commands_read_a_data_dir_whose_name_is_not_utf8(site_server: MockServer, tmp_path: Path) -> None:
    """A name of bytes that are not UTF-8 (``os.fsencode``): every command reads the data dir as crawl
    writes it."""
    data = Path(os.fsdecode(bytes(tmp_path) + b"/data-\xff"))
    made = _run("crawl", "--start-url", site_server.url("/bnews/"), "--data-dir", str(data), *FAST,
                "-s", "CLOSESPIDER_ITEMCOUNT=2")
    assert made.returncode == 0, made.stderr
    for args in (["runs", str(data)], ["dataset", "report", str(data), "--out", str(tmp_path / "r.html")],
                 ["dataset", "sqlite", str(data)], ["dataset", "search", str(data), "演示"],
                 ["dataset", "info", str(data)]):
        result = _run(*args)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (args, result.stderr)
    assert " finished " in _run("runs", str(data)).stdout
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    browse = subprocess.Popen([sys.executable, "-m", "newsspider", "browse", str(data), "--port", "0"],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              errors="replace", env={**os.environ, "TMPDIR": str(scratch)})
    try:
        assert browse.stdout is not None
        line = browse.stdout.readline()
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0]) if "http://" in line else 0
        for _ in range(300):  # the port is bound before the server listens on it
            try:
                with urlopen(f"http://127.0.0.1:{port}/archive/articles.json", timeout=30) as answer:
                    assert json.load(answer)["rows"]
                break
            except URLError:
                assert browse.poll() is None
                time.sleep(0.1)
        else:
            raise AssertionError("browse did not answer")
    finally:
        browse.terminate()  # SIGTERM stops it as Ctrl-C does
        out, err = browse.communicate(timeout=30)
    assert browse.returncode == 0 and out.strip().endswith("stopped"), (line, out, err)
    assert "Traceback" not in err, err
    assert list(scratch.iterdir()) == [], "browse left its temporary files"


# --- settings that cannot work, refused before anything is fetched (issue 35, item 11) -------------

LONG_URL = "http://127.0.0.1:9/bnews/" + "a" * 2100 + "/"


@pytest.mark.parametrize(("args", "message"), [
    (["crawl", "--start-url", LONG_URL],
     "Error: a start URL of 2,126 characters is longer than URLLENGTH_LIMIT (2,083): http://127.0.0.1:9/bnews/aaa"),
    (["crawl", "-s", f"NEWSSPIDER_START_URLS={LONG_URL}"],
     "Error: a start URL of 2,126 characters is longer than URLLENGTH_LIMIT (2,083): http://127.0.0.1:9/bnews/aaa"),
    (["estimate", "--start-url", LONG_URL],
     "Error: a start URL of 2,126 characters is longer than URLLENGTH_LIMIT (2,083): http://127.0.0.1:9/bnews/aaa"),
    (["crawl", "--start-url", "http://127.0.0.1:9/bnews/", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=0"],
     "Error: -s CONCURRENT_REQUESTS_PER_DOMAIN='0': expected 1 or more (at 0 requests at a time, nothing "
     "is ever fetched)"),
    (["schedule", "--every", "1h", "--start-url", "http://127.0.0.1:9/bnews/", "-s",
      "CONCURRENT_REQUESTS_PER_DOMAIN=-1"],
     "Error: -s CONCURRENT_REQUESTS_PER_DOMAIN='-1': expected 1 or more (at 0 requests at a time, nothing "
     "is ever fetched)"),
    (["crawl", "--start-url", "http://127.0.0.1:9/bnews/", "-s", "NEWSSPIDER_WARC_MAX_SIZE=0"],
     "Error: -s NEWSSPIDER_WARC_MAX_SIZE='0': expected 65536 or more (a smaller size starts a WARC file "
     "for every response)"),
])
def test_a_setting_that_cannot_work_is_refused_in_one_line(args: list[str], message: str,
                                                           tmp_path: Path) -> None:
    result = run_cli(*args, "--data-dir", str(tmp_path / "d"), timeout=60)
    assert one_error(result).startswith(message)
    assert len(one_error(result)) < 200
    assert not (tmp_path / "d").exists()


def test_a_start_url_as_long_as_the_limit_is_crawled(site_server: MockServer, tmp_path: Path) -> None:
    url = site_server.url("/bnews/?q=" + "a" * 100)
    result = run_cli("crawl", "--start-url", url, "--data-dir", str(tmp_path), *FAST, "--no-sitemaps",
                     "-s", f"URLLENGTH_LIMIT={len(url)}", "-s", "CLOSESPIDER_ITEMCOUNT=1")
    assert result.returncode == 0, result.stderr
    assert site_server.requests()[1]["path"].startswith("/bnews/?q=aaa")  # after robots.txt


# --- one convention for the data dir: DATA_DIR or --data-dir, everywhere (issue 35, item 19) -------

def _dated_dataset(path: Path) -> Path:
    """Two articles: one published today, one in 2020 (with two versions)."""
    from tests.test_dataset import line

    today = date.today().isoformat()
    path.mkdir()
    url = f"https://www.bannedbook.org/bnews/itnews/{today.replace('-', '')}/1.html"
    old = {"published_date": "2020-01-01"}
    (path / "articles.jsonl").write_bytes(line("1", published_date=today, url=url) + line("2", **old)
                                          + line("2", **old, version=2, body="正文二"))
    return path


def invoke(*args: str, cwd: Path | None = None) -> Result:
    """The command in this process (click's runner), in *cwd*."""
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(main, list(args), catch_exceptions=False)
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        return runner.invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(previous)


@pytest.mark.parametrize("command", [
    ["dataset", "info"], ["dataset", "sqlite"], ["dataset", "search", "标题"], ["dataset", "diff", "2"],
    ["dataset", "export", "--format", "jsonl", "--out", "OUT/x.jsonl"],
    ["dataset", "graph", "--out", "OUT/g.csv"], ["dataset", "report", "--out", "OUT/r.html"],
])
def test_a_dataset_command_takes_the_data_dir_either_way(command: list[str], tmp_path: Path) -> None:
    data = _dated_dataset(tmp_path / "some-data")
    args = [arg.replace("OUT", str(tmp_path)) for arg in command]
    position = 2  # after "dataset NAME"
    positional = invoke(*args[:position], str(data), *args[position:])
    assert positional.exit_code == 0, positional.output
    option = invoke(*args[:position], "--data-dir", str(data), *args[position:])
    assert option.exit_code == 0, option.output

    def said(output: str) -> str:  # sqlite says what it added: nothing, the second time
        return output.split(": ")[0] if command[1] == "sqlite" else output

    assert said(option.output) == said(positional.output)
    (tmp_path / "data").symlink_to(data)  # left out: ./data
    default = invoke(*args, cwd=tmp_path)
    assert default.exit_code == 0, default.output
    assert said(default.output) == said(positional.output.replace(str(data), "data"))


def test_two_different_data_dirs_are_a_one_line_error(tmp_path: Path) -> None:
    for command in (["runs"], ["dataset", "info"], ["crawl"], ["browse"]):
        result = run_cli(*command, str(tmp_path / "a"), "--data-dir", str(tmp_path / "b"))
        assert one_error(result) == (f"Error: two data dirs: {tmp_path / 'a'} and --data-dir "
                                     f"{tmp_path / 'b'} (give DATA_DIR or --data-dir, not both)")


@pytest.mark.parametrize("command", [["crawl"], ["estimate"], ["schedule", "--every", "1h"], ["demo"],
                                     ["reextract"], ["runs"], ["browse"], ["dataset", "wacz", "--out", "x"],
                                     ["dataset", "warc-index"]])
def test_a_command_that_took_one_form_takes_the_other(command: list[str], tmp_path: Path) -> None:
    """Given as DATA_DIR or as --data-dir, a data dir that is a file is refused alike: the command read it."""
    data = tmp_path / "a-file"
    data.write_text("x")
    position = 2 if command[0] in ("dataset",) else 1
    messages = set()
    for form in ([str(data)], ["--data-dir", str(data)]):
        result = run_cli(*command[:position], *form, *command[position:], timeout=60)
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        messages.add(result.stderr.strip().splitlines()[-1])
    assert len(messages) == 1 and "a-file" in messages.pop()


def test_search_without_a_data_dir_searches_data(tmp_path: Path) -> None:
    _dated_dataset(tmp_path / "data")
    result = invoke("dataset", "search", "标题", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("2 articles hold 标题:")
    two_words = invoke("dataset", "search", "标题", "正文二", cwd=tmp_path)
    assert two_words.exit_code == 0 and two_words.output.startswith("1 article holds 标题 正文二:")
    in_data = invoke("dataset", "search", "data", "正文二", cwd=tmp_path)  # an existing dir: the data dir
    assert in_data.output.startswith("1 article holds 正文二")
    no_query = invoke("dataset", "search", "data/", cwd=tmp_path)
    assert no_query.exit_code == 2
    assert no_query.output.endswith("Error: missing QUERY: what to search data/ for\n")


def test_days_back_wherever_dates_are_taken(tmp_path: Path) -> None:
    data = _dated_dataset(tmp_path / "data")
    out = tmp_path / "recent.jsonl"
    exported = invoke("dataset", "export", str(data), "--format", "jsonl", "--out", str(out),
                      "--since", "30d")
    assert exported.exit_code == 0, exported.output
    assert [json.loads(line)["article_id"] for line in out.read_text("utf-8").splitlines()] == ["1"]
    found = invoke("dataset", "search", str(data), "标题", "--until", "1y", "--json")
    assert [json.loads(line)["article_id"] for line in found.output.splitlines()] == ["2"]
    bad = run_cli("dataset", "export", str(data), "--format", "jsonl", "--out", str(out),
                  "--since", "2024-1-1")
    assert one_error(bad).startswith("Error: --since: not a day (YYYY-MM-DD, or 30d, 8w, 6m, 2y back")


def test_runs_of_a_data_dir_that_does_not_exist(tmp_path: Path) -> None:
    result = run_cli("runs", str(tmp_path / "nowhere"))
    assert one_error(result) == f"Error: {tmp_path / 'nowhere'}: no such data dir"


def test_reextract_help_shows_no_crawl_only_example() -> None:
    shown = CliRunner().invoke(main, ["reextract", "--help"]).output
    assert "DOWNLOAD_DELAY" not in shown and "-s, --set NAME=VALUE" in shown


# --- the demo site's changes, told where a user looks (issue 35, item 23) ---------------------------

def test_demo_help_tells_how_to_change_the_site() -> None:
    shown = " ".join(CliRunner().invoke(main, ["demo", "--help"], terminal_width=200).output.split())
    assert "curl -X POST 'http://127.0.0.1:PORT/__add__?n=3'" in shown
    assert "curl -X POST 'http://127.0.0.1:PORT/__edit__?id=2060000'" in shown


def test_the_demo_site_refuses_a_change_it_cannot_make_in_one_line() -> None:
    from urllib.error import HTTPError
    from urllib.request import Request

    from newsspider.demo.server import serve_in_thread

    server = serve_in_thread(port=0)
    try:
        for query, status, said in (("__add__?n=abc", 400, "n: a number of articles from 1 to 1000"),
                                    ("__add__?n=100000", 400, "n: a number of articles from 1 to 1000"),
                                    ("__edit__", 400, "id: the id of an article of the site"),
                                    ("__edit__?id=1", 404, "no article 1 on this site")):
            with pytest.raises(HTTPError) as refused:
                urlopen(Request(f"{server.root}/{query}", method="POST"), timeout=10)
            assert refused.value.code == status and refused.value.read().decode() == said + "\n"
        with urlopen(Request(f"{server.root}/__add__?n=2", method="POST"), timeout=10) as added:
            assert len(json.load(added)) == 2
    finally:
        server.shutdown()
