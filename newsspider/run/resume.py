"""``--resume``: Scrapy's ``JOBDIR`` in the data dir, trusted only when the crawl that left it stopped.

:func:`prepare_job_dir` decides, before a crawl, whether the frontier saved
in ``<data dir>/job`` is continued; the :class:`~newsspider.crawl.resume.EndedMarker` extension leaves
the marker it reads: how the crawl that saved the frontier ended.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from newsspider.dataset.layout import JOB_DIR, JOB_ENDED

__all__ = ["prepare_job_dir"]

logger = logging.getLogger(__name__)


def prepare_job_dir(data_dir: Path, resume: bool) -> Path | None:
    """The ``JOBDIR`` for a crawl into *data_dir*: ``None`` unless *resume*.

    A frontier saved by a crawl that was stopped (Ctrl-C, SIGTERM, a close
    condition) is continued.  One left by a crawl that finished, or that was
    killed before it could save its frontier, is discarded: the crawl starts
    over, and the state keeps it from fetching stored articles again.
    """
    job = data_dir / JOB_DIR
    marker = job / JOB_ENDED
    if not resume:
        if marker.exists() and json.loads(marker.read_text()).get("reason") != "finished":
            logger.warning("%s holds the frontier of a stopped crawl; --resume continues it", job)
        return None
    if job.exists():
        reason = json.loads(marker.read_text()).get("reason") if marker.exists() else None
        if reason is None:
            logger.warning("%s was left by a crawl that was killed before it saved its frontier; "
                           "starting over (stored articles are not fetched again)", job)
            shutil.rmtree(job)
        elif reason == "finished":
            shutil.rmtree(job)
        else:
            logger.warning("resuming the frontier saved in %s (the crawl ended: %s)", job, reason)
            marker.unlink()
    return job
