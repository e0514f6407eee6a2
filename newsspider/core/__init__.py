"""The kernel: the vocabulary every package shares, importing nothing else of newsspider.

Stats keys and the run summary read from them (:mod:`~newsspider.core.stats`,
:mod:`~newsspider.core.summary`), signals, request-meta keys (:mod:`~newsspider.core.meta`), failure
reasons and :func:`~newsspider.core.failures.stop_crawl`, the exception root
(:class:`~newsspider.core.errors.NewsspiderError`), the one place Scrapy's engine internals are read
(:mod:`~newsspider.core.engine`), URL redaction (:mod:`~newsspider.core.credentials`), time formats,
the crawl window (``--since``/``--until``), the crawl's scope and the compact set of seen keys.
"""
