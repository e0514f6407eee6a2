"""newsspider's own Scrapy signal (connect with ``crawler.signals.connect``).

``request_failed(request, failure)``: a request failed for good (its
download, or robots.txt, or a filter stopped it) and its errback has counted
it.  Requests that fail this way never reach the spider middlewares, so a
component that tracks requests until they are done (the distributed
frontier's leases) learns of them here.
"""

request_failed = object()
