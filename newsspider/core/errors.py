"""The exception root and the exit statuses of the command line (pure; no Scrapy)."""

from __future__ import annotations

__all__ = ["DEGRADED_EXIT", "EXIT_ERROR", "EXIT_USAGE", "NewsspiderError"]

#: exit status of a command that failed (a crawl that failed or was stopped, bad input read)
EXIT_ERROR = 1
#: exit status of a usage error (click's)
EXIT_USAGE = 2
#: exit status of ``newsspider crawl`` (and ``reextract``, ``demo``) for a run that finished but whose
#: checks failed
DEGRADED_EXIT = 3


class NewsspiderError(Exception):
    """An error newsspider explains in one line (what and where): its message is all a user sees.

    Every newsspider exception derives from it, first, beside the builtin (or Scrapy) base it has, so
    that ``except ValueError`` and Scrapy's own handling see it as before; the command line turns it
    into its message and :attr:`exit_code`, in one place.

    >>> class Bad(NewsspiderError, ValueError): pass
    >>> isinstance(Bad("x"), ValueError), Bad("x").exit_code, Bad("x").failure
    (True, 1, None)
    """

    #: the command's exit status
    exit_code = EXIT_ERROR
    #: the reason a failed request is counted under (:func:`newsspider.core.failures.failure_reason`)
    failure: str | None = None
