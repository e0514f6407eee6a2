"""A bot challenge that behaves as Cloudflare's managed challenge does, for the tests' mock site.

A client without clearance gets ``403`` with ``cf-mitigated: challenge`` and
``Server: cloudflare``, and a page titled "Just a moment..." whose script,
after a delay, posts an answer to ``/cdn-cgi/challenge-platform/…``.  The
answer is computed from the page's ray id *and the browser's User-Agent* by
the script, so only a client that runs it passes: the server then sets a
``cf_clearance`` cookie bound to that User-Agent, good for ``uses`` requests,
and the script reloads the page.  Plain HTTP never passes: its requests have
no clearance, and nothing in the page's HTML is the answer.

Modes: ``all`` guards every page but robots.txt; ``listings`` only the deeper
pages of listings (``…/page/N/``), as the site was seen doing, and the sitemaps (so that a crawl meets
those pages).
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlsplit

ANSWER_PATH = "/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1"
_OPEN = ("/robots.txt", "/__requests__", "/__challenge__")
_DEEP_LISTING = re.compile(r"/page/\d+/?$|\.xml(?:\.gz)?$")

PAGE = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
<meta name="robots" content="noindex,nofollow">
</head><body><div class="main-wrapper" role="main"><h1>www.bannedbook.test</h1>
<h2>Verifying you are human. This may take a few seconds.</h2>
<noscript>Enable JavaScript and cookies to continue</noscript></div>
<script>
(function () {
  var ray = "%(ray)s";
  setTimeout(function () {
    var answer = 7, text = ray + "|" + navigator.userAgent;
    for (var i = 0; i < text.length; i++) { answer = (answer * 31 + text.charCodeAt(i)) %% 1000003; }
    fetch("%(answer_path)s?ray=" + ray, {method: "POST", body: String(answer), credentials: "same-origin"})
      .then(function (r) { if (r.ok) { location.reload(); } });
  }, %(delay_ms)d);
})();
</script></body></html>"""


def expected_answer(ray: str, user_agent: str) -> int:
    """What the page's script posts for *ray* when run by a browser with *user_agent*.

    >>> expected_answer("ab", "UA")
    26097
    """
    answer = 7
    for char in f"{ray}|{user_agent}":
        answer = (answer * 31 + ord(char)) % 1000003
    return answer


@dataclass
class Challenge:
    mode: str = "all"
    #: requests a clearance is good for (the reload after the challenge is one)
    uses: int = 30
    #: seconds the page's script waits before answering
    delay: float = 0.3
    rays: set[str] = field(default_factory=set)
    #: cf_clearance value -> [User-Agent it is bound to, requests left]
    clearances: dict[str, list] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"served": 0, "passed": 0, "refused": 0,
                                                            "cleared": 0})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def guards(self, path: str) -> bool:
        """Whether a request for *path* needs clearance."""
        path = urlsplit(path).path
        if path in _OPEN or path.startswith("/cdn-cgi/"):
            return False
        return self.mode == "all" or (self.mode == "listings" and bool(_DEEP_LISTING.search(path)))

    def is_answer(self, path: str) -> bool:
        return path == ANSWER_PATH

    def cleared(self, headers: Message) -> bool:
        """A request with a clearance still good, for the User-Agent it was given to (uses one)."""
        cookie = SimpleCookie(headers.get("Cookie", ""))
        token = cookie["cf_clearance"].value if "cf_clearance" in cookie else None
        with self.lock:
            clearance = self.clearances.get(token or "")
            if clearance is None or clearance[0] != headers.get("User-Agent", "") or clearance[1] <= 0:
                return False
            clearance[1] -= 1
            self.counts["cleared"] += 1
            return True

    def page(self) -> tuple[int, dict[str, str], bytes]:
        """The challenge: status, headers, body."""
        ray = secrets.token_hex(8)
        with self.lock:
            self.rays.add(ray)
            self.counts["served"] += 1
        body = PAGE % {"ray": ray, "answer_path": ANSWER_PATH, "delay_ms": int(self.delay * 1000)}
        headers = {"Content-Type": "text/html; charset=UTF-8", "Server": "cloudflare",
                   "cf-mitigated": "challenge", "Cache-Control": "private, max-age=0, no-store",
                   "CF-RAY": f"{ray}-TEST"}
        return 403, headers, body.encode()

    def answer(self, path: str, headers: Message, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """The script's answer: a ``cf_clearance`` cookie for a right one, 403 for a wrong one."""
        ray = dict(parse_qsl(urlsplit(path).query)).get("ray", "")
        user_agent = headers.get("User-Agent", "")
        with self.lock:
            known = ray in self.rays
            self.rays.discard(ray)
            if not known or body.decode("ascii", "replace").strip() != str(expected_answer(ray, user_agent)):
                self.counts["refused"] += 1
                return 403, {"Content-Type": "text/plain"}, b"wrong answer"
            token = secrets.token_urlsafe(24)
            self.clearances[token] = [user_agent, self.uses]
            self.counts["passed"] += 1
        cookie = f"cf_clearance={token}; Path=/; Max-Age=1800; HttpOnly; SameSite=Lax"
        return 200, {"Content-Type": "text/plain", "Server": "cloudflare", "Set-Cookie": cookie}, b"ok"
