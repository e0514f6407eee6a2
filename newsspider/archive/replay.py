"""Re-extraction from the web archive: today's extraction and pipelines over archived pages.

``newsspider reextract`` runs a crawl whose pages come from the WARC files,
not the network: :func:`archived_articles` lists the newest capture of each
article page (status 200), :func:`read_articles` reads a batch of them back
and extracts each as the crawl does (:func:`~newsspider.extract.loaders.page_selector`
and :func:`~newsspider.extract.loaders.load_article`, the record pointing at its
capture), and the ``reextract`` spider hands the records to the usual
validation and storage.  Nothing is requested, so nothing goes through the
scheduler or the downloader: what is left is the work itself, which
:class:`Readers` spreads over worker processes (``NEWSSPIDER_REEXTRACT_JOBS``,
one per CPU by default), in archive order.  :class:`Reextracted` takes the
deduplicating pipeline's place: a record whose extracted fields are the same
as the stored version's is dropped (``newsspider/unchanged``); one that
differs is stored as the next version, as ``--refresh`` does, so a changed
selector changes exactly the fields it reads.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.http import HtmlResponse

from newsspider.archive.capture import META, point_at
from newsspider.archive.reader import (
    MAX_BODY,
    ArchiveError,
    Capture,
    archived_page,
    latest_captures,
    warc_path,
)
from newsspider.core import stats as keys
from newsspider.core.failures import failure_reason
from newsspider.dataset.layout import WARC_DIR
from newsspider.dataset.reader import display_path, iter_articles
from newsspider.extract import site
from newsspider.extract.items import Article, as_record
from newsspider.extract.loaders import Problems, load_article, page_selector

__all__ = ["BATCH", "WORKERS_FROM", "ReadPage", "Readers", "Reextracted", "archived_articles", "default_jobs",
           "die_with", "extracted_digest", "read_articles", "replayed_response", "share_archive"]

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
#: archived pages a worker process reads per task
BATCH = 25
#: archived pages from which ``NEWSSPIDER_REEXTRACT_JOBS=0`` starts worker processes
WORKERS_FROM = 1000
#: what re-extraction does not compare: when and where, not what
_VOLATILE = frozenset({"crawled_at", "warc", "version", "schema_version"})
# Headers that described the body as it was sent; the replayed body is decoded.
_SENT_AS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def archived_articles(data_dir: Path) -> list[Capture]:
    """The newest archived capture (status 200, HTML) of each article page, in archive order.

    Raises :class:`ArchiveError` when the data dir has no WARC files or one
    cannot be read; a file cut short is read up to the record it was cut in.
    """
    def article(url: str) -> bool:
        return site.classify(url) is site.Kind.ARTICLE

    captures = latest_captures(data_dir, article, html_only=True).values()
    return sorted(captures, key=lambda c: (c.pointer["file"], c.pointer["offset"]))


def share_archive(source: Path, data_dir: Path, captures: Sequence[Capture]) -> None:
    """Put the WARC files of *source* that *captures* are in into *data_dir*'s own ``warc/``, by the
    same names, so that the records re-extracted into *data_dir* point into its own archive.

    Each file is hard-linked (no space taken); across filesystems it is
    copied (whole, then renamed into place), with a warning.  A file there
    already (an earlier run's link or copy) is kept, or copied again when the
    source's has grown; a different file of the same name raises
    :class:`ArchiveError`.
    """
    if source.resolve() == data_dir.resolve():
        return
    (data_dir / WARC_DIR).mkdir(parents=True, exist_ok=True)
    copied = []
    for name in sorted({c.pointer["file"] for c in captures}):
        original, shared = warc_path(source, name), data_dir / name
        try:
            if shared.exists():
                if os.path.samefile(original, shared) or shared.stat().st_size == original.stat().st_size:
                    continue
                if not _starts(original, shared):
                    raise ArchiveError(f"{display_path(shared)}: another WARC file of that name is there; "
                                       f"re-extract {display_path(source)} into another directory")
            try:
                os.link(original, shared)
                continue
            except OSError:  # another filesystem, or one without hard links: a copy
                copy = shared.with_name(f".{shared.name}.part")  # one a killed copy left is copied over
                shutil.copyfile(original, copy)
                os.replace(copy, shared)
                copied.append(original.stat().st_size)
        except OSError as exc:
            raise ArchiveError(f"{display_path(shared)}: cannot put {display_path(source / name)} there "
                               f"({exc.strerror or exc})") from exc
    if copied:
        logger.warning("copied %d WARC files (%d MB) into %s: %s is on another filesystem (no hard links)",
                       len(copied), sum(copied) // 2**20, display_path(data_dir / WARC_DIR),
                       display_path(source))


def _starts(whole: Path, part: Path) -> bool:
    """Whether *part* is the start of *whole* (a copy made before *whole* grew), by its first 64 KiB."""
    if part.stat().st_size > whole.stat().st_size:
        return False
    with whole.open("rb") as a, part.open("rb") as b:
        head = b.read(65536)
        return a.read(len(head)) == head


def replayed_response(source: Path, data_dir: Path, capture: Capture, max_size: int = MAX_BODY
                      ) -> HtmlResponse:
    """The archived response of *capture* (in *source*), as the crawl received it.

    Its request's meta holds the pointer to the record: the same file name,
    in *data_dir*'s own ``warc/`` (the dataset being written may be in
    another directory: :func:`share_archive` puts the file there).
    Raises :class:`ArchiveError` when the record cannot be read, and
    :class:`~newsspider.archive.reader.BodyTooLarge` when its body decodes to
    more than *max_size* bytes (the crawl's DOWNLOAD_MAXSIZE).
    """
    page = archived_page(source, capture.pointer, max_size)
    headers = [(k, v) for k, v in page.headers if k.lower() not in _SENT_AS]
    request = Request(page.url, meta={META: {**capture.pointer, "date": page.date}})
    return HtmlResponse(page.url, status=int(page.status_line.split()[1]), body=page.body,
                        headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
                        request=request)


@dataclass
class ReadPage:
    """One archived page read again: its record, or why there is none (``failure``, ``detail``)."""

    url: str
    article: Article | None
    problems: Problems
    failure: str = ""
    detail: str = ""
    #: the extraction error's traceback, for the debug log
    trace: str = ""


def read_articles(source: Path, data_dir: Path, captures: Sequence[Capture], max_size: int = MAX_BODY
                  ) -> list[ReadPage]:
    """Read and extract the archived article pages *captures*: the work of a worker process.

    A record that cannot be read is one failed page (``archive_error``), one
    whose body decodes to more than *max_size* bytes another (``too_large``,
    as the crawl refuses it), an extraction that raises another
    (``parse_error``); the rest go on.
    """
    pages = []
    for capture in captures:
        problems = Problems()
        try:
            response = replayed_response(source, data_dir, capture, max_size)
        except ArchiveError as exc:
            pages.append(ReadPage(capture.url, None, problems, failure_reason(exc), f": {exc}"))
            continue
        try:
            article = load_article(response, page_selector(response, problems), problems=problems)
        except Exception as exc:  # one bad page, never the run: counted as the crawl counts it
            detail = f": {type(exc).__name__}: {exc}".splitlines()[0]
            trace = traceback.format_exc()
            pages.append(ReadPage(response.url, None, problems, "parse_error", detail, trace))
            continue
        pages.append(ReadPage(response.url, point_at(article, response.meta[META]), problems))
    return pages


def die_with(parent: int) -> None:
    """Worker initializer: end this worker process when *parent*, the process that started it, ends,
    however it ends (SIGKILLed by the out-of-memory killer, say): a worker is never left running.

    On Linux the kernel sends the worker SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``);
    elsewhere a thread checks the parent every second.
    """
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    else:
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
    if os.getppid() != parent:  # it ended before this worker could ask to be told
        os._exit(1)


def default_jobs(pages: int) -> int:
    """One worker process per CPU this process may use, for an archive worth starting them for.

    Starting a worker costs about half a second (it loads Scrapy and the
    extraction); below :data:`WORKERS_FROM` pages one process is done sooner.

    >>> default_jobs(40)
    1
    """
    if pages < WORKERS_FROM:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Readers:
    """Worker processes that read archived pages (:func:`read_articles`), handed back in archive order.

    With one job (or one batch to read) the pages are read in this process.
    Workers are started afresh (``spawn``), not forked from a running crawl.
    A worker that dies makes :meth:`pages` raise ``BrokenProcessPool``; the
    workers die with this process (:func:`die_with`).
    """

    def __init__(self, source: Path, data_dir: Path, jobs: int, max_size: int = MAX_BODY) -> None:
        self.source = source
        self.data_dir = data_dir
        self.jobs = jobs
        #: the largest body read, decoded (the crawl's DOWNLOAD_MAXSIZE)
        self.max_size = max_size

    async def pages(self, captures: Sequence[Capture]) -> AsyncIterator[ReadPage]:
        batches = [captures[i:i + BATCH] for i in range(0, len(captures), BATCH)]
        jobs = min(self.jobs, len(batches))
        logger.info("reading %d archived pages %s", len(captures),
                    f"in {jobs} worker processes" if jobs > 1 else "in this process")
        if jobs <= 1:
            for batch in batches:
                for page in read_articles(self.source, self.data_dir, batch, self.max_size):
                    yield page
            return
        loop = asyncio.get_running_loop()
        # each worker ends with this process, however it ends (die_with); started from this thread, which
        # lives as long as the process (the kernel's parent-death signal follows the starting thread)
        pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=die_with, initargs=(os.getpid(),))
        pending: deque[asyncio.Future[list[ReadPage]]] = deque()
        try:
            for batch in batches:
                # a few batches ahead of the pipelines per worker, not the whole archive in memory
                pending.append(loop.run_in_executor(pool, read_articles, self.source, self.data_dir, batch,
                                                    self.max_size))
                if len(pending) >= 3 * jobs:
                    for page in await pending.popleft():
                        yield page
            while pending:
                for page in await pending.popleft():
                    yield page
        finally:
            for future in pending:  # the crawl stopped, or the pool broke: nothing more is wanted
                if not future.cancel() and not future.cancelled():
                    future.exception()  # retrieved: not logged as never retrieved
            pool.shutdown(wait=True, cancel_futures=True)


def extracted_digest(record: dict[str, Any]) -> str:
    """A digest of what extraction took from a page (not when, where, or which version).

    >>> a = {"title": "标题", "body": "正文", "crawled_at": "2024-01-01T00:00:00Z", "version": 1}
    >>> extracted_digest(a) == extracted_digest({**a, "crawled_at": "2025-01-01T00:00:00Z", "version": 3})
    True
    >>> extracted_digest(a) == extracted_digest({**a, "body": "正文。"})
    False
    """
    fields = {k: v for k, v in record.items() if k not in _VOLATILE}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class Reextracted:
    """Item pipeline (in place of the deduplicating one): store what re-extraction changed.

    Compares each record with the newest stored version of its article in
    the dataset being written: the same extracted fields are dropped as
    ``unchanged``; different ones are stored as the next version.
    """

    def __init__(self, crawler: Crawler, stored: dict[str, tuple[int, str]]) -> None:
        self.stats = crawler.stats
        self.stored = stored

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Reextracted:
        if not crawler.settings.get("NEWSSPIDER_REEXTRACT_FROM"):
            raise NotConfigured
        data_dir = Path(crawler.settings.get("NEWSSPIDER_DATA_DIR"))
        stored = {r["article_id"]: (int(r["version"]), extracted_digest(r))
                  for r in iter_articles(data_dir, errors="skip")}
        return cls(crawler, stored)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        article_id = adapter["article_id"]
        version, digest = self.stored.get(article_id, (0, ""))
        new_digest = extracted_digest(as_record(item))
        if new_digest == digest:
            self.stats.inc_value(keys.UNCHANGED)
            raise DropItem(f"article {article_id} is unchanged", log_level="DEBUG")
        if version:
            adapter["version"] = version + 1
            self.stats.inc_value(keys.UPDATED)
        self.stored[article_id] = (version + 1, new_digest)
        return item
