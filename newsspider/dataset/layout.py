"""What a data dir holds, by name: the one place every part of newsspider finds its files there.

::

    DATA_DIR/
        articles.jsonl               the dataset (a shard per worker in a distributed crawl:
        articles-<worker>.jsonl      articles-<worker>.jsonl)
        removals.jsonl               articles the site removed, an event a line (dataset.removals;
        removals-<worker>.jsonl      one per worker, as the shards)
        state.sqlite3                the crawl's memory: what earlier runs stored, the run history
        warc/                        the web archive, a WARC file per crawl process
        evidence/                    each run's manifest of its WARC files, and their timestamps
        job/                         the frontier of a crawl that can be resumed (--resume)
        logs/                        the scheduler's log of each crawl
        .newsspider.lock             held by the crawl that writes the data dir
        .newsspider-schedule.lock    held by the scheduler
        .newsspider-reserve          disk space held back to end a crawl cleanly on a full disk

Nothing else newsspider writes there unasked; what a user writes there (an
export, a database, a report) must not take one of these names.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

__all__ = [
    "DATASET_FILE",
    "EVIDENCE_DIR",
    "FRONTIER_DIR",
    "JOB_DIR",
    "JOB_ENDED",
    "LOCK_FILE",
    "LOG_DIR",
    "REMOVALS_FILE",
    "REMOVALS_GLOB",
    "RESERVE_FILE",
    "SCHEDULER_LOCK",
    "SHARD_GLOB",
    "STATE_FILE",
    "WARC_DIR",
    "owned_by_crawl",
]

DATASET_FILE = "articles.jsonl"  # a single process's shard
SHARD_GLOB = "articles*.jsonl"
REMOVALS_FILE = "removals.jsonl"  # a single process's log of removed articles (newsspider.dataset.removals)
REMOVALS_GLOB = "removals*.jsonl"
STATE_FILE = "state.sqlite3"
WARC_DIR = "warc"
EVIDENCE_DIR = "evidence"  # run manifests and their timestamp tokens (archive.evidence)
JOB_DIR = "job"
JOB_ENDED = "newsspider-ended.json"  # in JOB_DIR: how the crawl that saved it ended (crawl.resume)
FRONTIER_DIR = ".newsspider-frontier"  # a crawl's pending requests while it runs (newsspider.frontier.disk)
LOG_DIR = "logs"
LOCK_FILE = ".newsspider.lock"
SCHEDULER_LOCK = ".newsspider-schedule.lock"
RESERVE_FILE = ".newsspider-reserve"

# the memory's journal and WAL files beside it, every lock and probe file
_OWN_NAMES = (SHARD_GLOB, REMOVALS_GLOB, STATE_FILE + "*", ".newsspider*")
_OWN_DIRS = (FRONTIER_DIR, JOB_DIR, LOG_DIR, WARC_DIR, EVIDENCE_DIR)


def owned_by_crawl(out: Path, data_dir: Path) -> bool:
    """Whether writing *out* would put a file among those the crawl or the reader of *data_dir* own.

    >>> d = Path("/data")
    >>> [owned_by_crawl(Path(p), d) for p in ("/data/articles-x.jsonl", "/data/state.sqlite3",
    ...  "/data/job/requests.queue", "/data/report.html", "/elsewhere/articles.jsonl")]
    [True, True, True, False, False]
    """
    try:
        relative = out.relative_to(data_dir)
    except ValueError:
        return False
    parts = relative.parts
    if len(parts) > 1:
        return parts[0] in _OWN_DIRS
    return any(fnmatch.fnmatchcase(relative.name, pattern) for pattern in _OWN_NAMES)
