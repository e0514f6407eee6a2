"""The crawl: the Scrapy components that fetch the site and store what they extract.

The add-on (:mod:`~newsspider.crawl.addon`) registers every component and sets every ``NEWSSPIDER_*``
default; :mod:`~newsspider.run.runner` runs one crawl in this process; the spider itself is in
:mod:`newsspider.spiders` (where Scrapy looks for it).  Every stats key is in
:mod:`~newsspider.core.stats`.
"""
