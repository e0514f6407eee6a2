"""The ``newsspider`` command: help, bad input, the demo."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsspider.cli import main
from tests.conftest import crawl, run_cli
from tests.mockserver import MockServer


def test_every_command_has_help() -> None:
    runner = CliRunner()
    commands = [([name], command) for name, command in main.commands.items()]
    commands += [(["dataset", name], command) for name, command in main.commands["dataset"].commands.items()]
    # crawl, estimate, schedule, runs, demo, reextract, browse, verify, key, dataset; its 11
    assert len(commands) == 21
    for path, command in commands:
        assert command.help, f"{' '.join(path)} has no help text"
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output


@pytest.mark.parametrize("group", [[], ["dataset"]])
def test_command_list_shows_whole_first_sentences(group: list[str]) -> None:
    output = CliRunner().invoke(main, [*group, "--help"], terminal_width=80).output
    output = " ".join(output.replace("-\n", "-").split()).replace("- ", "-")  # the lines joined again
    commands = main.commands if not group else main.commands["dataset"].commands  # type: ignore[attr-defined]
    for name, command in commands.items():
        first = " ".join(command.help.partition("\n\n")[0].split())
        sentence = first if ". " not in first else first[:first.index(". ") + 1]
        assert f"{name} {sentence}" in output, f"{name}: its first sentence is cut in the command list"
    assert "..." not in output.partition("Commands:")[2]


@pytest.mark.parametrize("url", ["ftp://example.org/", "bnews/itnews/", "http://", "http://host:99999/"])
def test_bad_start_url_is_one_line_error(url: str, tmp_path: Path) -> None:
    result = run_cli("crawl", "--start-url", url, "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: not an http(s) URL: {url!r}"
    assert not (tmp_path / "d").exists(), "created the data dir before checking the URL"


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "articles.jsonl"
    target.write_text('{"kept": true}\n')
    result = run_cli("crawl", "--start-url", "http://127.0.0.1:9/bnews/", "--data-dir", str(target))
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: data dir {target}: exists and is not a directory"
    assert target.read_text() == '{"kept": true}\n'


def test_data_dir_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = run_cli("crawl", "--start-url", "http://127.0.0.1:9/bnews/",
                     "--data-dir", str(tmp_path / "file" / "data"))
    assert result.returncode == 1
    assert "cannot create it (Not a directory)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_option_and_bad_setting() -> None:
    assert run_cli("crawl", "--no-such-option").returncode == 2
    result = run_cli("crawl", "-s", "DOWNLOAD_DELAY")
    assert result.returncode == 2
    assert "-s expects NAME=VALUE, got 'DOWNLOAD_DELAY'" in result.stderr


def test_unknown_setting_name_warns(site_server: MockServer, tmp_path: Path) -> None:
    result = crawl(site_server, tmp_path, "-s", "DOWNLOAD_DELAYY=3", "-s", "CLOSESPIDER_PAGECOUNT=2")
    assert result.returncode == 0, result.stderr
    assert "warning: -s DOWNLOAD_DELAYY: neither Scrapy nor newsspider has this setting" in result.stderr


def test_demo_crawls_the_bundled_site(tmp_path: Path) -> None:
    result = run_cli("demo", "--data-dir", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    assert "Crawl finished:" in result.stdout
    assert "articles in the dataset; a few titles:" in result.stdout
    lines = (tmp_path / "demo" / "articles.jsonl").read_text("utf-8").splitlines()
    assert len(lines) >= 40
    assert f"{len(lines)} articles in the dataset" in result.stdout


def test_demo_serve_keeps_the_site_up_for_the_examples(tmp_path: Path) -> None:
    import shlex
    import signal
    import sys

    demo = subprocess.Popen([sys.executable, "-m", "newsspider", "demo", "--serve", "--data-dir", "demo"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert demo.stdout is not None
        lines = []
        while not (lines and lines[-1].startswith("Serving the demo site at ")):
            line = demo.stdout.readline()
            assert line, f"the demo ended before serving: {lines} {demo.stderr.read() if demo.stderr else ''}"
            lines.append(line)
        example = demo.stdout.readline().strip()  # the command it suggests, run as printed
        assert example.startswith("newsspider crawl --start-url http://127.0.0.1:")
        summary = next(x for x in lines if x.startswith("Crawl finished"))
        stored = int(summary.split(" stored")[0].rsplit(" ", 1)[1])
        result = run_cli(*shlex.split(example)[1:], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        crawled = (tmp_path / "data" / "demo-2" / "articles.jsonl").read_text("utf-8").splitlines()
        assert len(crawled) == stored
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        assert demo.wait(timeout=30) == 0
    finally:
        demo.kill()
        demo.wait()


@pytest.mark.parametrize(("data_dir", "message"), [
    ("/proc/self", "Error: data dir /proc/self: not writable"),
    ("/sys/kernel/newsspider-test", "Error: data dir /sys/kernel/newsspider-test: cannot create it"),
])
def test_unwritable_data_dir(data_dir: str, message: str) -> None:
    result = run_cli("crawl", "--start-url", "http://127.0.0.1:9/bnews/", "--data-dir", data_dir)
    assert result.returncode == 1
    assert result.stderr.startswith(message) and len(result.stderr.strip().splitlines()) == 1


def test_crawl_into_a_damaged_dataset_loses_nothing(site_server: MockServer, tmp_path: Path) -> None:
    damaged = (b'{"article_id":"1","url":"http://x/bnews/a/20240101/1.html","version":1}\n'
               b"this line is not JSON\n"
               b'{"article_id":"2","url":"http://x/bnews/a/20240101/2.html","version":1}\n'
               b'{"article_id":"3","tit')
    (tmp_path / "articles.jsonl").write_bytes(damaged)
    result = crawl(site_server, tmp_path, "-s", "CLOSESPIDER_ITEMCOUNT=3")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "articles.jsonl").read_bytes() == damaged, "the damaged file was changed"
    assert f"{tmp_path / 'articles.jsonl'}:2: not a newsspider record (not JSON" in result.stderr
    assert "the last line is incomplete; leaving the file as it is" in result.stderr
    shards = sorted(tmp_path.glob("articles-*.jsonl"))
    assert len(shards) == 1 and shards[0].read_bytes().count(b"\n") >= 3


def one_line_error(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_a_crawl_that_cannot_start_is_one_line(tmp_path: Path) -> None:
    result = run_cli("crawl", "--data-dir", str(tmp_path / "d"), "-s", "NEWSSPIDER_START_URLS=ftp://x")
    assert one_line_error(result) == "Error: not an http(s) URL: 'ftp://x'"
    assert not (tmp_path / "d").exists(), "created the data dir before checking the setting"


@pytest.mark.parametrize(("setting", "message"), [
    ("CONCURRENT_REQUESTS=abc", "Error: -s CONCURRENT_REQUESTS='abc': expected a whole number"),
    ("DOWNLOAD_DELAY=soon", "Error: -s DOWNLOAD_DELAY='soon': expected a number"),
    ("ROBOTSTXT_OBEY=maybe", "Error: -s ROBOTSTXT_OBEY='maybe': expected true or false"),
    ("NEWSSPIDER_REDIS_LEASE=x", "Error: -s NEWSSPIDER_REDIS_LEASE='x': expected a number"),
])
def test_ill_typed_settings(setting: str, message: str, tmp_path: Path) -> None:
    result = run_cli("crawl", "--start-url", "http://127.0.0.1:9/bnews/", "--data-dir", str(tmp_path / "d"),
                     "-s", setting)
    assert one_line_error(result) == message
    assert not (tmp_path / "d").exists()


def test_a_bad_worker_id(tmp_path: Path) -> None:
    result = run_cli("crawl", "--start-url", "http://127.0.0.1:9/bnews/", "--data-dir", str(tmp_path),
                     "--redis-url", "redis://127.0.0.1:1/0", "--worker-id", "a/b")
    assert one_line_error(result).startswith("Error: -s NEWSSPIDER_WORKER_ID='a/b': a worker id is ")


def test_a_host_that_refuses_connections(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_cli("crawl", "--start-url", f"http://127.0.0.1:{port}/bnews/", "--data-dir", str(tmp_path),
                     "-s", "RETRY_TIMES=1")
    assert result.returncode == 1  # nothing fetched is not finished
    assert "Traceback" not in result.stderr
    warnings = [line.split(" ", 1)[1] for line in result.stderr.splitlines() if " WARNING " in line]
    assert warnings == [f"WARNING robots.txt not fetched (connection_refused): http://127.0.0.1:{port}/robots.txt",
                        f"WARNING failed (connection_refused): http://127.0.0.1:{port}/bnews/"]
    assert "1 failed (connection_refused 1)" in result.stdout and "Crawl finished" not in result.stdout
    assert result.stderr.splitlines()[-1] == ("Error: none of the start URLs could be fetched: "
                                              f"http://127.0.0.1:{port}/bnews/ (connection_refused); "
                                              "stopped after 0 articles")


def test_demo_port_in_use_or_out_of_range(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        in_use = run_cli("demo", "--port", str(port), "--data-dir", str(tmp_path))
    assert one_line_error(in_use) == f"Error: --port {port}: Address already in use"
    assert one_line_error(run_cli("demo", "--port", "70000")) == "Error: --port 70000: must be 0-65535"


@pytest.mark.parametrize("name", ["a#b", "c?d", "e%20f"])
def test_runs_on_a_path_with_uri_characters(site_server: MockServer, tmp_path: Path, name: str) -> None:
    data_dir = tmp_path / name
    assert crawl(site_server, data_dir, "-s", "CLOSESPIDER_ITEMCOUNT=1").returncode == 0
    result = run_cli("runs", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].split()[3] == "finished"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name], "a stray file was created"


def test_a_dataset_with_records_of_the_wrong_type_does_not_stop_the_crawl(site_server: MockServer,
                                                                           tmp_path: Path) -> None:
    from tests.test_dataset import WRONG, line

    dataset = line("1") + b"".join(value.rstrip(b"\n") + b"\n" for value in WRONG.values())
    (tmp_path / "articles.jsonl").write_bytes(dataset)
    result = crawl(site_server, tmp_path, "-s", "CLOSESPIDER_ITEMCOUNT=2")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    ignored = re.findall(r"not a newsspider record \(.+\); left as it is and ignored", result.stderr)
    assert len(ignored) == len(WRONG)
    assert (tmp_path / "articles.jsonl").read_bytes().startswith(dataset)


def test_version_is_written_once() -> None:
    import importlib.metadata
    import re

    import newsspider

    # the [project] table (tomllib is Python 3.11+; the project supports 3.10)
    project = (Path(__file__).parents[1] / "pyproject.toml").read_text("utf-8").split("\n[project]\n", 1)[1]
    project = project.split("\n[", 1)[0]
    assert not re.search(r"(?m)^version\s*=", project)
    assert re.search(r'(?m)^dynamic = \["version"\]$', project)  # read from newsspider.__version__
    assert importlib.metadata.version("newsspider") == newsspider.__version__
    assert CliRunner().invoke(main, ["--version"]).output == f"newsspider, version {newsspider.__version__}\n"


def test_the_shared_mock_site_keeps_each_tests_log_and_refuses_changes(site_server: MockServer) -> None:
    from urllib.request import urlopen

    assert site_server.requests() == []  # what earlier tests of the module fetched is not this test's
    with urlopen(site_server.url("/bnews/"), timeout=10) as page:
        assert page.status == 200
    assert [r["path"] for r in site_server.requests()] == ["/bnews/"]
    with pytest.raises(AssertionError, match="cannot be changed"):
        site_server.add_articles(1)


def test_a_scheduled_crawl_is_given_every_crawl_option_but_the_secrets(tmp_path: Path) -> None:
    from newsspider.cli import crawl as crawl_command
    from newsspider.cli import crawl_args

    given = ["data/x", "--start-url", "http://a.example/bnews/", "--start-url", "http://b.example/c/",
             "--since", "30d", "--until", "2099-01-02", "-s", "DOWNLOAD_DELAY=2", "-s", " LOG_LEVEL =INFO",
             "-s", "NEWSSPIDER_SMTP_PASSWORD=pw", "--resume", "--refresh", "--no-warc", "--images",
             "--proxy", "http://u:p@127.0.0.1:1", "--browser", "--impersonate", "chrome",
             "--redis-url", "redis://:pw@h/0", "--worker-id", "w1"]
    params = crawl_command.make_context("crawl", given).params
    args = crawl_args(params, tmp_path)
    assert args[:6] == ["--start-url", "http://a.example/bnews/", "--start-url", "http://b.example/c/",
                        "--data-dir", str(tmp_path.resolve())]  # in the order the crawl declares them
    assert not {"pw", "--proxy", "--redis-url", "NEWSSPIDER_SMTP_PASSWORD=pw"} & set(args)
    again = crawl_command.make_context("crawl", args).params
    expected = {**params, "data_dir_argument": None, "data_dir_option": tmp_path.resolve(), "proxies": (),
                "redis_url": None, "settings": ("DOWNLOAD_DELAY=2", "LOG_LEVEL=INFO")}
    assert again == expected  # every other option, a new one too, handed on as given


def test_schedule_refuses_what_no_crawl_can_run(tmp_path: Path) -> None:
    for args, message in ((["--images", "--no-warc"], "--images keeps the images in the web archive"),
                          (["--worker-id", "a/b"], "-s NEWSSPIDER_WORKER_ID='a/b': a worker id is")):
        result = CliRunner().invoke(main, ["schedule", "--every", "1h", str(tmp_path / "d"), *args])
        assert result.exit_code != 0 and message in result.output
        assert not (tmp_path / "d").exists()  # before the scheduler made its data dir
