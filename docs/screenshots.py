"""The reading room's screenshots in docs/search.md, taken of the real pages: ``python -m docs.screenshots``.

It makes the demo's data dir as a reader would (``newsspider demo --serve``,
then an edit of one article on the demo site and a ``--refresh`` crawl, so
that the article has two versions), serves it with ``newsspider browse
--port 0``, and saves each page of :data:`PAGES` at each size of
:data:`SIZES` with Playwright's headless Chromium into ``docs/images/`` (PNG
at 1x, the window's height only; in 256 colours when Pillow is installed, a third of the size).
Pages are chosen by their URL paths, never
by what they hold, so the command keeps working when the pages change; run it
again after changing them and commit the images.

    python -m docs.screenshots [--out docs/images] [--keep DATA_DIR]
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
#: the demo article whose archived page is the real seed page, and the one the demo site edits
ARTICLE, EDITED = "2054421", "2060000"
#: (file name, path on the browse server): the search page with a word of the demo's articles, an
#: article page, its archived page, the versions of the edited article
PAGES = [
    ("search", "/?q=" + quote("中国")),
    ("article", f"/-/newsspider/article/{ARTICLE}"),
    ("archived", f"/-/newsspider/page/{ARTICLE}"),
    ("versions", f"/-/newsspider/versions/{EDITED}"),
]
#: (name, width, height): a laptop and a phone
SIZES = [("laptop", 1366, 768), ("phone", 390, 844)]


def _cli(*args: str, **options: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "newsspider", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **options)  # type: ignore[call-overload]


def _wait_for(process: subprocess.Popen[str], pattern: str) -> re.Match[str]:
    """The first line of *process*'s output that matches *pattern* (all of it on failure)."""
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if match := re.search(pattern, line):
            return match
    process.wait()
    raise SystemExit(f"{' '.join(map(str, process.args))}: exited {process.returncode}:\n{''.join(seen)}")


def make_data(data: Path) -> None:
    """The demo's crawl into *data*, then :data:`EDITED` edited on the demo site and crawled again."""
    demo = _cli("demo", str(data), "--serve", "--port", "0")
    try:
        root = _wait_for(demo, r"Serving the demo site at (http://[^/]+)/bnews/")[1]
        urllib.request.urlopen(urllib.request.Request(f"{root}/__edit__?id={EDITED}", method="POST"),
                               timeout=30).read()
        refresh = _cli("crawl", "--refresh", "--start-url", f"{root}/bnews/", "--data-dir", str(data),
                       "-s", "DOWNLOAD_DELAY=0")
        output, _ = refresh.communicate(timeout=600)
        if refresh.returncode not in (0, 1):  # 1: a degraded run (few articles stored) is expected here
            raise SystemExit(f"the refresh crawl exited {refresh.returncode}:\n{output}")
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(30)


@contextmanager
def browse(data: Path) -> Iterator[str]:
    """``newsspider browse DATA --port 0``, serving: its address."""
    server = _cli("browse", str(data), "--port", "0")
    try:
        yield _wait_for(server, r" at (http://127\.0\.0\.1:\d+)/")[1]
    finally:
        server.terminate()
        server.wait(30)


def shoot(root: str, out: Path) -> list[Path]:
    """Each page of :data:`PAGES` at each size of :data:`SIZES`, saved in *out*."""
    from playwright.sync_api import sync_playwright

    from newsspider.access.browser import find_chromium

    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as playwright:
        # the system's Chromium when there is one (as --browser chooses), else Playwright's own
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=["--no-sandbox"])
        try:
            for size, width, height in SIZES:
                page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
                for name, path in PAGES:
                    response = page.goto(root + path, wait_until="load")
                    if response is None or response.status != 200:
                        raise SystemExit(f"{path}: {response.status if response else 'no answer'}")
                    target = out / f"{name}-{size}.png"
                    page.screenshot(path=str(target), animations="disabled", caret="hide")
                    saved.append(target)
                page.close()
        finally:
            browser.close()
    return saved


def shrink(paths: list[Path]) -> bool:
    """Rewrite each PNG in 256 colours (a third of the size; text and flat colours survive) with Pillow,
    when it is installed; False when it is not (the PNGs stay as Chromium wrote them)."""
    try:
        from PIL import Image
    except ImportError:
        return False
    for path in paths:
        with Image.open(path) as image:
            small = image.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE,
                                                  dither=Image.Dither.NONE)
        small.save(path, optimize=True)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--keep", type=Path, help="make the demo's data dir here (a new one) and keep it")
    args = parser.parse_args(argv)
    data = args.keep or Path(tempfile.mkdtemp(prefix="newsspider-shots-")) / "demo"
    started = time.monotonic()
    try:
        make_data(data)
        with browse(data) as root:
            saved = shoot(root, args.out)
        shrunk = shrink(saved)
    finally:
        if args.keep is None:
            shutil.rmtree(data.parent, ignore_errors=True)
    for path in saved:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown}  {path.stat().st_size / 1e3:.0f} KB")
    total = sum(path.stat().st_size for path in saved) / 1e3
    print(f"{len(saved)} screenshots ({total:.0f} KB) in {time.monotonic() - started:.0f} s"
          + ("" if shrunk else "; pip install pillow to write them in 256 colours, a third of the size"))


if __name__ == "__main__":
    main()
