"""The crawl's own Scrapy components, and the add-on that puts every component together.

The add-on (:mod:`~newsspider.crawl.addon`) registers every component (these, and those of
:mod:`newsspider.access`, :mod:`newsspider.archive`, :mod:`newsspider.frontier`,
:mod:`newsspider.monitoring`) and sets every ``NEWSSPIDER_*`` default: it is the one module of a
component package that imports the others. Here too: the pipelines, the downloader and spider
middlewares, the progress and summary extensions, a raising callback as one failed page
(:mod:`~newsspider.crawl.failures`), and the ``--resume`` marker. :mod:`newsspider.run.runner` runs one
crawl in this process; the spider itself is in :mod:`newsspider.spiders` (where Scrapy looks for it).
Every stats key is in :mod:`~newsspider.core.stats`, every request.meta key in
:mod:`~newsspider.core.meta`.
"""
