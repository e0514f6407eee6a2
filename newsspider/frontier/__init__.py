"""Where a crawl's pending requests wait: on disk for one process, on Redis for many workers.

One process (:mod:`.disk`): Scrapy's scheduler with its queues in the data dir's
scratch space, so that a first crawl's memory does not grow with the site.

One frontier for many workers: scrapy-redis's scheduler, queue and dupefilter, with leases.

Plain scrapy-redis pops a request off the shared queue and forgets it: a
worker killed while the request is in flight loses it.  Here a pop moves the
request into a processing hash under a lease (:mod:`.queue`); the worker
renews its leases while it works and releases a lease only when the request
is done: its callback's output is all processed (:class:`.leases.LeaseAck`),
it failed for good (the spider's errback sends
:data:`newsspider.core.signals.request_failed`), or a request derived from it (a
retry, a redirect) has been queued in its place (:mod:`.scheduler`).  Leases
of a dead worker expire and any worker puts their requests back on the queue.

A worker whose queue is empty waits while other workers still hold leases,
so that the crawl ends when the frontier is empty and every worker is idle
(:mod:`.workers`); ``NEWSSPIDER_REDIS_IDLE_TIMEOUT`` bounds the wait.

Only scrapy-redis's Scheduler, PriorityQueue and RFPDupeFilter are used (its
``RedisSpider`` uses ``start_requests``); the scheduler API Scrapy calls is
``open``, ``close``, ``enqueue_request``, ``next_request``,
``has_pending_requests``; the engine is reached through its public API.
"""
