"""The web archive's index and package: a CDXJ index (cdxj-indexer) and a WACZ file (py-wacz).

Both read the WARC files of a data dir and never change them.  The index
names each file relative to the data dir (``warc/…``), so a replay tool
(pywb) pointed at the data dir finds them; the WACZ holds the WARCs, its own
index and a pages list of the dataset's articles (``pages/pages.jsonl``:
URL, time, title), which replayweb.page and pywb open.  Both indexes give a
``304 Not Modified`` revisit the earlier response it refers to
(:func:`resolve_not_modified`).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import itertools
import json
import posixpath
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cdxj_indexer.main import CDXJIndexer, CompressedWriter
from wacz.main import main as wacz_main

from newsspider.archive.reader import ArchiveError, archived_page, warc_files
from newsspider.dataset.export import atomic_output
from newsspider.dataset.reader import Errors, iter_articles

__all__ = ["INDEX_FILE", "resolve_not_modified", "resolve_zipnum", "write_index", "write_wacz"]

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
        built = _resolve_package_index(built, out)
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


def _resolve_package_index(built: Path, out: Path) -> Path:
    """py-wacz's package *built*, or a copy of it beside it whose index gives each 304 revisit the
    earlier response (:func:`resolve_not_modified`), with ``datapackage.json`` and
    ``datapackage-digest.json`` listing the new index files' hashes and sizes.

    py-wacz writes its index as ZipNum (``cdxj-gzip-1.0``): ``indexes/index.cdx.gz``, the sorted CDXJ
    lines in gzip blocks, and ``indexes/index.idx``, the first key, offset, length and digest of each
    block; the copy keeps the blocks' lines and first keys, and every member stored or compressed as
    py-wacz wrote it (stored, the WARCs and index.cdx.gz: replay tools read them by byte range).
    """
    with zipfile.ZipFile(built) as source:
        replaced: dict[str, bytes] = {}
        summaries = [n for n in source.namelist() if n.startswith("indexes/") and n.endswith(".idx")]
        if not summaries:
            raise ArchiveError(f"{out}: py-wacz wrote no indexes/*.idx (an index newsspider does not read)")
        for summary in summaries:
            replaced.update(_resolved_zipnum(source, summary, out))
        if not replaced:
            return built  # no 304 revisit, or nothing for one to refer to: py-wacz's package as it is
        package = json.loads(source.read("datapackage.json"))
        for resource in package["resources"]:
            if (data := replaced.get(resource["path"])) is not None:
                algorithm = str(resource["hash"]).partition(":")[0]
                resource["hash"] = f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
                resource["bytes"] = len(data)
        replaced["datapackage.json"] = json.dumps(package, indent=2).encode("utf-8")
        digest_file = json.loads(source.read("datapackage-digest.json"))
        if "signedData" in digest_file:  # never asked of py-wacz: newsspider signs (sign_package)
            raise ArchiveError(f"{out}: py-wacz signed the package; its index cannot be rewritten")
        digest_file["hash"] = f"sha256:{hashlib.sha256(replaced['datapackage.json']).hexdigest()}"
        replaced["datapackage-digest.json"] = json.dumps(digest_file, indent=2).encode("utf-8")
        resolved = built.with_name(f"resolved-{built.name}")
        with zipfile.ZipFile(resolved, "w") as target:
            for info in source.infolist():
                if (data := replaced.get(info.filename)) is not None:
                    target.writestr(info, data)
                    continue
                with source.open(info) as member, target.open(info, "w") as copy:
                    while chunk := member.read(1 << 20):
                        copy.write(chunk)
    built.unlink()
    return resolved


def _resolved_zipnum(source: zipfile.ZipFile, summary: str, out: Path) -> dict[str, bytes]:
    """The ZipNum index *summary* (``….idx``) of the package *source* and its blocks, with 304
    revisits resolved (:func:`resolve_zipnum`), by member name; empty when no line changes."""
    text = source.read(summary).decode("utf-8")
    header = text.partition("\n")[0]
    meta = json.loads(header.split(" ", 2)[2]) if header.startswith("!meta ") else {}
    if meta.get("format") != "cdxj-gzip-1.0" or not meta.get("filename"):
        raise ArchiveError(f"{out}: py-wacz wrote {summary} in a form newsspider does not read: {header!r}")
    blocks_name = posixpath.join(posixpath.dirname(summary), meta["filename"])
    resolved = resolve_zipnum(text, source.read(blocks_name))
    if resolved is None:
        return {}
    return {summary: resolved[0].encode("utf-8"), blocks_name: resolved[1]}


def resolve_zipnum(summary: str, blocks: bytes) -> tuple[str, bytes] | None:
    r"""A ZipNum index (``cdxj-gzip-1.0``: the *summary*, an ``.idx`` file, gives the first key, offset,
    length and digest of each gzip block of sorted CDXJ lines in *blocks*) with 304 revisits resolved
    (:func:`resolve_not_modified`) across blocks: the new summary and blocks, each block holding as
    many lines as before; ``None`` when no line changes.  The index is read a block at a time.

    >>> lines = ['a)/x 20240101000000 {"url": "http://a/x", "status": "200", "digest": "sha1:D"}\n',
    ...          'a)/x 20240202000000 {"url": "http://a/x", "mime": "warc/revisit", "status": "304", '
    ...          '"digest": "sha1:D"}\n']
    >>> summary, blocks = io.StringIO(), io.BytesIO()
    >>> writer = CompressedWriter(summary, blocks, num_lines=1, data_out_name="index.cdx.gz")
    >>> for line in lines:
    ...     writer.write(line)
    >>> new_summary, new_blocks = resolve_zipnum(summary.getvalue(), blocks.getvalue())
    >>> print(new_summary, end="")  # doctest: +ELLIPSIS
    !meta 0 {"format": "cdxj-gzip-1.0", "filename": "index.cdx.gz"}
    a)/x 20240101000000 {"offset": 0, "length": ...}
    a)/x 20240202000000 {"offset": ..., "length": ...}
    >>> print(gzip.decompress(new_blocks).decode(), end="")
    a)/x 20240101000000 {"url": "http://a/x", "status": "200", "digest": "sha1:D"}
    a)/x 20240202000000 {"url": "http://a/x", "status": "200", "digest": "sha1:D"}
    >>> resolve_zipnum(new_summary, new_blocks) is None
    True
    """
    header, *entries = summary.splitlines()
    places = [json.loads(entry[entry.index("{"):]) for entry in entries]

    def block(place: dict[str, Any]) -> list[bytes]:
        data = blocks[place["offset"]:place["offset"] + place["length"]]
        return io.BytesIO(gzip.decompress(data)).readlines()

    def lines() -> Iterator[str]:
        for place in places:
            yield from (line.decode("utf-8") for line in block(place))

    counts = [len(block(place)) for place in places]
    original, feed = itertools.tee(lines())
    pairs = zip(original, resolve_not_modified(feed), strict=True)
    new_summary, new_blocks = io.StringIO(), io.BytesIO()
    writer = CompressedWriter(new_summary, new_blocks, num_lines=0,
                              data_out_name=json.loads(header.split(" ", 2)[2])["filename"],
                              digest_records=all("digest" in place for place in places))
    changed = False
    for count in counts:
        for old, new in itertools.islice(pairs, count):
            changed |= new != old
            writer.write(new)
        writer.flush()
    return (new_summary.getvalue(), new_blocks.getvalue()) if changed else None
