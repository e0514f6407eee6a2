"""Reaching the site through real proxies (microsocks, tinyproxy), and no "finished" run that fetched nothing.

The test site answers under :data:`~tests.proxies.NAME`, which only the proxies
resolve, and logs each request's client address: a request that came through
a proxy comes from :data:`~tests.proxies.EXIT`.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from newsspider.demo.markup import LIVE
from newsspider.demo.pages import DemoSite
from newsspider.memory.sqlite import read_runs
from tests.conftest import FAST, read_jsonl, run_cli
from tests.mockserver import MockServer
from tests.proxies import EXIT, NAME, HttpProxy, Proxy, Socks
from tests.receivers import HttpReceiver

PUBLIC = {str(a.article_id) for a in DemoSite().public_articles()}
PASSWORD = "s3cret-pw"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A certificate for NAME, self-signed by a CA the test makes (the crawl does not verify it)."""
    folder = tmp_path_factory.mktemp("tls")
    cert = trustme.CA().issue_cert(NAME)
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    return str(folder / "cert.pem"), str(folder / "key.pem")


@pytest.fixture(scope="module")
def socks() -> Iterator[Proxy]:
    with Socks() as proxy:
        yield proxy


@pytest.fixture(scope="module")
def http_proxy() -> Iterator[Proxy]:
    with HttpProxy() as proxy:
        yield proxy


def named_site(tls: tuple[str, str] | None = None) -> MockServer:
    return MockServer(name=NAME, tls=tls)


def crawl(server: MockServer, data_dir: Path, *extra: str, env: dict[str, str] | None = None,
          timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_cli("crawl", "--start-url", server.url("/bnews/"), "--data-dir", str(data_dir), *FAST, *extra,
                   timeout=timeout, env={**_clean_env(), **(env or {})})


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


def stored_ids(data_dir: Path) -> list[str]:
    return [r["article_id"] for r in read_jsonl(data_dir / "articles.jsonl")]


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error: ")]


@pytest.mark.parametrize("kind", ["socks5h", "http"])
@pytest.mark.parametrize("tls", [False, True], ids=["http-site", "https-site"])
def test_every_request_goes_through_the_proxy_which_resolves_the_name(
        kind: str, tls: bool, certificate: tuple[str, str], socks: Proxy, http_proxy: Proxy,
        tmp_path: Path) -> None:
    proxy = socks if kind == "socks5h" else http_proxy
    with named_site(certificate if tls else None) as server:
        assert server.root.startswith(f"{'https' if tls else 'http'}://{NAME}:")
        result = crawl(server, tmp_path, "--proxy", proxy.url)
        assert result.returncode == 0, result.stderr
        assert sorted(stored_ids(tmp_path)) == sorted(PUBLIC)
        requests = server.requests()
    assert requests and {r["client"] for r in requests} == {EXIT}  # robots.txt and every page
    assert requests[0]["path"] == "/robots.txt"
    assert f"through proxy: {proxy.url}" in result.stderr
    quality = json.loads(read_runs(tmp_path)[-1].quality or "{}")
    # every request counted reached the site, but those sent again after a connection the proxy had
    # closed (tinyproxy closes each forwarded one without saying so, and curl may race to reuse it)
    again = quality["proxies"].get(f"{proxy.url} failed connection_died", 0)
    assert quality["proxies"][f"{proxy.url} requests"] == len(requests) + again
    assert " 0 failed," in result.stdout


def test_the_name_does_not_resolve_without_the_proxy(tmp_path: Path) -> None:
    """The same crawl without a proxy: the name is not known here, nothing is fetched, exit 1."""
    with named_site() as server:
        result = crawl(server, tmp_path)
        assert server.requests() == []
    assert result.returncode == 1
    assert errors(result) == [f"Error: none of the start URLs could be fetched: {server.url('/bnews/')} "
                              "(dns); the site's name does not resolve here: if it is blocked where you are, "
                              "try --proxy; stopped after 0 articles"]
    assert "Traceback" not in result.stderr
    run = read_runs(tmp_path)[-1]
    assert (run.status, run.finish_reason) == ("failed", "unreachable")


@pytest.mark.parametrize("variable", ["https_proxy", "ALL_PROXY"])
def test_the_environment_proxy_is_used_as_curl_uses_it(variable: str, certificate: tuple[str, str],
                                                       socks: Proxy, tmp_path: Path) -> None:
    with named_site(certificate) as server:
        result = crawl(server, tmp_path, env={variable: socks.url})
        assert result.returncode == 0, result.stderr
        assert {r["client"] for r in server.requests()} == {EXIT}
    assert sorted(stored_ids(tmp_path)) == sorted(PUBLIC)
    assert "through the environment's proxy: " + socks.url in result.stderr


def test_no_proxy_sends_its_hosts_direct(socks: Proxy, tmp_path: Path) -> None:
    with MockServer() as server:  # at 127.0.0.1, listed in no_proxy
        result = crawl(server, tmp_path, env={"http_proxy": socks.url, "no_proxy": "localhost,127.0.0.1"})
        assert result.returncode == 0, result.stderr
        assert {r["client"] for r in server.requests()} == {"127.0.0.1"}
    assert sorted(stored_ids(tmp_path)) == sorted(PUBLIC)


def test_a_pool_outlives_a_proxy_killed_mid_crawl(tmp_path: Path) -> None:
    with named_site() as server, Socks() as first, Socks() as second:
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsspider", "crawl", "--start-url", server.url("/bnews/"), "--data-dir",
             str(tmp_path), *FAST, "-s", "DOWNLOAD_DELAY=0.03", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2",
             "--proxy", first.url, "--proxy", second.url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_clean_env())
        deadline = time.monotonic() + 60
        while len(server.requests()) < 20:
            assert proc.poll() is None and time.monotonic() < deadline, "the crawl did not get going"
            time.sleep(0.05)
        first.stop()
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    ids = stored_ids(tmp_path)
    assert sorted(ids) == sorted(PUBLIC) and len(ids) == len(set(ids))  # every article, once
    warnings = [line for line in stderr.splitlines() if "WARNING proxy " in line]
    assert len(warnings) == 1, stderr
    assert f"proxy {first.url} failed (could not connect to the proxy)" in warnings[0]
    assert "1 of 2 proxies left" in warnings[0]
    assert " 0 duplicates, 0 failed," in stdout  # nothing counted as the site's failure, nothing twice
    quality = json.loads(read_runs(tmp_path)[-1].quality or "{}")["proxies"]
    assert quality[f"{first.url} failed could_not_connect_to_the_proxy"] >= 1
    assert quality[f"{second.url} requests"] > 0


@pytest.mark.parametrize("kind", [Socks, HttpProxy])
def test_a_password_proxy_with_the_right_and_the_wrong_password(kind: type[Proxy], tmp_path: Path) -> None:
    with named_site() as server, kind(user="alice", password=PASSWORD) as proxy:
        good = crawl(server, tmp_path / "good", "--proxy", proxy.url)
        assert good.returncode == 0, good.stderr
        assert sorted(stored_ids(tmp_path / "good")) == sorted(PUBLIC)
        wrong = proxy.url.replace(PASSWORD, "wrong-pw")
        bad = crawl(server, tmp_path / "bad", "--proxy", wrong)
    assert bad.returncode == 1
    shown = proxy.url.replace(f"alice:{PASSWORD}", "***")
    assert errors(bad) == [f"Error: every proxy failed: {shown} (authentication failed"
                           + (")" if kind is Socks else " (HTTP 401))")
                           + "; stopped after 0 articles"], bad.stderr
    assert "Traceback" not in bad.stderr
    for text in (good.stdout, good.stderr, bad.stdout, bad.stderr,
                 run_cli("runs", str(tmp_path / "bad"), "--json").stdout):
        assert PASSWORD not in text and "wrong-pw" not in text
    for path in tmp_path.rglob("*"):  # the dataset, the state, the web archive
        if path.is_file():
            data = path.read_bytes()
            assert PASSWORD.encode() not in data and b"wrong-pw" not in data, path
    assert read_runs(tmp_path / "bad")[-1].status == "failed"


def test_a_password_typed_with_slash_and_at_is_read_as_curl_reads_it(tmp_path: Path) -> None:
    """A password as users type it, '/', '@' and ':' unencoded: the crawl goes through the proxy (it was
    'bad port'), a wrong one is one line, and no part of either is printed or stored."""
    right, wrong = "p/ss@w:rd", "wr/ong@pw"
    with named_site() as server, Socks(user="alice", password=right) as proxy:
        good = crawl(server, tmp_path / "good", "--proxy", proxy.url, "-s", "CLOSESPIDER_PAGECOUNT=15")
        bad = crawl(server, tmp_path / "bad", "--proxy", proxy.url.replace(right, wrong))
    assert good.returncode == 0, good.stderr
    assert stored_ids(tmp_path / "good")
    assert bad.returncode == 1
    assert errors(bad) == [f"Error: every proxy failed: socks5h://***@127.0.0.1:{proxy.port} (authentication "
                           "failed); stopped after 0 articles"], bad.stderr
    parts = ["p/ss", "ss@w", "w:rd", "wr/ong", "ong@pw", "p%2Fss", "ss%40w", "wr%2Fong", "ong%40pw"]
    printed = good.stdout + good.stderr + bad.stdout + bad.stderr
    assert [part for part in parts if part in printed] == [], printed
    for path in tmp_path.rglob("*"):  # the dataset, the state, the web archive
        if path.is_file():
            assert [part for part in parts if part.encode() in path.read_bytes()] == [], path


def test_every_proxy_down_stops_and_resume_fetches_the_rest(socks: Proxy, tmp_path: Path) -> None:
    with named_site() as server:
        with Socks() as dead:
            pass  # its port is closed now
        down = crawl(server, tmp_path, "--proxy", dead.url)
        assert down.returncode == 1
        assert errors(down) == [f"Error: every proxy failed: {dead.url} (could not connect to the proxy); "
                                "stopped after 0 articles"]
        assert server.requests() == []
        assert down.stdout.splitlines() == ["Crawl stopped (every proxy failed): 0 pages (0.0/s), 0 stored, "
                                            "0 dropped, 0 duplicates, 0 failed, 1 errors"]
        assert not (tmp_path / "articles.jsonl").exists()
        assert (read_runs(tmp_path)[-1].status, read_runs(tmp_path)[-1].finish_reason) == (
            "failed", "proxies_failed")
        again = crawl(server, tmp_path, "--resume", "--proxy", socks.url)
        assert again.returncode == 0, again.stderr
    assert sorted(stored_ids(tmp_path)) == sorted(PUBLIC)


@pytest.mark.parametrize("url, message", [
    ("socks4://127.0.0.1:1080", "proxy 'socks4://127.0.0.1:1080': socks4 is not supported (use socks5h, "
                                "http or https)"),
    ("socks5h://bob:hunter2@:1080", "proxy 'socks5h://***@:1080': no host"),
    ("http://127.0.0.1:99999", "proxy 'http://127.0.0.1:99999': bad port"),
])
def test_a_bad_proxy_url_is_one_line_before_anything_is_fetched(url: str, message: str,
                                                                 tmp_path: Path) -> None:
    with MockServer() as server:
        result = crawl(server, tmp_path / "data", "--proxy", url)
        from_env = crawl(server, tmp_path / "env", env={"http_proxy": url})
        assert server.requests() == []
    assert result.returncode == 1 and result.stderr.strip() == f"Error: {message}"
    assert from_env.returncode == 1 and from_env.stderr.strip() == (
        f"Error: {message} (from the environment: http_proxy, https_proxy or all_proxy)")
    assert not (tmp_path / "data").exists()
    scheduled = run_cli("schedule", "--every", "1h", "--data-dir", str(tmp_path / "s"), "--proxy", url)
    assert scheduled.returncode == 1 and scheduled.stderr.strip() == f"Error: {message}"


def test_a_proxy_without_a_scheme_is_one_line_that_gives_both_spellings(socks: Proxy, tmp_path: Path) -> None:
    """host:port as circumvention clients show their local proxy (SOCKS, mostly): curl would read it as
    http:// and the crawl fail late, as if the site could not be reached."""
    given = f"127.0.0.1:{socks.port}"
    message = (f"Error: proxy '{given}' has no scheme: is it SOCKS? use socks5h://{given}; "
               f"an HTTP proxy: http://{given}")
    with named_site() as server:
        result = crawl(server, tmp_path / "data", "--proxy", given)
        assert server.requests() == []
    assert result.returncode == 1 and result.stderr.strip() == message
    assert not (tmp_path / "data").exists()
    scheduled = run_cli("schedule", "--every", "1h", "--data-dir", str(tmp_path / "s"), "--proxy", given)
    assert scheduled.returncode == 1 and scheduled.stderr.strip() == message


@pytest.mark.parametrize("how", ["environment-without-scheme", "http-scheme"])
def test_a_socks_proxy_used_as_an_http_one_says_to_try_socks(how: str, certificate: tuple[str, str],
                                                               socks: Proxy, tmp_path: Path) -> None:
    """The environment's proxy without a scheme is http://, as curl reads it; so is one given as http://
    by mistake: a SOCKS proxy answers neither a forwarded request (http:// site) nor a CONNECT (https://)."""
    given = f"127.0.0.1:{socks.port}"
    tls = how == "http-scheme"
    with named_site(certificate if tls else None) as server:
        if how == "http-scheme":
            result = crawl(server, tmp_path, "--proxy", f"http://{given}")
        else:
            result = crawl(server, tmp_path, env={"all_proxy": given})
        assert server.requests() == []
    assert result.returncode == 1
    assert errors(result) == [f"Error: every proxy failed: http://{given} (no HTTP proxy answers there: "
                              f"is it SOCKS? try socks5h://{given}); stopped after 0 articles"], result.stderr
    assert read_runs(tmp_path)[-1].finish_reason == "proxies_failed"


def test_a_site_that_refuses_every_start_url_is_a_failed_run(tmp_path: Path) -> None:
    with MockServer() as server:
        server.sitemaps("off")  # with sitemaps, the crawl would reach the articles through them
        server.fault("/bnews/", "status", status=403)
        refused = crawl(server, tmp_path)
    assert refused.returncode == 1
    assert errors(refused) == [f"Error: none of the start URLs could be fetched: {server.url('/bnews/')} "
                               "(http_403); stopped after 0 articles"]
    # robots.txt (once: the sitemaps read what Scrapy's middleware parsed), the four usual sitemap places,
    # the start page
    summary = "Crawl stopped (no start URL could be fetched): 6 pages ("
    assert refused.stdout.startswith(summary), refused.stdout
    assert "Dataset:" not in refused.stdout and not (tmp_path / "articles.jsonl").exists()  # nothing stored
    run = read_runs(tmp_path)[-1]
    assert (run.status, run.finish_reason, json.loads(run.failures)) == ("failed", "unreachable",
                                                                         {"http_403": 1})


def test_schedule_reports_a_crawl_that_fetched_nothing(tmp_path: Path) -> None:
    with MockServer() as server, HttpReceiver() as receiver:
        server.sitemaps("off")  # with sitemaps, the crawl would reach the articles through them
        server.fault("/bnews/", "status", status=503, times=-1)
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsspider", "schedule", "--every", "1h", "--start-url",
             server.url("/bnews/"), "--data-dir", str(tmp_path), *FAST, "-s", "RETRY_TIMES=0",
             "-s", f"NEWSSPIDER_WEBHOOK_URL={receiver.url('/hook')}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_clean_env())
        deadline = time.monotonic() + 90
        while not [r for r in read_runs(tmp_path) if r.ended_at]:
            assert proc.poll() is None and time.monotonic() < deadline, "the crawl did not end"
            time.sleep(0.05)
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        proc.terminate()
        _, stderr = proc.communicate(timeout=60)
    failed = [line for line in stderr.splitlines() if "crawl failed (exit status 1)" in line]
    assert len(failed) == 1, stderr
    assert f"none of the start URLs could be fetched: {server.url('/bnews/')} (http_503)" in failed[0]
    assert [m["json"]["status"] for m in receiver.received] == ["failed"]
    assert "none of the start URLs could be fetched" in receiver.received[0]["json"]["text"]


def test_the_archive_keeps_gzip_and_chunked_pages_fetched_through_a_proxy(
        socks: Proxy, http_proxy: Proxy, tmp_path: Path) -> None:
    """As served: `warcio check` passes, the record reads back to the page, pywb replays it."""
    from tests.test_archive import fetch, replay, warc_files, warcio

    seed = next(a for a in DemoSite().public_articles() if a.article_id == 2054421)
    urls, pages = {}, {}
    for proxy, folder in ((socks, "socks"), (http_proxy, "http")):
        with named_site() as server:
            page = DemoSite().get(seed.path).body.replace(LIVE, server.root)
            server.fault(seed.path, "page", body=gzip.compress(page.encode()), encoding="gzip",
                         content_type="text/html; charset=UTF-8", chunked=True)
            result = crawl(server, tmp_path / folder, "--proxy", proxy.url)
            assert result.returncode == 0, result.stderr
        for path in warc_files(tmp_path / folder):
            checked = warcio("check", "-v", str(path))
            assert checked.returncode == 0 and "digest pass" in checked.stdout, checked.stdout
        record = next(r for r in read_jsonl(tmp_path / folder / "articles.jsonl")
                      if r["article_id"] == "2054421")
        assert record["title"] == "OpenAI将终止中国服务 陆新创公司恐将迎来灭顶之灾"
        urls[folder], pages[folder] = record["url"], page
        shown = run_cli("dataset", "page", "2054421", "--data-dir", str(tmp_path / folder))
        assert shown.returncode == 0 and shown.stdout.strip() == page.strip()
    with replay(tmp_path / "socks", tmp_path) as (port, proc):
        replayed = fetch(f"http://127.0.0.1:{port}/news/id_/{urls['socks']}", proc)
        assert replayed.decode() == pages["socks"]  # pywb undoes the gzip it archived
