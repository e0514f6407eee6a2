"""The web archive's index and package: a CDXJ index (cdxj-indexer) and a WACZ file (py-wacz).

Both read the WARC files of a data dir and never change them.  The index
names each file relative to the data dir (``warc/…``), so a replay tool
(pywb) pointed at the data dir finds them; the WACZ holds the WARCs, its own
index and a pages list of the dataset's articles (``pages/pages.jsonl``:
URL, time, title), which replayweb.page and pywb open.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cdxj_indexer.main import CDXJIndexer
from wacz.main import main as wacz_main

from newsspider.archive.reader import ArchiveError, archived_page, warc_files
from newsspider.dataset.export import atomic_output
from newsspider.dataset.reader import Errors, iter_articles

__all__ = ["INDEX_FILE", "resolve_not_modified", "write_index", "write_wacz"]

INDEX_FILE = "index.cdxj"


def _files(data_dir: Path) -> list[Path]:
    files = warc_files(data_dir)
    if not files:
        raise ArchiveError(f"{data_dir}: no WARC files in {data_dir / 'warc'} (crawled with --no-warc?)")
    return files


def write_index(data_dir: Path, out: Path | None = None) -> tuple[Path, int]:
    """Write the sorted CDXJ index of *data_dir*'s WARC files; return its path and line count.

    A ``304 Not Modified`` revisit (:func:`resolve_not_modified`) is indexed as the earlier response
    it refers to, at its own time: a replay tool shows the page, not an empty 304.
    """
    files = _files(data_dir)
    out = out if out is not None else data_dir / INDEX_FILE
    with tempfile.TemporaryFile("w+", encoding="utf-8", dir=out.parent) as sorted_index:
        CDXJIndexer(output=sorted_index, inputs=[str(f) for f in files], sort=True,
                    dir_root=str(data_dir)).process_all()
        sorted_index.seek(0)
        with atomic_output(out, data_dir, binary=False) as handle:
            handle.writelines(resolve_not_modified(sorted_index))
    return out, sum(1 for _ in out.open("rb"))


def resolve_not_modified(lines: Iterable[str]) -> Iterator[str]:
    r"""The sorted CDXJ *lines* with each ``304`` revisit (a server-not-modified one, whose payload digest
    is the earlier capture's) pointing at the earlier response of the same URL with that digest, its own
    time kept.  pywb replays a revisit whose own status is a 3xx as it is: an empty 304.

    >>> lines = ['a)/x 20240101000000 {"url": "http://a/x", "mime": "text/html", "status": "200", '
    ...          '"digest": "sha1:D", "length": "9", "offset": "0", "filename": "warc/1.warc.gz"}\n',
    ...          'a)/x 20240202000000 {"url": "http://a/x", "mime": "warc/revisit", "status": "304", '
    ...          '"digest": "sha1:D", "length": "5", "offset": "7", "filename": "warc/2.warc.gz"}\n']
    >>> print(list(resolve_not_modified(lines))[1], end="")  # doctest: +NORMALIZE_WHITESPACE
    a)/x 20240202000000 {"url": "http://a/x", "mime": "text/html", "status": "200", "digest": "sha1:D",
    "length": "9", "offset": "0", "filename": "warc/1.warc.gz"}
    """
    key = None
    originals: dict[str, dict[str, Any]] = {}  # the responses of the URL so far, by payload digest
    for line in lines:
        urlkey, timestamp, data = line.split(" ", 2)
        if urlkey != key:
            key, originals = urlkey, {}
        fields = json.loads(data)
        if fields.get("mime") == "warc/revisit":
            if fields.get("status") == "304" and (original := originals.get(fields.get("digest", ""))):
                line = f"{urlkey} {timestamp} {json.dumps({**original, 'url': fields['url']})}\n"
        elif fields.get("status") == "200" and fields.get("digest"):
            originals[fields["digest"]] = fields
        yield line


def _pages(data_dir: Path, errors: Errors) -> list[dict[str, str]]:
    """The dataset's archived articles as WACZ pages (newest version of each), at the time of their
    capture (py-wacz matches a page to its record by URL and time)."""
    return [{"url": r["url"], "ts": archived_page(data_dir, r["warc"]).date, "title": r["title"]}
            for r in iter_articles(data_dir, errors=errors) if r.get("warc")]


def write_wacz(data_dir: Path, out: Path, errors: Errors = "raise", key: Any = None,
               authorities: list[str] | None = None, timeout: float = 10.0) -> tuple[int, list[str]]:
    """Package *data_dir*'s WARC files, an index and the articles' pages list as WACZ at *out*; with
    *key*, signed and timestamped by *authorities*, with the run manifests and the dataset
    (:func:`newsspider.archive.evidence.sign_package`).  Return the number of pages and one line per
    authority that gave no timestamp."""
    files = _files(data_dir)
    pages = _pages(data_dir, errors)
    with tempfile.TemporaryDirectory() as tmp:
        pages_file = Path(tmp) / "pages.jsonl"
        header = {"format": "json-pages-1.0", "id": "pages", "title": "newsspider articles"}
        lines = (json.dumps(line, ensure_ascii=False) + "\n" for line in [header, *pages])
        pages_file.write_text("".join(lines), "utf-8")
        built = Path(tmp) / "archive.wacz"
        chatter = io.StringIO()  # py-wacz prints its progress
        with contextlib.redirect_stdout(chatter):
            code = wacz_main(["create", "-o", str(built), "-p", str(pages_file),
                              "--title", f"newsspider archive of {data_dir.name}", *map(str, files)])
        if code:
            raise ArchiveError(f"{out}: py-wacz could not package the archive: "
                               f"{chatter.getvalue().strip().splitlines()[-1:]}")
        problems: list[str] = []
        with atomic_output(out, data_dir, binary=True) as handle:
            if key is None:
                with built.open("rb") as source:
                    while chunk := source.read(1 << 20):
                        handle.write(chunk)
            else:
                from newsspider.archive.evidence import sign_package

                problems = sign_package(built, handle, data_dir, key, authorities or [], timeout)
    return len(pages), problems
