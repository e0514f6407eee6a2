"""A crawl's pending requests on disk, so that its memory does not grow with the site.

A first crawl of a large site finds links faster than it fetches them: at
200,000 articles the requests waiting to be fetched number tens of thousands.
Scrapy keeps them as objects in memory unless the crawl has a ``JOBDIR``
(which newsspider gives only to ``--resume``), and the process keeps the
memory of that peak to its end.  :class:`DiskFrontier` is Scrapy's scheduler
with a disk queue of its own in the data dir (:data:`~newsspider.dataset.layout.FRONTIER_DIR`),
made empty when the crawl opens and removed when it closes: it is scratch
space, not a saved frontier (``--resume`` keeps Scrapy's ``JOBDIR``, used as
before, whenever ``JOBDIR`` is set).

Its queues (:class:`DiskLifoQueue` for requests, :class:`DiskFifoQueue` for
start requests) write each request as one record, ``[length][pickle][length]``,
with ``os.pwrite`` past the last whole record; the end moves only once the
whole record is written.  So a disk that fills up mid-record leaves the queue
as it was: the request that did not fit, and those pushed after it until the
queue's memory part drains, are held in memory (counted:
``newsspider/frontier/in_memory``, one warning), in the order the queue owes
them.  A record that cannot be read back (the file cut short or unreadable
underneath the crawl) stops the crawl with one line: requests were lost, and
a run that lost some is not a finished one.  A data dir where the directory
cannot be made keeps the frontier in memory, with one warning.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import struct
from collections import deque
from pathlib import Path
from typing import Any

from scrapy import Request
from scrapy.core.scheduler import Scheduler
from scrapy.crawler import Crawler
from scrapy.utils.request import request_from_dict

from newsspider.core import stats as keys
from newsspider.core.failures import stop_crawl
from newsspider.dataset.layout import FRONTIER_DIR

__all__ = ["DiskFifoQueue", "DiskFrontier", "DiskLifoQueue"]

logger = logging.getLogger(__name__)

_LENGTH = struct.Struct(">L")


class DiskFrontier(Scheduler):
    """Scrapy's scheduler; without ``JOBDIR``, its disk queue in the data dir's scratch directory."""

    #: the scratch directory this scheduler made (removed on close); None with JOBDIR or in memory
    scratch: Path | None = None

    def __init__(self, dupefilter: Any, jobdir: str | None = None, **kwargs: Any) -> None:
        crawler: Crawler | None = kwargs.get("crawler")
        if jobdir is None and crawler is not None:
            scratch = Path(crawler.settings["NEWSSPIDER_DATA_DIR"], FRONTIER_DIR)
            try:
                shutil.rmtree(scratch, ignore_errors=True)  # left by a crawl that was killed
                scratch.mkdir(parents=True)
            except OSError as exc:
                logger.warning("the pending requests are kept in memory: cannot make %s (%s)",
                               scratch, exc.strerror or exc)
            else:
                self.scratch, jobdir = scratch, str(scratch)
        super().__init__(dupefilter, jobdir, **kwargs)

    def close(self, reason: str) -> Any:
        try:
            return super().close(reason)
        finally:
            if self.scratch is not None:
                shutil.rmtree(self.scratch, ignore_errors=True)


class _DiskQueue:
    """Requests in one file, a record each; what the disk refuses is held in memory (see the module)."""

    lifo = True

    def __init__(self, crawler: Crawler, key: str) -> None:
        self.crawler = crawler
        self.path = Path(key)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        self.head = self.end = 0  # the file's whole records lie between these offsets
        self.on_disk = 0
        #: records the disk refused, in push order; always newer than those on disk
        self.held: deque[bytes] = deque()

    @classmethod
    def from_crawler(cls, crawler: Crawler, key: str) -> _DiskQueue:
        return cls(crawler, key)

    def push(self, request: Request) -> None:
        try:
            data = pickle.dumps(self._as_dict(request), protocol=4)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise ValueError(str(exc)) from exc  # Scheduler: "unserializable", kept in memory
        if self.held:  # held records are newer than those on disk: the order stays the queue's
            self._hold(data)
            return
        record = _LENGTH.pack(len(data)) + data + _LENGTH.pack(len(data))
        try:
            written = 0
            while written < len(record):
                written += os.pwrite(self.fd, record[written:], self.end + written)
        except OSError as exc:
            self._hold(data, exc)
            return
        self.end += len(record)
        self.on_disk += 1

    def _as_dict(self, request: Request) -> dict[str, Any]:
        """What :func:`request_from_dict` takes back: the request with its callback and errback named.

        Scrapy's ``to_dict(spider=...)`` looks each one up among all the spider's members
        (``inspect.getmembers``: 0.4 ms a request); a spider method is found by its own name first.
        """
        spider = self.crawler.spider
        named = {}
        for which in ("callback", "errback"):
            method = getattr(request, which)
            name = getattr(method, "__name__", None)
            func = getattr(method, "__func__", None)
            if not callable(method):
                named[which] = method
            elif func is not None and name and getattr(getattr(spider, name, None), "__func__", None) is func:
                named[which] = name
            else:  # a method of another name, or not the spider's (Scrapy raises: unserializable)
                return request.to_dict(spider=spider)
        return {**request.replace(callback=None, errback=None).to_dict(), **named}

    def _hold(self, data: bytes, exc: OSError | None = None) -> None:
        stats = self.crawler.stats
        if exc is not None and not stats.get_value(keys.FRONTIER_IN_MEMORY):
            logger.warning("the disk refused the queue of pending requests (%s: %s): requests are held in "
                           "memory until it takes them again", self.path, exc.strerror or exc)
        self.held.append(data)
        stats.inc_value(keys.FRONTIER_IN_MEMORY)

    def pop(self) -> Request | None:
        if self.held and self.lifo:
            data = self.held.pop()
        elif self.held and not self.on_disk:
            data = self.held.popleft()
        elif self.on_disk:
            try:
                data = self._read()
            except OSError as exc:
                self.on_disk, self.head, self.end = 0, 0, 0
                stop_crawl(self.crawler, "frontier_lost",
                           f"cannot read back the pending requests from {self.path} ({exc.strerror or exc})")
                return None
        else:
            return None
        return request_from_dict(pickle.loads(data), spider=self.crawler.spider)

    def _read(self) -> bytes:
        """The next whole record off the disk (the last one, or the first one for FIFO)."""
        if self.lifo:
            (size,) = _LENGTH.unpack(self._pread(_LENGTH.size, self.end - _LENGTH.size))
            start = self.end - _LENGTH.size - size
            data = self._pread(size, start)
            self.end = start - _LENGTH.size
        else:
            (size,) = _LENGTH.unpack(self._pread(_LENGTH.size, self.head))
            data = self._pread(size, self.head + _LENGTH.size)
            self.head += size + 2 * _LENGTH.size
        self.on_disk -= 1
        if not self.on_disk:  # empty: the next push starts the file again
            self.head = self.end = 0
        return data

    def _pread(self, size: int, offset: int) -> bytes:
        if offset < 0:
            raise OSError("the file holds less than was written to it")
        data = os.pread(self.fd, size, offset)
        if len(data) != size:
            raise OSError("the file was cut short")
        return data

    def close(self) -> None:
        os.close(self.fd)
        self.path.unlink(missing_ok=True)

    def __len__(self) -> int:
        return self.on_disk + len(self.held)


class DiskLifoQueue(_DiskQueue):
    """Last in, first out (Scrapy's order for requests of one priority)."""

    lifo = True


class DiskFifoQueue(_DiskQueue):
    """First in, first out (Scrapy's order for start requests)."""

    lifo = False
