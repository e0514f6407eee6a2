"""Writing views of the dataset: one clean file (JSON Lines, CSV, Parquet) and the link graph.

Every output is written to a temporary file beside the target (with the mode
a new file gets: the umask applies) and renamed into place when complete; a
write that fails (a full disk) removes the temporary file and raises
:class:`ExportError` with one line; the temporary file of a writer that was
killed is removed by the next export to the same output (:func:`remove_stale_parts`).
No output may be a file that the crawl or the reader would take as the data
dir's own (a shard, the state, a lock).
"""

from __future__ import annotations

import csv
import fcntl
import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO, Any

from newsspider.core.errors import NewsspiderError
from newsspider.dataset.layout import owned_by_crawl
from newsspider.dataset.reader import REMOVAL_FIELDS, Errors, iter_articles, shard_paths
from newsspider.dataset.storage import encode_record, write_error
from newsspider.extract import site
from newsspider.extract.items import FIELDS

__all__ = ["FORMATS", "ExportError", "Filters", "atomic_output", "export", "graph_edges", "new_part",
           "remove_stale_parts", "write_graph"]

logger = logging.getLogger(__name__)

#: the formats :func:`export` writes, in the order ``dataset export --format`` lists them
FORMATS = ("parquet", "csv", "excel-csv", "xlsx", "jsonl")


class ExportError(NewsspiderError, ValueError):
    """An export that cannot be written (its message says what and where)."""


@dataclass(frozen=True)
class Filters:
    """Which articles an export keeps; ``None`` keeps all.

    >>> f = Filters(since="2024-01-01", category="renquan", tag="人权")
    >>> f.keep({"published_date": "2024-03-01", "category": "renquan/minyun", "tags": ["人权"]})
    True
    >>> f.keep({"published_date": "2023-12-31", "category": "renquan", "tags": ["人权"]})
    False
    >>> f.keep({"published_date": "2024-03-01", "category": "renquanx", "tags": ["人权"]})
    False
    """

    since: str | None = None
    until: str | None = None
    category: str | None = None
    tag: str | None = None

    def keep(self, record: dict[str, Any]) -> bool:
        day = record.get("published_date") or ""
        category = record.get("category") or ""
        return ((self.since is None or day >= self.since)
                and (self.until is None or day <= self.until)
                and (self.category is None or category == self.category
                     or category.startswith(self.category + "/"))
                and (self.tag is None or self.tag in (record.get("tags") or [])))


@contextmanager
def atomic_output(out: Path, dataset: Path, binary: bool) -> Iterator[IO[Any]]:
    """A file that becomes *out* only when the block completes; refuses the data dir's own files."""
    out = out.expanduser()
    resolved = out.resolve()
    try:
        protected = {p.resolve() for p in shard_paths(dataset)}
    except ValueError:
        protected = set()
    data_dir = dataset.resolve() if dataset.is_dir() else dataset.resolve().parent
    if resolved in protected or owned_by_crawl(resolved, data_dir):
        raise ExportError(f"{out}: is a file of the dataset or its crawl; choose another output file")
    if out.is_dir():
        raise ExportError(f"{out}: is a directory")
    remove_stale_parts(out)
    try:
        tmp, fd = new_part(out)
    except OSError as exc:
        raise ExportError(f"{out}: cannot write here ({exc.strerror})") from exc
    try:
        handle: IO[Any] = (os.fdopen(fd, "wb") if binary
                           else os.fdopen(fd, "w", encoding="utf-8", newline=""))
        with handle:
            yield handle
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"{write_error(exc, out)}; nothing was written") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _part_name(out: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(out.name)}\.[0-9a-f]{{8}}\.part")


def new_part(out: Path) -> tuple[Path, int]:
    """A new hidden file beside *out* (``.NAME.<random>.part``), locked (``flock``) for as long as
    this process writes it: the OS releases the lock when the process dies, however it dies."""
    while True:
        tmp = out.parent / f".{out.name}.{secrets.token_hex(4)}.part"
        # 0o666: the mode any new file gets, less the umask (mkstemp would make it 0600)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:  # not removed as stale before it was locked
                return tmp, fd
        except OSError:
            pass
        os.close(fd)


def remove_stale_parts(out: Path) -> list[Path]:
    """Remove the part files of *out* whose writer died (killed mid-export): those no process locks.

    Returns the files removed.  Part files of other outputs, and of writers
    still at work, are left alone.

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> _ = (d / ".a.csv.0123abcd.part").write_text("x"); _ = (d / ".b.csv.0123abcd.part").write_text("x")
    >>> [p.name for p in remove_stale_parts(d / "a.csv")], sorted(p.name for p in d.iterdir())
    (['.a.csv.0123abcd.part'], ['.b.csv.0123abcd.part'])
    """
    removed = []
    name = _part_name(out)
    try:
        candidates = [p for p in out.parent.iterdir() if name.fullmatch(p.name)]
    except OSError:
        return []
    for part in candidates:
        try:
            fd = os.open(part, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while its writer lives
            part.unlink(missing_ok=True)
            removed.append(part)
        except OSError:
            continue
        finally:
            os.close(fd)
    for part in removed:
        logger.info("removed %s, left by an export that did not finish", part)
    return removed


#: a spreadsheet's columns: what a reader looks at first, the long text last
SHEET_COLUMNS = ("article_id", "published_date", "title", "url", "source", "author", "editor", "category",
                 "tags", "summary", "published_at", "image_url", "image_credit", "images", "related_urls",
                 "crawled_at", "removed_at", "removed_how", "version", "content_hash", "warc",
                 "schema_version", "body")
assert sorted(SHEET_COLUMNS) == sorted((*FIELDS, *REMOVAL_FIELDS))
#: the columns that hold a UTC timestamp (a date and time cell in a workbook)
_MOMENTS = ("crawled_at", "removed_at")
#: what joins the items of a list in one cell
LIST_SEPARATOR = "; "


def _cell(value: Any) -> Any:
    """A value as a spreadsheet cell: lists joined with "; " (images by URL), ``None`` empty.

    >>> _cell(["中国", "美国"]), _cell(None), _cell(3), _cell([{"url": "https://x/1.jpg", "alt": None}])
    ('中国; 美国', '', 3, 'https://x/1.jpg')
    >>> _cell({"file": "warc/a.warc.gz", "offset": 10, "length": 5})
    '{"file": "warc/a.warc.gz", "offset": 10, "length": 5}'
    """
    if isinstance(value, list):
        return LIST_SEPARATOR.join(str(v.get("url") or "") if isinstance(v, dict) else str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


#: what makes a spreadsheet take a cell for a formula when it starts one (OWASP's CSV injection list)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """A value as a CSV cell that no spreadsheet runs: text that starts as a formula would gets a
    leading single quote (OWASP's rule for CSV; Excel and LibreOffice show it as text).

    >>> _csv_cell("=1+1"), _csv_cell("@SUM(A1)"), _csv_cell("-1"), _csv_cell("\\tx"), _csv_cell("a = 1")
    ("'=1+1", "'@SUM(A1)", "'-1", "'\\tx", 'a = 1')
    >>> _csv_cell(["+86", "x"]), _csv_cell(3), _csv_cell(None)
    ("'+86; x", 3, '')
    """
    value = _cell(value)
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def _by_date(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for a spreadsheet: oldest first, by publication date, then id (held in memory)."""
    return sorted(records, key=lambda r: (r.get("published_date") or "", int(r["article_id"])))


def _write_jsonl(records: Iterable[dict[str, Any]], handle: IO[bytes]) -> int:
    count = 0
    for record in records:
        handle.write(encode_record(record))
        count += 1
    return count


def _write_csv(records: Iterable[dict[str, Any]], handle: IO[str]) -> int:
    writer = csv.writer(handle)
    writer.writerow(SHEET_COLUMNS)
    count = 0
    for record in _by_date(records):
        writer.writerow([_csv_cell(record.get(name)) for name in SHEET_COLUMNS])
        count += 1
    return count


def _write_excel_csv(records: Iterable[dict[str, Any]], handle: IO[str]) -> int:
    handle.write("\ufeff")  # the byte order mark by which Excel knows the file is UTF-8
    return _write_csv(records, handle)


#: the width of each spreadsheet column, in characters (the others: 16)
COLUMN_WIDTHS = {"article_id": 10, "published_date": 12, "title": 50, "url": 40, "summary": 50,
                 "published_at": 20, "image_url": 30, "images": 30, "related_urls": 30, "crawled_at": 20,
                 "removed_at": 20, "removed_how": 30,
                 "version": 8, "warc": 30, "schema_version": 8, "body": 80}
#: columns whose cells are links (an http(s) URL Excel can follow: at most 2,079 characters)
LINK_COLUMNS = frozenset({"url", "image_url"})
_LINK_LENGTH = 2079
#: Excel opens a worksheet of at most this many links (the rest are written as text)
MAX_LINKS = 65530
#: Excel's first day (its dates start in 1900); an earlier date is written as text
_EXCEL_EPOCH = date(1900, 3, 1)


def _day(text: Any) -> date | None:
    """A ``YYYY-MM-DD`` that an Excel date cell can hold, else None.

    >>> _day("2024-01-02"), _day("1899-12-31"), _day("2024-13-01"), _day(None)
    (datetime.date(2024, 1, 2), None, None, None)
    """
    try:
        day = date.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return day if day >= _EXCEL_EPOCH else None


def _moment(text: Any) -> datetime | None:
    """A UTC ``...Z`` timestamp as Excel's datetime (no time zone: UTC), else None.

    >>> _moment("2024-01-02T03:04:05Z"), _moment("x")
    (datetime.datetime(2024, 1, 2, 3, 4, 5), None)
    """
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment if moment.date() >= _EXCEL_EPOCH else None


def _link(value: Any) -> str | None:
    """*value* when it is a URL a spreadsheet may link to, else None.

    >>> _link("https://x.org/a.html"), _link("javascript:alert(1)"), _link("https://x.org/" + "a" * 3000)
    ('https://x.org/a.html', None, None)
    """
    ok = isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) <= _LINK_LENGTH
    return value if ok else None


def _write_xlsx(records: Iterable[dict[str, Any]], handle: IO[bytes]) -> int:
    """Dates as date cells, ``crawled_at`` a date and time (UTC), URLs as links, everything else from the
    site as text (never a formula), the header row frozen, columns of a readable width."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet("articles")
    sheet.freeze_panes = "A2"
    for number, name in enumerate(SHEET_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = COLUMN_WIDTHS.get(name, 16)
    bold = Font(bold=True)
    header = []
    for name in SHEET_COLUMNS:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    count = links = 0
    for record in _by_date(records):
        row = []
        for name in SHEET_COLUMNS:
            value = record.get(name)
            typed: date | datetime | None = (_day(value) if name == "published_date"
                                            else _moment(value) if name in _MOMENTS and value else None)
            if typed is not None:
                cell = WriteOnlyCell(sheet, value=typed)
                cell.number_format = "yyyy-mm-dd" if name == "published_date" else "yyyy-mm-dd hh:mm:ss"
            else:
                text = _cell(value)
                if isinstance(text, str):  # a cell holds at most 32,767 characters and no control characters
                    text = ILLEGAL_CHARACTERS_RE.sub("", text)[:32767]
                cell = WriteOnlyCell(sheet, value=text)
                if isinstance(text, str):
                    cell.data_type = "s"  # text, never a formula ("=..." would be one)
                    cell.quotePrefix = text.startswith(FORMULA_START)  # and not one once edited either
                    if name in LINK_COLUMNS and links < MAX_LINKS and (target := _link(text)):
                        cell.hyperlink = target
                        cell.style = "Hyperlink"
                        links += 1
            row.append(cell)
        sheet.append(row)
        count += 1
    book.save(handle)
    return count


def arrow_schema() -> Any:
    """The record's types as a pyarrow schema (dates and timestamps typed, lists as lists)."""
    import pyarrow as pa

    types = {
        "published_date": pa.date32(),
        "crawled_at": pa.timestamp("ms", tz="UTC"),  # Parquet has no seconds unit
        "removed_at": pa.timestamp("ms", tz="UTC"),
        "tags": pa.list_(pa.string()),
        "related_urls": pa.list_(pa.string()),
        "images": pa.list_(pa.struct([("url", pa.string()), ("alt", pa.string()), ("caption", pa.string())])),
        "warc": pa.struct([("file", pa.string()), ("offset", pa.int64()), ("length", pa.int64()),
                           ("record_id", pa.string())]),
        "version": pa.int32(),
        "schema_version": pa.int32(),
    }
    return pa.schema([pa.field(name, types.get(name, pa.string())) for name in (*FIELDS, *REMOVAL_FIELDS)])


def _write_parquet(records: Iterable[dict[str, Any]], handle: IO[bytes]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def typed(record: dict[str, Any]) -> dict[str, Any]:
        row = {name: record.get(name) for name in (*FIELDS, *REMOVAL_FIELDS)}
        row["published_date"] = date.fromisoformat(row["published_date"]) if row["published_date"] else None
        for name in _MOMENTS:
            if text := row[name]:
                row[name] = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        return row

    rows = [typed(r) for r in records]
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema()), handle)
    return len(rows)


WRITERS: dict[str, tuple[bool, Callable[[Iterable[dict[str, Any]], Any], int]]] = {
    "jsonl": (True, _write_jsonl),
    "csv": (False, _write_csv),
    "excel-csv": (False, _write_excel_csv),
    "xlsx": (True, _write_xlsx),
    "parquet": (True, _write_parquet),
}


def export(dataset: str | Path, out: str | Path, fmt: str, filters: Filters = Filters(),
           errors: Errors = "raise") -> int:
    """Write the latest state of each article that *filters* keeps to *out* (its newest version, with
    ``removed_at`` and ``removed_how``: :data:`~newsspider.dataset.reader.REMOVAL_FIELDS`); return the count.

    A bad line raises :class:`~newsspider.dataset.reader.DatasetError` (and nothing is
    written), or is skipped with a warning when ``errors="skip"``.
    """
    if fmt not in WRITERS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    binary, writer = WRITERS[fmt]
    records = (r for r in iter_articles(dataset, errors=errors, removals=True) if filters.keep(r))
    with atomic_output(Path(out), Path(dataset), binary) as handle:
        return writer(records, handle)


def graph_edges(records: Iterable[dict[str, Any]]) -> Iterator[tuple[str, str, str]]:
    """(source id, target, kind) edges: ``related`` to an article id, ``tag`` to a tag name.

    >>> list(graph_edges([{"article_id": "1", "tags": ["中国"],
    ...     "related_urls": ["https://x.org/bnews/itnews/20240101/2.html", "https://x.org/?p=3",
    ...                      "https://x.org/elsewhere"]}]))
    [('1', '2', 'related'), ('1', '3', 'related'), ('1', '中国', 'tag')]
    """
    for record in records:
        source = str(record["article_id"])
        for url in record.get("related_urls") or []:
            parts = site.article_parts(url)
            target = parts[0] if parts else site.shortlink_id(url)
            if target:
                yield source, target, "related"
        for tag in record.get("tags") or []:
            yield source, tag, "tag"


def write_graph(dataset: str | Path, out: str | Path, errors: Errors = "raise") -> int:
    """Write the link graph as a CSV edge list (source,target,kind); return the number of edges."""
    with atomic_output(Path(out), Path(dataset), binary=False) as handle:
        writer = csv.writer(handle)
        writer.writerow(("source", "target", "kind"))
        count = 0
        for edge in graph_edges(iter_articles(dataset, errors=errors)):
            writer.writerow(edge)
            count += 1
    return count
