"""newsspider's own Scrapy signals (connect with ``crawler.signals.connect``).

``request_failed(request, failure)``: a request failed for good (its
download, or robots.txt, or a filter stopped it) and its errback has counted
it.  Requests that fail this way never reach the spider middlewares, so a
component that tracks requests until they are done (the distributed
frontier's leases) learns of them here.

``crawl_stopping(reason, message)``: the crawl is stopping on an error it
cannot go on after (:func:`newsspider.crawl.failures.stop_crawl`: a failed write,
Redis gone); sent once.  Components that write (the dataset, the archive)
write nothing more.
"""

request_failed = object()
crawl_stopping = object()
