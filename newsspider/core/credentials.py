"""URLs that carry a secret (proxies, Redis, webhooks): read the way curl reads them, shown without it.

A password is typed as it is, unencoded: ``socks5h://alice:p/ss@w@127.0.0.1:1080``.  Like curl, the
user information ends at the *last* ``@`` (a host holds none), and the password runs from the first
``:`` of it; :func:`encode_userinfo` percent-encodes both (an encoded ``%40`` stays one ``@``), so
that any URL parser (curl's, redis-py's, Python's) reads the same user, password and host.
:func:`redact` is what is ever printed of such a URL: the user and password are ``***``, and for a
webhook, whose token is its path, only where it goes.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

__all__ = ["encode_userinfo", "redact", "scrub", "split_userinfo"]

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def split_userinfo(url: str) -> tuple[str, str | None, str]:
    """``(scheme://, user information or None, the rest)`` of *url*: the user information ends at
    the last ``@``, as curl reads it (a host never holds one).

    >>> split_userinfo("socks5h://alice:p/ss@w@127.0.0.1:1080")
    ('socks5h://', 'alice:p/ss@w', '127.0.0.1:1080')
    >>> split_userinfo("user:pw@proxy.example:3128")
    ('', 'user:pw', 'proxy.example:3128')
    >>> split_userinfo("redis://127.0.0.1:6379/0")
    ('redis://', None, '127.0.0.1:6379/0')
    """
    scheme = match[0] if (match := _SCHEME.match(url)) else ""
    rest = url[len(scheme):]
    userinfo, at, host = rest.rpartition("@")
    return (scheme, userinfo, host) if at else (scheme, None, rest)


def encode_userinfo(url: str) -> str:
    """*url* with its user name and password percent-encoded (what is encoded already stays so).

    >>> encode_userinfo("socks5h://alice:p/ss@w:rd@127.0.0.1:1080")
    'socks5h://alice:p%2Fss%40w%3Ard@127.0.0.1:1080'
    >>> encode_userinfo("redis://:Wr/ong@Pw@127.0.0.1:6379/0")
    'redis://:Wr%2Fong%40Pw@127.0.0.1:6379/0'
    >>> encode_userinfo("http://u%40x:p@10.0.0.7:3128")
    'http://u%40x:p@10.0.0.7:3128'
    >>> encode_userinfo("http://127.0.0.1:8787")
    'http://127.0.0.1:8787'
    """
    scheme, userinfo, rest = split_userinfo(url)
    if userinfo is None:
        return url
    user, colon, password = userinfo.partition(":")
    encoded = quote(unquote(user), safe="") + (colon + quote(unquote(password), safe="") if colon else "")
    return f"{scheme}{encoded}@{rest}"


def redact(url: str, *, path: bool = True) -> str:
    """*url* as it may be printed: its user name and password as ``***``, its query as ``?***``;
    with ``path=False`` (a webhook, whose token is in its path) its path as ``/***`` too.

    >>> redact("socks5h://alice:s3cret@127.0.0.1:1080")
    'socks5h://***@127.0.0.1:1080'
    >>> redact("socks5h://alice:p@ss3cret@127.0.0.1:1080")
    'socks5h://***@127.0.0.1:1080'
    >>> redact("redis://:Wr/ong@Pw@127.0.0.1:6379/0")
    'redis://***@127.0.0.1:6379/0'
    >>> redact("user:pw@proxy.example:3128")
    '***@proxy.example:3128'
    >>> redact("http://127.0.0.1:8787")
    'http://127.0.0.1:8787'
    >>> redact("redis://127.0.0.1:6379/0?password=s3cret")
    'redis://127.0.0.1:6379/0?***'
    >>> redact("https://hooks.slack.com/services/T0/B0/XyZtoken", path=False)
    'https://hooks.slack.com/***'
    >>> redact("https://hooks.example.org/", path=False)
    'https://hooks.example.org/'
    """
    scheme, userinfo, rest = split_userinfo(url)
    shown = scheme + ("***@" if userinfo is not None else "")
    where, mark = re.match(r"([^?#]*)([?#]?)", rest).groups()  # type: ignore[union-attr]
    if not path and (cut := where.find("/")) >= 0 and where[cut:] != "/":
        where = where[:cut] + "/***"
    return shown + where + (f"{mark}***" if mark else "")


def scrub(text: str, url: str, *, path: bool = True) -> str:
    """*text* (a library's error message) with *url*, as given or encoded, shown redacted and its
    password (as given, encoded or decoded) as ``***``.

    >>> scrub("cannot reach redis://:p@ss@h:6379/0 (auth p@ss)", "redis://:p@ss@h:6379/0")
    'cannot reach redis://***@h:6379/0 (auth ***)'
    """
    shown = redact(url, path=path)
    for form in sorted({url, encode_userinfo(url)}, key=len, reverse=True):
        text = text.replace(form, shown)
    userinfo = split_userinfo(url)[1]
    if userinfo is not None and (password := userinfo.partition(":")[2]):
        for form in sorted({password, unquote(password), quote(unquote(password), safe="")}, key=len,
                           reverse=True):
            if len(form) >= 3:  # not every "a" of the message for a one-letter password
                text = text.replace(form, "***")
    return text
