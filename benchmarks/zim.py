"""Benchmark: the offline edition (``dataset export --format zim``): time, peak RSS, bytes per article.

    python -m benchmarks.zim [--articles 5000] [--with-images 500] [--max-image-kb 100]    # some 3 minutes
    python -m benchmarks.zim --articles 100000 --with-images 10000 --out benchmarks/ZIM.md    # about an hour

The articles are the search benchmark's (:func:`benchmarks.search.records`:
1,500-3,000 characters of body from the real seed pages' text, tags, ten
related links).  Without images: the dataset alone (no web archive).  With
images: each article shows one archived JPEG (1024x768, some 150-250 KB,
one of a pool of 50 drawn here, each under its own URL, so that each is made
to fit the cap on its own, as a real archive's are), in a WARC written here.
Each export runs as the command in a process of its own; its peak RSS is
``wait4``'s (the data are generated in another process first, so that this
one stays small: a figure it could have inflated is refused).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SITE = "https://www.bannedbook.org"


def photo(rng: random.Random) -> bytes:
    """A JPEG like a news photo's size: 1024x768, smooth areas and noise."""
    from PIL import Image, ImageDraw, ImageFilter

    image = Image.effect_noise((1024, 768), rng.randint(20, 60)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(30):
        x, y = rng.randrange(1024), rng.randrange(768)
        draw.ellipse((x, y, x + rng.randint(40, 300), y + rng.randint(40, 300)),
                     fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


def generate(data: Path, n: int, images: bool) -> None:
    """Write *n* records into *data* (and, with *images*, a WARC of one image each)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from benchmarks.search import records

    rng = random.Random(n)
    data.mkdir(parents=True, exist_ok=True)
    pool = [photo(rng) for _ in range(50)] if images else []
    warc = None
    if images:
        (data / "warc").mkdir()
        warc = (data / "warc" / "images.warc.gz").open("wb")
        writer = WARCWriter(warc, gzip=True)
    with (data / "articles.jsonl").open("w", encoding="utf-8") as handle:
        for record in records(n, rng):
            url = f"{SITE}/uploads/2024/01/{record['article_id']}.jpg"
            record["images"] = [{"url": url, "alt": None, "caption": "图/演示"}] if images else []
            record["image_url"] = url if images else None
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            if images:
                body = pool[int(record["article_id"]) % len(pool)]
                fields = [("Content-Type", "image/jpeg"), ("Content-Length", str(len(body)))]
                headers = StatusAndHeaders("200 OK", fields, protocol="HTTP/1.1")
                writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                              http_headers=headers))
    if warc is not None:
        warc.close()


def measured(command: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of *command*, run in a process of its own."""
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {err.decode()[-2000:]}")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if own >= usage.ru_maxrss:
        raise RuntimeError(f"the benchmark's own peak RSS ({own // 1024} MB) is not below the export's")
    return seconds, usage.ru_maxrss / 1024


def measure(n: int, images: bool, max_image_kb: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "out.zim"
        subprocess.run([sys.executable, "-m", "benchmarks.zim", "--generate", str(data), "--articles", str(n),
                        *(["--images"] if images else [])], check=True)
        jsonl = (data / "articles.jsonl").stat().st_size
        seconds, peak = measured([sys.executable, "-m", "newsspider", "dataset", "export", str(data),
                                  "--format", "zim", "--out", str(out), "--max-image-kb", str(max_image_kb)])
        size = out.stat().st_size
    return {"articles": n, "images": n if images else 0, "seconds": seconds, "per_s": n / seconds,
            "peak_mb": peak, "zim_mb": size / 1e6, "bytes_per_article": size / n, "jsonl_mb": jsonl / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5000, help="articles without images")
    parser.add_argument("--with-images", type=int, default=500, help="articles with one image each")
    parser.add_argument("--max-image-kb", type=int, default=100)
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--images", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.generate, args.articles, args.images)
        return
    rows = [measure(args.articles, False, args.max_image_kb)]
    if args.with_images:
        rows.append(measure(args.with_images, True, args.max_image_kb))
    table = ["| articles | images | time | articles/s | peak RSS | ZIM | bytes/article | JSON Lines |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        table.append(f"| {r['articles']:,} | {r['images']:,} | {r['seconds']:.0f} s | {r['per_s']:.0f} | "
                     f"{r['peak_mb']:.0f} MB | {r['zim_mb']:.1f} MB | {r['bytes_per_article']:,.0f} | "
                     f"{r['jsonl_mb']:.1f} MB |")
    print("\n".join(table))
    if args.out:
        command = " ".join(["python -m benchmarks.zim", *sys.argv[1:]])
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        args.out.write_text(
            f"# The offline edition (`dataset export --format zim`)\n\n`{command}` on "
            f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores (load average at the end: {load}); "
            f"the cap on images {args.max_image_kb} KB. Peak RSS is the export process's own "
            "(`wait4`).\n\n" + "\n".join(table) + "\n", "utf-8")


if __name__ == "__main__":
    main()
