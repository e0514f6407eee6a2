"""Is a crawl's cost flat in the site's size?  ``python -m benchmarks.scale [--sizes 20000 200000]``.

For each size, a site of that many articles (the benchmark site's real markup, ``benchmarks.site``;
paragraphs kept short so that 200,000 articles fit in about 4 GB) is generated and crawled three ways,
each measured for peak RSS (the kernel's, ``wait4``) and pages/s (the crawl's own):

- a first crawl, one process;
- a crawl with ``--resume`` (its frontier saved in JOBDIR) stopped halfway (SIGTERM once half the
  articles are stored) and continued with ``--resume``: the continuing process is measured;
- one Redis worker (a real ``redis-server``).

Targets (issue 22): peak RSS at the largest size ≤ 1.3× that at the smallest, pages/s ≥ 0.9×.  Writes
``benchmarks/SCALE.md``.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.run import FAST, Run, cpu_of, start_redis, versions
from newsspider.monitoring import DEGRADED_EXIT

HERE = Path(__file__).parent
PARAGRAPHS = (3, 8)


def crawl_command(base: str, data_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "newsspider", "crawl", "--start-url", base + "/bnews/", "--data-dir",
            str(data_dir), *FAST, "-s", "NEWSSPIDER_PROGRESS_INTERVAL=0", *extra]


def lines_in(path: Path) -> int:
    """Lines in *path*, read a MB at a time (reading it whole would grow this process, whose peak
    RSS a crawl started after it inherits: see :func:`measured_crawl`)."""
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def measured_crawl(command: list[str], server_pid: int, stop_at: int = 0,
                   data_dir: Path | None = None) -> Run:
    """Run a crawl; with *stop_at*, send it SIGTERM once *data_dir*'s dataset holds that many lines.

    Linux carries a parent's peak RSS into a child it starts (``exec`` keeps the high-water mark of
    the memory it replaces), so the ``ru_maxrss`` that ``wait4`` gives is at least this process's own
    peak: this process is kept small (the site is generated in a process of its own, datasets are
    read a MB at a time), and a measurement it could have inflated is refused."""
    server_before = cpu_of(server_pid)
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL)
        if stop_at and data_dir is not None:
            dataset = data_dir / "articles.jsonl"
            while proc.poll() is None:
                if lines_in(dataset) >= stop_at:
                    proc.send_signal(signal.SIGTERM)
                    break
                time.sleep(1)
        _, status, usage = os.wait4(proc.pid, 0)
        own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if own_peak >= usage.ru_maxrss:
            raise RuntimeError(f"the benchmark's own peak RSS ({own_peak // 1024} MB) is not below the "
                               f"crawl's ({usage.ru_maxrss // 1024} MB): the crawl's figure is not its own")
        wall = time.monotonic() - started
        out.seek(0)
        text = out.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if not stop_at and code not in (0, DEGRADED_EXIT):
        raise RuntimeError(f"{' '.join(command)} failed ({code}): {text[-2000:]}")
    match = re.search(r"Crawl \w+: (\d+) pages \(([\d.]+)/s\)", text)
    pages, rate = (int(match[1]), float(match[2])) if match else (0, 1.0)
    return Run(pages, pages / rate if rate else wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
               cpu_of(server_pid) - server_before, wall)


def one_size(articles: int, workdir: Path, redis_url: str | None,
             runs: tuple[str, ...] = ("crawl", "resume", "redis")) -> dict[str, Run | float]:
    root = workdir / f"site-{articles}"
    root.mkdir()
    server = subprocess.Popen([sys.executable, "-m", "benchmarks.server", str(root)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        started = time.monotonic()
        # in a process of its own: generating 200,000 articles here would grow this process to some
        # 300 MB, a peak every crawl started after it would report as its own (see measured_crawl)
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                        "from benchmarks.site import BenchSite; "
                        "BenchSite(Path(sys.argv[1]), sys.argv[2]).generate(int(sys.argv[3]), "
                        f"paragraphs={PARAGRAPHS!r})", str(root), base, str(articles)],
                       check=True, cwd=HERE.parent)
        results: dict[str, Run | float] = {"generate_s": time.monotonic() - started}
        if "crawl" in runs:
            results["crawl"] = measured_crawl(crawl_command(base, workdir / f"first-{articles}"), server.pid)
        if "resume" in runs:
            resumed = workdir / f"resumed-{articles}"
            # started with --resume too, so that the frontier it stops with is saved in DATA_DIR/job
            measured_crawl(crawl_command(base, resumed, "--resume"), server.pid, stop_at=articles // 2,
                           data_dir=resumed)
            results["resume"] = measured_crawl(crawl_command(base, resumed, "--resume"), server.pid)
        if redis_url and "redis" in runs:
            results["redis"] = measured_crawl(crawl_command(
                base, workdir / f"redis-{articles}", "--redis-url", redis_url, "--worker-id", "w1",
                "-s", f"NEWSSPIDER_REDIS_PREFIX=scale{articles}", "-s", "NEWSSPIDER_REDIS_IDLE_TIMEOUT=10"),
                server.pid)
        return results
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--runs", nargs="+", choices=["crawl", "resume", "redis"],
                        default=["crawl", "resume", "redis"], help="which crawls to measure (default: all)")
    parser.add_argument("--out", type=Path, default=HERE / "SCALE.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsspider-scale-") as tmp:
        workdir = Path(tmp)
        redis_proc, redis_url = start_redis(workdir)
        try:
            by_size = {n: one_size(n, workdir, redis_url, tuple(args.runs)) for n in args.sizes}
        finally:
            redis_proc.terminate()
    lines = ["# Scale: the crawl's cost against the site's size", "",
             f"Command: `python -m benchmarks.scale --sizes {' '.join(map(str, args.sizes))}"
             f"{' --runs ' + ' '.join(args.runs) if len(args.runs) < 3 else ''}` "
             f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}); {versions()}.", "",
             "| articles | site generated in | run | pages | pages/s | peak RSS MB | CPU ms a page |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for n, results in by_size.items():
        for name in ("crawl", "resume", "redis"):
            run = results.get(name)
            if isinstance(run, Run):
                lines.append(f"| {n:,} | {results['generate_s']:.0f} s | {name} | {run.pages:,} | "
                             f"{run.rate:.1f} | {run.peak_rss_mb:.0f} | {run.cpu_ms_per_page:.2f} |")
    small, large = min(by_size), max(by_size)
    if small != large:
        lines.append("")
        for name in ("crawl", "resume", "redis"):
            a, b = by_size[small].get(name), by_size[large].get(name)
            if isinstance(a, Run) and isinstance(b, Run):
                lines.append(f"- {name}: peak RSS {b.peak_rss_mb / a.peak_rss_mb:.2f}× (target ≤ 1.3×), "
                             f"pages/s {b.rate / a.rate:.2f}× (target ≥ 0.9×) from {small:,} to {large:,}")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
