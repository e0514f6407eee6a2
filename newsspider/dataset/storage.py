"""Writing the dataset: whole lines appended to a JSON Lines file, never rewritten.

Each record is serialised first and then written with a single ``write`` on a
file opened in append mode, so a crawl killed at any moment leaves whole
lines only.  A file whose last line was cut short by something else is left
as it is: new records go to a continuation shard beside it, which the crawl's
state remembers so that later crawls append to the same one.

A write that fails (a full disk, an I/O error) is undone: the file is cut back
to its last whole line (our own append, not the user's data) and
:class:`StorageError` says what failed and where.

Only one crawl may use a data dir at a time: :class:`DataDirLock` is an OS
file lock (``flock``), released by the OS when a process dies.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from newsspider.core.errors import NewsspiderError
from newsspider.core.time import utc_stamp
from newsspider.dataset.layout import DATASET_FILE, LOCK_FILE, RESERVE_FILE

__all__ = ["AppendFile", "DataDirError", "DataDirLock", "DataDirLocked", "JsonLinesWriter",
           "SpaceReserve", "StorageError", "continuation", "encode_record", "prepare_data_dir",
           "release_reserve", "write_error"]

logger = logging.getLogger(__name__)


class DataDirError(NewsspiderError, OSError):
    """The data directory cannot be used (its message says what and where)."""


class StorageError(NewsspiderError, OSError):
    """A write to the dataset or the crawl's state failed (its message says what and where)."""

    #: the reason the crawl closes with when this stops it
    reason = "storage_error"


def write_error(exc: OSError, path: str | Path) -> str:
    """One line for a failed write: what failed, and where.

    >>> import errno
    >>> write_error(OSError(errno.ENOSPC, "No space left on device"), "data/articles.jsonl")
    'no space left on device writing data/articles.jsonl'
    """
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{reason[:1].lower()}{reason[1:]} writing {path}"


def prepare_data_dir(path: str | Path) -> Path:
    """Create *path* if needed and check that it is a writable directory.

    >>> import tempfile; d = tempfile.mkdtemp()
    >>> prepare_data_dir(d + "/data").is_dir()
    True
    >>> _ = open(d + "/file", "w")
    >>> prepare_data_dir(d + "/file")
    Traceback (most recent call last):
    ...
    newsspider.dataset.storage.DataDirError: data dir .../file: exists and is not a directory
    >>> prepare_data_dir(d + "/file/data")
    Traceback (most recent call last):
    ...
    newsspider.dataset.storage.DataDirError: data dir .../file/data: cannot create it (Not a directory)
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise DataDirError(f"data dir {path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirError(f"data dir {path}: cannot create it ({exc.strerror or exc})") from exc
    probe = path / f".newsspider-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise DataDirError(f"data dir {path}: not writable ({exc.strerror or exc})") from exc
    return path


def encode_record(record: dict[str, Any]) -> bytes:
    """One record as one UTF-8 JSON line (no ``\\u`` escapes for Chinese).

    >>> encode_record({"title": "禁闻", "tags": ["中国"]})
    b'{"title":"\\xe7\\xa6\\x81\\xe9\\x97\\xbb","tags":["\\xe4\\xb8\\xad\\xe5\\x9b\\xbd"]}\\n'
    """
    # "replace": a lone surrogate (never valid UTF-8) cannot make a line unwritable
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace") + b"\n"


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return True
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


class AppendFile:
    """A file that only grows: each :meth:`append` is one ``write``, undone if it fails.

    Neither the dataset nor the web archive is ever rewritten: a failed
    append (a full disk, an I/O error) cuts the file back to its size before
    it (our own bytes, not the user's data) and raises :class:`StorageError`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataDirError(f"{self.path}: cannot open for appending ({exc.strerror})") from exc
        #: the file's size in bytes, kept up to date as data is appended
        self.size = os.fstat(self._fd).st_size

    def append(self, data: bytes) -> int:
        """Append *data* whole; return the offset it starts at."""
        if self._fd is None:
            raise ValueError(f"{self.path}: writer is closed")
        offset = self.size
        try:
            written = os.write(self._fd, data)
            while written < len(data):  # a short write (a disk filling up): finish it
                written += os.write(self._fd, data[written:])
        except OSError as exc:
            self._undo()
            raise StorageError(write_error(exc, self.path)) from exc
        self.size += len(data)
        return offset

    def _undo(self) -> None:
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self.size)
        except OSError as exc:
            logger.error("%s: could not remove a partly written record (%s); readers will skip it",
                         self.path, exc.strerror or exc)

    def close(self) -> None:
        """Flush to disk and close; a flush that fails is logged (each append was written whole)."""
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                logger.error("%s", write_error(exc, self.path))
            os.close(self._fd)
            self._fd = None


def continuation(path: Path, suffix: str) -> Path:
    """A new file beside *path* for what would have been appended to it (its tail is damaged).

    >>> continuation(Path("data/articles.jsonl"), ".jsonl").name.startswith("articles-")
    True
    """
    stamp = utc_stamp()
    return path.with_name(f"{path.name[: -len(suffix)]}-{stamp}{suffix}")


class JsonLinesWriter:
    """Appends whole records to ``<data dir>/<name>`` and knows how many it wrote; a file that is not
    there yet is made by the first record (a crawl that stores nothing leaves no empty file).

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> writer = JsonLinesWriter(d); writer.close(); writer.path.exists(), writer.size
    (False, 0)
    >>> writer = JsonLinesWriter(d); writer.write({"a": 1}); writer.close()
    >>> writer.path.read_text().splitlines()
    ['{"a":1}']
    """

    def __init__(self, data_dir: str | Path, name: str = DATASET_FILE) -> None:
        self.data_dir = prepare_data_dir(data_dir)
        self.path = self.data_dir / name
        if self.path.exists() and not _ends_with_newline(self.path):
            damaged, self.path = self.path, continuation(self.path, ".jsonl")
            logger.warning("%s: the last line is incomplete; leaving the file as it is and "
                           "writing new records to %s", damaged, self.path.name)
        self.written = 0
        # a file that is there is opened now: one that cannot be appended to fails the crawl's start
        self._file = AppendFile(self.path) if self.path.exists() else None

    @property
    def size(self) -> int:
        """The file's size in bytes, kept up to date as lines are appended."""
        return self._file.size if self._file is not None else 0

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as one line, in one write.

        Raises :class:`StorageError` when the line cannot be written whole;
        the file is then cut back to the line before.
        """
        if self._file is None:
            try:
                self._file = AppendFile(self.path)
            except DataDirError as exc:  # made now: a write that failed
                raise StorageError(str(exc)) from exc
        self._file.append(encode_record(record))
        self.written += 1

    def close(self) -> None:
        """Flush to disk and close; a flush that fails is logged (each line was written whole)."""
        if self._file is not None:
            self._file.close()


class SpaceReserve:
    """A few kilobytes set aside in the data dir while a crawl runs, given back when a write fails.

    A disk that fills up during a crawl would leave no room to commit the
    state or record how the run ended; releasing the reserve makes that room.
    """

    def __init__(self, data_dir: str | Path, size: int = 32 * 1024) -> None:
        self.path = Path(data_dir) / RESERVE_FILE
        try:
            with self.path.open("wb") as handle:
                os.posix_fallocate(handle.fileno(), 0, size)
        except OSError:  # no room even for this: nothing to give back later
            self.path.unlink(missing_ok=True)

    def release(self) -> None:
        release_reserve(self.path.parent)


def release_reserve(data_dir: str | Path) -> None:
    """Give back the data dir's reserve (any writer whose write failed does: the run's end must fit)."""
    (Path(data_dir) / RESERVE_FILE).unlink(missing_ok=True)




class DataDirLocked(NewsspiderError, RuntimeError):
    """Another crawl is using the data dir."""


class DataDirLock:
    """An exclusive lock on a data dir (``flock``, released by the OS when a process dies).

    *name* is the lock file; *busy* says in the error what holds it.
    """

    def __init__(self, data_dir: str | Path, name: str = LOCK_FILE,
                 busy: str = "is in use by another crawl") -> None:
        self.path = Path(data_dir) / name
        self.busy = busy
        self._lock = FileLock(self.path, timeout=0, is_singleton=False)

    def acquire(self) -> DataDirLock:
        try:
            self._lock.acquire()
        except Timeout:
            raise DataDirLocked(
                f"data dir {self.path.parent} {self.busy} (lock {self.path})"
            ) from None
        return self

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
