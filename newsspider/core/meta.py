"""Every ``request.meta`` key newsspider reads or writes, named once; and the retry that passes the
duplicate filter (Scrapy is imported only for the annotations)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response

__all__ = ["ALLOW_OFFSITE", "ARTICLE_ID", "CHALLENGED", "CLEARANCE", "DONT_FILTER", "DOWNLOAD_LATENCY",
           "DOWNLOAD_TIMEOUT", "HANDED", "HANDLE_HTTPSTATUS_ALL", "HANDLE_HTTPSTATUS_LIST", "LEASE",
           "LISTING_ROOT", "MAX_RETRY_TIMES", "PROXY", "PROXY_RETRIES", "PROXY_URL", "REDIRECT_URLS",
           "RETRY_TIMES", "SITEMAP", "START", "VALIDATORS", "WARC", "WARC_SOURCE", "refilter_redirect",
           "retry_past_filter"]

# newsspider's own keys
#: a start request (kept through redirects and retries)
START = "newsspider_start"
#: a request for an article the sitemaps listed: its page leads nowhere (newsspider.spiders.sitemaps)
SITEMAP = "newsspider_sitemap"
#: the article id a request leads to (SkipStored drops it when the memory has it stored)
ARTICLE_ID = "article_id"
#: the start listing a listing page was reached from
LISTING_ROOT = "newsspider_listing_root"
#: the proxy (its URL, credentials included) a request was routed through by newsspider
PROXY_URL = "newsspider_proxy"
#: how often a request was retried through another proxy
PROXY_RETRIES = "newsspider_proxy_retries"
#: a retried request's own ``dont_filter``, for the redirect it may answer with (:func:`retry_past_filter`)
DONT_FILTER = "newsspider_dont_filter"
#: the clearance a request was sent with
CLEARANCE = "newsspider_clearance"
#: how often a request was challenged after a clearance
CHALLENGED = "newsspider_challenged"
#: the lease a request was popped from the Redis frontier under
LEASE = "newsspider_lease"
#: a request handed over from another worker's lease
HANDED = "newsspider_handed"
#: where a response is in the web archive
WARC = "newsspider_warc"
#: the archived response whose body a response is (its own, or the earlier one a revisit refers to):
#: ``record_id``, ``date``, ``url``, ``digest``
WARC_SOURCE = "newsspider_warc_source"
#: the stored validators a conditional request was sent with (newsspider.crawl.validators)
VALIDATORS = "newsspider_validators"

# Scrapy's keys newsspider reads or sets
PROXY = "proxy"
REDIRECT_URLS = "redirect_urls"
ALLOW_OFFSITE = "allow_offsite"
HANDLE_HTTPSTATUS_LIST = "handle_httpstatus_list"
HANDLE_HTTPSTATUS_ALL = "handle_httpstatus_all"
RETRY_TIMES = "retry_times"
MAX_RETRY_TIMES = "max_retry_times"
DOWNLOAD_LATENCY = "download_latency"
DOWNLOAD_TIMEOUT = "download_timeout"


def retry_past_filter(request: Request) -> Request:
    """*request* made again past the duplicate filter (which has its URL already), its own
    ``dont_filter`` kept for :func:`refilter_redirect`.

    >>> from scrapy import Request
    >>> retry = retry_past_filter(Request("http://a/1"))
    >>> retry.dont_filter, retry.meta[DONT_FILTER], retry_past_filter(retry).meta[DONT_FILTER]
    (True, False, False)
    """
    retry = request.replace(dont_filter=True)
    retry.meta.setdefault(DONT_FILTER, request.dont_filter)
    return retry


def refilter_redirect(request: Request, response: Response) -> None:
    """A redirect answered to a retry made by :func:`retry_past_filter` passes the duplicate filter as
    the request it retried would have (a shortlink to an article fetched already is not fetched again).

    >>> from scrapy import Request
    >>> from scrapy.http import Response
    >>> retry = retry_past_filter(Request("http://a/1"))
    >>> refilter_redirect(retry, Response("http://a/1", status=301)); retry.dont_filter
    False
    """
    if DONT_FILTER in request.meta and 300 <= response.status < 400:
        request.dont_filter = bool(request.meta[DONT_FILTER])
