"""Run every benchmark and write benchmarks/RESULTS.md: ``python -m benchmarks.run [--quick]``.

Everything is measured in one run on this machine, against baselines measured
in the same run: the machines are shared and noisy, so only ratios travel.

1. crawl throughput: newsspider's full crawl against a bare Scrapy spider that
   follows the same links and extracts nothing, same site, same settings;
2. extraction: newsspider's loader against parsing the same pages with lxml;
3. a recurring run when 1% of the articles are new, against the first run;
4. memory: peak RSS of crawls of a small and a large site, and of the state with 1M ids;
5. distributed: pages/s of 1, 2 and 3 Redis workers against the single-process crawl;
and, with section 1, the direct crawl through the handler that proxied requests use (curl_cffi), and a
crawl through a local SOCKS5 proxy (microsocks) and HTTP proxy (tinyproxy), against the direct crawl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.site import BenchSite
from newsspider.monitoring import DEGRADED_EXIT

HERE = Path(__file__).parent
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS=32",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=32"]


@dataclass
class Run:
    """One crawl process, measured: pages and elapsed time from its own stats, CPU and peak RSS
    from the kernel (wait4), and the static server's CPU over the same time."""

    pages: int
    seconds: float
    cpu: float
    peak_rss_mb: float
    server_cpu: float
    wall: float

    @property
    def rate(self) -> float:
        return self.pages / self.seconds

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.cpu / self.pages


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(command: Sequence[str], server_pid: int) -> tuple[str, float, float, float, float]:
    """Run *command*; return (stdout, CPU seconds, peak RSS MB, server CPU seconds, wall seconds)."""
    server_before = cpu_of(server_pid)
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        out.seek(0)
        text = out.read().decode()
    # a degraded run (its monitors failed: the benchmark site's broken links are many of a small run's
    # pages) finished all the same
    if os.waitstatus_to_exitcode(status) not in (0, DEGRADED_EXIT):
        raise RuntimeError(f"{' '.join(command)} failed: {text[-2000:]}")
    return (text, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, cpu_of(server_pid) - server_before,
            wall)


def newsspider_crawl(base: str, data_dir: Path, server_pid: int, *extra: str) -> Run:
    text, cpu, rss, server_cpu, wall = measured(
        [sys.executable, "-m", "newsspider", "crawl", "--start-url", base + "/bnews/", "--data-dir", str(data_dir),
         *FAST, "-s", "NEWSSPIDER_PROGRESS_INTERVAL=0", *extra], server_pid)
    match = re.search(r"Crawl finished: (\d+) pages \(([\d.]+)/s\)", text)
    assert match, text
    pages, rate = int(match[1]), float(match[2])
    return Run(pages, pages / rate, cpu, rss, server_cpu, wall)


def start_proxy(kind: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A local proxy (``socks5h``: microsocks, ``http``: tinyproxy) on a port it picks; its URL."""
    from tests.proxies import listening_port

    if kind == "socks5h":
        command = ["microsocks", "-i", "127.0.0.1", "-p", "0"]
    else:
        with socket.socket() as sock:  # tinyproxy cannot pick its own port
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        conf = workdir / "tinyproxy.conf"
        conf.write_text(f"Port {port}\nListen 127.0.0.1\nMaxClients 200\nLogLevel Critical\n")
        command = ["tinyproxy", "-d", "-c", str(conf)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while (port := listening_port(proc.pid)) is None:
        assert proc.poll() is None and time.monotonic() < deadline, f"{command[0]} did not start"
        time.sleep(0.02)
    return proc, f"{kind}://127.0.0.1:{port}"


# The handler that proxied requests use, for every request: its own cost, without a proxy process.
PROXY_HANDLER_EVERYWHERE = ["-s", 'DOWNLOAD_HANDLERS={"http": "newsspider.access.handler.ProxiedHandler", '
                    '"https": "newsspider.access.handler.ProxiedHandler"}']


def latency_ms(url: str, proxy: str | None, requests: int = 100) -> float:
    """Median milliseconds of one GET of ``url`` on a kept-alive connection (through ``proxy``)."""
    import asyncio

    from curl_cffi.requests import AsyncSession

    async def probe() -> float:
        async with AsyncSession(trust_env=False) as client:
            await client.get(url, proxy=proxy)
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                (await client.get(url, proxy=proxy)).raise_for_status()
                times.append(time.perf_counter() - started)
        return sorted(times)[len(times) // 2] * 1000

    return asyncio.run(probe())


def bare_crawl(base: str, server_pid: int) -> Run:
    text, cpu, rss, server_cpu, wall = measured(
        [sys.executable, "-m", "benchmarks.bare", base + "/bnews/", *FAST], server_pid)
    stats = json.loads(text.strip().splitlines()[-1])
    return Run(int(stats["response_received_count"]), float(stats["elapsed_time_seconds"]), cpu, rss,
               server_cpu, wall)


class Server:
    """The static server, in a process of its own, serving a site generated for its address."""

    def __init__(self, articles: int, workdir: Path, shape: str = "site") -> None:
        self.root = workdir / f"site-{articles}-{shape}"
        self.root.mkdir(parents=True)
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.server", str(self.root)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.base = self.proc.stdout.readline().strip()
        self.site = BenchSite(self.root, self.base, shape)
        started = time.monotonic()
        self.site.generate(articles)
        self.generation_seconds = time.monotonic() - started

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def extraction(root: Path, pages: int = 300, rounds: int = 5) -> dict[str, float]:
    """Per-page time of newsspider's loader against lxml's parse of the same bytes (best of rounds)."""
    import lxml.html
    from scrapy.http import HtmlResponse

    from newsspider.extract.loaders import load_article

    files = sorted(root.glob("bnews/*/*/*.html")) + sorted(root.glob("bnews/*/*/*/*.html"))
    files = [f for f in files if re.search(r"/\d{8}/\d+\.html$", str(f))][:pages]
    responses = [HtmlResponse(url=f"http://127.0.0.1/{f.relative_to(root)}", body=f.read_bytes(), encoding="utf-8")
                 for f in files]

    def loader() -> None:  # parse + every field, as the spider does for an article page
        for response in responses:
            load_article(response)

    def floor() -> None:
        for response in responses:
            lxml.html.fromstring(response.body)

    def best(fn: Any) -> float:
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return min(times) / len(responses) * 1000

    ours, lxml_ms = best(loader), best(floor)
    return {"pages": len(responses), "kb": sum(len(r.body) for r in responses) / len(responses) / 1024,
            "loader_ms": ours, "lxml_ms": lxml_ms, "ratio": ours / lxml_ms}


def state_store(ids: int) -> dict[str, float]:
    """The SQLite state with *ids* articles: build time, file size, lookup time, process peak RSS."""
    code = f"""
import json, resource, tempfile, time
from pathlib import Path
from newsspider.memory.sqlite import SqliteMemory
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
d = Path(tempfile.mkdtemp()); state = SqliteMemory(d, commit_every=50000); state.run_id = 1
t = time.monotonic()
for n in range({ids}):
    state._upsert({{"article_id": str(n), "url": f"https://www.bannedbook.org/bnews/cnnews/20240101/{{n}}.html",
                   "content_hash": "sha256:" + "ab" * 32, "crawled_at": "2026-01-01T00:00:00Z", "version": 1}}, 1)
state.commit(); built = time.monotonic() - t
t = time.monotonic()
for n in range(0, {ids}, {ids} // 100000 or 1): state.is_stored(n)
lookups = min(100000, {ids}); lookup_us = (time.monotonic() - t) / lookups * 1e6
state.close()
size = sum(p.stat().st_size for p in d.iterdir())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"build_s": built, "file_mb": size / 2**20, "lookup_us": lookup_us,
                  "rss_mb": peak / 1024, "rss_growth_mb": (peak - base) / 1024}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def cluster(base: str, data_dir: Path, server_pid: int, workers: int, redis_url: str, prefix: str) -> Run:
    """*workers* Redis workers crawling the site together; pages/s over the wall time of all of them."""
    server_before = cpu_of(server_pid)
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-m", "newsspider", "crawl", "--start-url", base + "/bnews/",
                               "--data-dir", str(data_dir), "--redis-url", redis_url, "--worker-id", f"w{i}",
                               "-s", f"NEWSSPIDER_REDIS_PREFIX={prefix}", "-s", "NEWSSPIDER_REDIS_IDLE_TIMEOUT=30",
                               "-s", "NEWSSPIDER_PROGRESS_INTERVAL=0", *FAST],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for i in range(workers)]
    pages, cpu, rss = 0, 0.0, 0.0
    for proc in procs:
        _, _, usage = os.wait4(proc.pid, 0)
        assert proc.stdout is not None
        match = re.search(r"Crawl finished: (\d+) pages", proc.stdout.read())
        assert match, "a worker did not finish"
        pages += int(match[1])
        cpu += usage.ru_utime + usage.ru_stime
        rss = max(rss, usage.ru_maxrss / 1024)
    wall = time.monotonic() - started
    # Startup (imports, about a second) is part of each worker's wall time; subtract the single
    # crawl's share the same way in the caller by comparing wall times of both.
    return Run(pages, wall, cpu, rss, cpu_of(server_pid) - server_before, wall)


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc, f"redis://127.0.0.1:{port}/0"


def versions() -> str:
    import lxml.etree
    import scrapy
    import twisted

    import newsspider

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return (f"{os.cpu_count()} cores ({cpu}), {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
            f"Python {platform.python_version()}, Scrapy {scrapy.__version__}, Twisted {twisted.__version__}, "
            f"lxml {'.'.join(map(str, lxml.etree.LXML_VERSION))}, newsspider {newsspider.__version__}")


def first_section(markdown: str) -> str:
    """The body of the first ``## `` section of *markdown* (its heading left out).

    >>> first_section("# T\\n\\n## A\\n\\none\\n\\n## B\\ntwo\\n")
    'one'
    """
    parts = markdown.split("\n## ")
    return parts[1].split("\n", 1)[1].strip() if len(parts) > 1 else ""


def main() -> None:
    parser = argparse.ArgumentParser(description="Run newsspider's benchmarks; write benchmarks/RESULTS.md.")
    parser.add_argument("--articles", type=int, default=10_000, help="articles of the throughput site")
    parser.add_argument("--small", type=int, default=2_000, help="articles of the small memory site")
    parser.add_argument("--large", type=int, default=20_000, help="articles of the large memory site")
    parser.add_argument("--cluster", type=int, default=3_000, help="articles of the distributed site")
    parser.add_argument("--state-ids", type=int, default=1_000_000, help="ids in the state store benchmark")
    parser.add_argument("--quick", action="store_true", help="a tenth of every size (a smoke run)")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    if args.quick:
        for name in ("articles", "small", "large", "cluster", "state_ids"):
            setattr(args, name, max(200, getattr(args, name) // 10))
    workdir = Path(tempfile.mkdtemp(prefix="newsspider-bench-"))
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    try:
        say("# newsspider benchmark results\n")
        say(f"Machine: {versions()}.  ")
        say(f"Command: `python -m benchmarks.run{' --quick' if args.quick else ''}` "
            f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}). Every number below comes from that one run; "
            "compare ratios, not absolute numbers, between runs.\n")

        # 1. Throughput
        server = Server(args.articles, workdir)
        say(f"## 1. Crawl throughput: {args.articles:,} articles ({server.generation_seconds:.0f} s to generate)\n")
        say("Both crawlers: the same site served by `benchmarks/server.py` (Twisted static files, its own "
            "process), `DOWNLOAD_DELAY=0`, AutoThrottle off, 32 concurrent requests, robots.txt obeyed. "
            "Best of two alternating runs each.\n")
        bare_runs, ours_runs, plain_runs, handler_runs = [], [], [], []
        proxied_runs: dict[str, list[Run]] = {"socks5h": [], "http": []}
        proxies = {kind: start_proxy(kind, workdir) for kind in proxied_runs}
        for round_ in range(2):
            bare_runs.append(bare_crawl(server.base, server.proc.pid))
            data = workdir / f"throughput-{round_}"
            ours_runs.append(newsspider_crawl(server.base, data, server.proc.pid))
            plain_runs.append(newsspider_crawl(server.base, workdir / f"plain-{round_}", server.proc.pid,
                                               "--no-warc"))
            handler_runs.append(newsspider_crawl(server.base, workdir / f"handler-{round_}", server.proc.pid,
                                               *PROXY_HANDLER_EVERYWHERE))
            for kind, (_, url) in proxies.items():
                proxied_runs[kind].append(newsspider_crawl(server.base, workdir / f"{kind}-{round_}",
                                                           server.proc.pid, "--proxy", url))
        latencies = {kind: latency_ms(server.base + "/bnews/", url) for kind, (_, url) in proxies.items()}
        latencies["direct"] = latency_ms(server.base + "/bnews/", None)
        for proc, _ in proxies.values():
            proc.terminate()
        bare, ours = max(bare_runs, key=lambda r: r.rate), max(ours_runs, key=lambda r: r.rate)
        say("| crawler | pages | pages/s | CPU-s per 1,000 pages | peak RSS | server CPU-s / crawl s |")
        say("| --- | ---: | ---: | ---: | ---: | ---: |")
        plain = max(plain_runs, key=lambda r: r.rate)
        for name, run in (("bare Scrapy spider (extracts nothing)", bare), ("newsspider (full)", ours),
                          ("newsspider --no-warc", plain)):
            say(f"| {name} | {run.pages:,} | {run.rate:,.0f} | {run.cpu_ms_per_page:.2f} | {run.peak_rss_mb:,.0f} MB "
                f"| {run.server_cpu / run.wall:.2f} |")
        say(f"\n**newsspider / bare: {ours.rate / bare.rate:.2f}× the pages/s** (target ≥ 1.0×), "
            f"{ours.cpu_ms_per_page / bare.cpu_ms_per_page:.2f}× the CPU per page. "
            f"Both fetched the same pages: {ours.pages:,} vs {bare.pages:,}.\n")
        say(f"Bottleneck: the crawler used {ours.cpu / ours.wall:.2f} CPU-s per second of its run and the server "
            f"{ours.server_cpu / ours.wall:.2f}; with 2 cores, the side near 1.0 is the one that limits.\n")
        # CPU: each crawler's run of least CPU a page (a shared machine only ever adds CPU time)
        least = min(range(len(ours_runs)), key=lambda n: ours_runs[n].cpu_ms_per_page)
        ours_cpu, bare_cpu = ours_runs[least], min(bare_runs, key=lambda r: r.cpu_ms_per_page)
        with (workdir / f"throughput-{least}" / "articles.jsonl").open("rb") as dataset:
            ours_articles = sum(1 for _ in dataset)
        per_article = ours_cpu.pages / ours_articles
        say(f"The site has the seed pages' shape (`BenchSite(shape=\"site\")`: about 95 links an article "
            f"page, 156 a full listing page; the real article 97, the real tag page 179). CPU per article, "
            f"each crawler's run of least CPU: newsspider {ours_cpu.cpu_ms_per_page * per_article:.2f} ms, the "
            f"bare spider {bare_cpu.cpu_ms_per_page * per_article:.2f} ms (its CPU per page times the pages "
            f"per article): **{ours_cpu.cpu_ms_per_page / bare_cpu.cpu_ms_per_page:.2f}× the bare spider's CPU "
            f"per article** (target ≤ 0.5×).\n")
        old_shape = Server(args.articles, workdir, "links")
        old_bare = [bare_crawl(old_shape.base, old_shape.proc.pid) for _ in range(2)]
        old_ours = [newsspider_crawl(old_shape.base, workdir / f"links-{n}", old_shape.proc.pid) for n in range(2)]
        old_shape.stop()
        shutil.rmtree(old_shape.root)
        old_b, old_o = max(old_bare, key=lambda r: r.rate), max(old_ours, key=lambda r: r.rate)
        say("### The earlier shape of the benchmark site\n")
        say("The same crawls (best of two each) on the site's earlier shape (`BenchSite(shape=\"links\")`: "
            "about 140 links an article page, 150 a listing page, a sidebar of hot articles and tags on every "
            "page and a keyword link in every paragraph), for comparison with earlier results.\n")
        say("| crawler | pages | pages/s | CPU-s per 1,000 pages |")
        say("| --- | ---: | ---: | ---: |")
        for name, run in (("bare Scrapy spider (extracts nothing)", old_b), ("newsspider (full)", old_o)):
            say(f"| {name} | {run.pages:,} | {run.rate:,.0f} | {run.cpu_ms_per_page:.2f} |")
        say(f"\n**newsspider / bare on the earlier shape: {old_o.rate / old_b.rate:.2f}× the pages/s, "
            f"{old_o.cpu_ms_per_page / old_b.cpu_ms_per_page:.2f}× the CPU per page.**\n")
        say("### The handler for proxies, and through a local proxy\n")
        say("Requests through a proxy are downloaded by the curl_cffi handler of Scrapy's download-handler "
            "incubator; direct ones by Scrapy's "
            "default (Twisted) handler, as in the full crawl above. The same full crawl, best of two runs "
            "each: with the curl_cffi handler for every request and no proxy (the handler's own cost), then with "
            "`--proxy` through a local proxy process (microsocks for SOCKS5, tinyproxy for HTTP).\n")
        say("| crawl | pages | pages/s | CPU-s per 1,000 pages | cost against direct |")
        say("| --- | ---: | ---: | ---: | ---: |")
        own = max(handler_runs, key=lambda r: r.rate)
        rows = [("direct, curl_cffi handler (no proxy)", own)]
        rows += [(f"through {'SOCKS5 (socks5h://, microsocks)' if kind == 'socks5h' else 'an HTTP proxy (tinyproxy)'}",
                  max(runs, key=lambda r: r.rate)) for kind, runs in proxied_runs.items()]
        for name, run in rows:
            say(f"| {name} | {run.pages:,} | {run.rate:,.0f} | {run.cpu_ms_per_page:.2f} | "
                f"**{1 - run.rate / ours.rate:.1%}** |")
        say(f"\n**The handler used for proxies costs {1 - own.rate / ours.rate:.1%} of the direct crawl's "
            "pages/s** (target ≤ 10%).\n")
        say(f"What each proxy adds: one GET of the first listing page on a kept-alive connection takes "
            f"{latencies['direct']:.2f} ms direct, {latencies['http']:.2f} ms through tinyproxy and "
            f"{latencies['socks5h']:.2f} ms through microsocks (median of 100). A crawl waits on that "
            "latency wherever one page leads to the next (a listing's next page), so a slow proxy costs "
            "pages/s that no handler can win back; on the live site, the politeness delay and the network "
            "are far larger than either.\n")

        # 2. Extraction
        ex = extraction(server.root)
        say("## 2. Extraction against the parser floor\n")
        say(f"{ex['pages']:.0f} article pages of the benchmark site ({ex['kb']:.0f} KB on average): "
            f"`load_article` {ex['loader_ms']:.2f} ms per page (parse + every field), `lxml.html.fromstring` "
            f"{ex['lxml_ms']:.2f} ms. **Ratio {ex['ratio']:.2f}×** (target ≤ 2×).\n")

        # 3. Recurring run
        added = server.site.add_articles(max(1, args.articles // 100))
        second = newsspider_crawl(server.base, workdir / "throughput-1", server.proc.pid)
        first = ours_runs[1]
        say(f"## 3. A recurring run with 1% new articles ({len(added)} of {args.articles:,})\n")
        say("| run | pages fetched | seconds |")
        say("| --- | ---: | ---: |")
        say(f"| first (empty data dir) | {first.pages:,} | {first.seconds:.1f} |")
        say(f"| second (same data dir, 1% new) | {second.pages:,} | {second.seconds:.1f} |")
        say(f"\n**The second run made {second.pages / first.pages:.1%} of the first run's requests** "
            f"(target ≤ 5%) in {second.seconds / first.seconds:.1%} of its time.\n")
        # The web archive
        say("## 4. The web archive\n")
        archive_dir = workdir / "throughput-0"
        with (archive_dir / "articles.jsonl").open("rb") as dataset:  # not read whole: it would raise the
            stored = sum(1 for _ in dataset)  # peak RSS this process's later children report (fork)
        warc_bytes = sum(p.stat().st_size for p in (archive_dir / "warc").glob("*.warc.gz"))
        jsonl_bytes = (archive_dir / "articles.jsonl").stat().st_size
        say(f"The full crawl of section 1 with the archive on (the default) made {ours.rate:,.0f} pages/s, "
            f"with `--no-warc` {plain.rate:,.0f}: **the archive costs {1 - ours.rate / plain.rate:.1%} of the "
            f"throughput** (target ≤ 15%), {ours.cpu_ms_per_page / plain.cpu_ms_per_page - 1:+.1%} CPU per page.\n")
        say(f"It kept {ours.pages:,} responses (every page and robots.txt) for {stored:,} articles in "
            f"{warc_bytes / 2**20:,.1f} MB of WARC: **{warc_bytes / stored / 1024:.1f} KB per article, "
            f"{warc_bytes / stored * 1000 / 2**20:.1f} MB per 1,000 articles** (the dataset: "
            f"{jsonl_bytes / stored / 1024:.1f} KB per article).\n")
        crawl_rate = stored / ours_runs[0].wall
        reextracted = {}
        for jobs in (0, 1):  # one worker process per CPU (the default), and none
            text, cpu, _, _, wall = measured(
                [sys.executable, "-m", "newsspider", "reextract", str(archive_dir), "--out",
                 str(workdir / f"reextracted-{jobs}"), "--jobs", str(jobs), "-s", "NEWSSPIDER_PROGRESS_INTERVAL=0"],
                server.proc.pid)
            match = re.search(r"(\d+) archived pages read, (\d+) stored", text)
            assert match, text
            reextracted[jobs] = (int(match[2]), wall, cpu)
        again, wall, cpu = reextracted[0]
        one, one_wall, one_cpu = reextracted[1]
        say(f"`newsspider reextract` of that data dir into another, with a worker process per CPU (the "
            f"default, {os.cpu_count()} here): {again:,} articles in {wall:.1f} s ({cpu:.1f} CPU-s), "
            f"{again / wall:,.0f} articles/s against the crawl's {crawl_rate:,.0f} articles/s "
            f"({stored:,} in {ours_runs[0].wall:.1f} s; both from process start to exit, the scan of the "
            f"archive included): **{again / wall / crawl_rate:.1f}× the crawl** (target ≥ 5×). "
            f"In one process (`--jobs 1`): {one:,} articles in {one_wall:.1f} s ({one_cpu:.1f} CPU-s), "
            f"{one / one_wall / crawl_rate:.1f}× the crawl.\n")
        text, cpu, _, _, wall = measured([sys.executable, "-m", "newsspider", "verify", str(archive_dir)],
                                         server.proc.pid)
        say(f"`newsspider verify` of that data dir (every WARC file against its run manifest, every "
            f"record's WARC pointer, payload digest and content hash, offline): {stored:,} articles in "
            f"{wall:.1f} s ({cpu:.1f} CPU-s), **{stored / wall:,.0f} articles/s**.\n")

        server.stop()

        # 5. Memory growth
        say("## 5. Memory growth\n")
        say("| crawl | articles | pages | peak RSS |")
        say("| --- | ---: | ---: | ---: |")
        peaks = {}
        for size in (args.small, args.large):
            srv = Server(size, workdir)
            run = newsspider_crawl(srv.base, workdir / f"memory-{size}", srv.proc.pid)
            srv.stop()
            shutil.rmtree(srv.root)
            peaks[size] = run.peak_rss_mb
            say(f"| newsspider | {size:,} | {run.pages:,} | {run.peak_rss_mb:,.0f} MB |")
        say(f"\n**Peak RSS at {args.large:,} articles is {peaks[args.large] / peaks[args.small]:.2f}× that at "
            f"{args.small:,}** (target ≤ 1.5×).\n")
        st = state_store(args.state_ids)
        say(f"State store (SQLite) with {args.state_ids:,} article ids: built in {st['build_s']:.0f} s, "
            f"{st['file_mb']:.0f} MB on disk, {st['lookup_us']:.1f} µs per `is_stored` lookup, the process's "
            f"memory grew by {st['rss_growth_mb']:.0f} MB (peak {st['rss_mb']:.0f} MB): the state lives on disk, "
            "not in the crawler's memory.\n")

        # 6. Distributed
        if shutil.which("redis-server"):
            srv = Server(args.cluster, workdir)
            single = newsspider_crawl(srv.base, workdir / "single", srv.proc.pid)
            redis_proc, redis_url = start_redis(workdir)
            say(f"## 6. Distributed crawl on Redis: {args.cluster:,} articles\n")
            say("pages/s over the wall time from the first worker's start to the last worker's end "
                "(process start-up included for all rows, the single crawl's too).\n")
            say("| crawl | pages | wall s | pages/s | × single |")
            say("| --- | ---: | ---: | ---: | ---: |")
            say(f"| single process (SQLite state) | {single.pages:,} | {single.wall:.1f} | "
                f"{single.pages / single.wall:,.0f} | 1.00 |")
            for workers in (1, 2, 3):
                run = cluster(srv.base, workdir / f"cluster-{workers}", srv.proc.pid, workers, redis_url,
                              f"bench{workers}")
                say(f"| {workers} Redis worker{'s' if workers > 1 else ''} | {run.pages:,} | {run.wall:.1f} | "
                    f"{run.pages / run.wall:,.0f} | {(run.pages / run.wall) / (single.pages / single.wall):.2f} |")
            redis_proc.terminate()
            srv.stop()
            say("\nThis machine has 2 cores shared by the server, Redis and every worker: more workers than "
                "cores cannot add throughput here; across machines each worker brings its own core.\n")
        scale = HERE / "SCALE.md"
        if scale.exists():  # measured apart (an hour at 200,000 articles): its latest table, as it stands
            say("## 7. The cost against the site's size (`python -m benchmarks.scale`, measured apart)\n")
            say(f"From `benchmarks/SCALE.md`; see there for what was profiled.\n\n"
                f"{first_section(scale.read_text('utf-8'))}")
        room = HERE / "ROOM.md"
        if room.exists():  # measured apart (its 100,000-article database takes minutes to build)
            say("## 8. The reading room at 100,000 articles (`python -m benchmarks.room`, measured apart)\n")
            say("From `benchmarks/ROOM.md`, as it stands.\n\n"
                + room.read_text("utf-8").split("\n", 2)[2].strip() + "\n")
        offline = HERE / "ZIM.md"
        if offline.exists():  # measured apart (an hour at 100,000 articles)
            say("## 9. The offline edition at 100,000 articles (`python -m benchmarks.zim`, measured apart)\n")
            say("From `benchmarks/ZIM.md`, as it stands.\n\n"
                + offline.read_text("utf-8").split("\n", 2)[2].strip() + "\n")
        asked = HERE / "REQUESTS.md"
        if asked.exists():  # measured apart (the demo site's sitemaps, validators and 304s)
            say("## 10. Requests per article (`python -m benchmarks.requests`, measured apart)\n")
            say("From `benchmarks/REQUESTS.md`, as it stands.\n\n"
                + asked.read_text("utf-8").split("\n", 2)[2].strip() + "\n")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        history = (HERE / "HISTORY.md").read_text("utf-8")
        args.out.write_text("\n".join(lines) + "\n" + history, "utf-8")
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
