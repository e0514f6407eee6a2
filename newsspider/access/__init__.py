"""Reaching the site: proxies (:mod:`~newsspider.access.proxies`), bot challenges recognised
(:mod:`~newsspider.access.challenges`, pure) and passed (:mod:`~newsspider.access.clearance`, with the
headless browser of :mod:`~newsspider.access.browser`), a browser's TLS fingerprint
(:mod:`~newsspider.access.impersonate`), every download's deadlines (:mod:`~newsspider.access.deadlines`)
and the download handler that uses them (:mod:`~newsspider.access.handler`). Imports only the kernel."""
