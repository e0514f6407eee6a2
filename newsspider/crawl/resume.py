"""``--resume``: the :class:`EndedMarker` extension leaves, next to the frontier a crawl saved in
``<data dir>/job``, how that crawl ended (:func:`newsspider.run.resume.prepare_job_dir` reads it)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from newsspider.dataset.layout import JOB_ENDED

__all__ = ["EndedMarker"]

logger = logging.getLogger(__name__)

class EndedMarker:
    """Extension (with ``JOBDIR`` set): write how the crawl ended next to its saved frontier."""

    def __init__(self, job_dir: str) -> None:
        self.job_dir = job_dir

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EndedMarker:
        if not (job_dir := crawler.settings.get("JOBDIR")):
            raise NotConfigured
        marker = cls(job_dir)
        crawler.signals.connect(marker.spider_closed, signal=signals.spider_closed)
        return marker

    def spider_closed(self, reason: str) -> None:
        Path(self.job_dir, JOB_ENDED).write_text(json.dumps({"reason": reason}))
