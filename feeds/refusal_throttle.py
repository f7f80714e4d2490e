"""Per-credential fairness: a client whose requests keep being refused is answered 429 for a while (RFC 6585).

WSGI middleware, outermost. Every refusal of what a request said or asked for (400, 403, 413, 414, 415, 422,
431) takes one from the credential's budget of ``refusal_limit_per_minute`` (a token bucket: bursts up to
the same, refilled evenly over the minute). While the budget is empty, that credential's requests are
answered ``429 Too Many Requests`` with ``Retry-After`` before routing, authentication or reading the
store: problem+json on REST and OLS, plain text on CalDAV. Ordinary clients are refused a few times a day
and never meet it; a client sending crafted input in a loop is reduced to one request per refill interval.

A client that ignores ``Retry-After`` and keeps asking would still cost the server a little CPU per 429, which
other users feel (bench/hostile_bench.py: their p99 1.7x under such a loop). So a 429 is held back before it is
sent, up to :data:`HOLD_SECONDS` (as failed CalDAV logins are slowed): a sleeping thread costs no CPU, and a client
asking one request at a time is slowed to one 429 a second. At most one of a credential's 429s is held at a time
and at most :data:`MAX_HELD` in all, so holding can never occupy the server's threads: the rest are answered at
once.

The key is a hash of the ``Authorization`` header (the raw secret is not kept): one budget per credential,
so a user's CalDAV password and API token count separately. Requests without credentials (feeds, the
self-booking pages, which have limits of their own) and answers without a principal (401) are not counted.
The budget is per process, like the other rate limits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request

from caldav_bridge.infra.rate_limit import RateLimiter
from feeds.access_log import redact
from feeds.problem_types import PROBLEM_TYPES
from feeds.problems import PROBLEM_PATH

__all__ = ["REFUSALS", "RefusalThrottle"]

log = logging.getLogger("appointments.access")
#: Statuses that refuse what the request said (not 401: no principal; not 404/409/412: ordinary client races).
REFUSALS = frozenset({400, 403, 413, 414, 415, 422, 431})
_DAV = "/dav"
_TYPE = PROBLEM_TYPES["too-many-requests"]
#: The longest a 429 is held back, and how many are held at once in this process (of the server's 8 threads).
HOLD_SECONDS = 1.0
MAX_HELD = 2


def _key(environ: dict[str, Any]) -> str | None:
    header = environ.get("HTTP_AUTHORIZATION")
    if not header:
        return None
    return hashlib.blake2b(header.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


class RefusalThrottle:
    def __init__(
        self, app: Any, limiter: RateLimiter, observe: Callable[[str, str, int, float, str | None], None] | None = None
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.observe = observe
        self._held: set[str] = set()
        self._held_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        key = _key(environ)
        if key is None:
            return self.app(environ, start_response)
        wait = self.limiter.retry_after(key)
        if wait > 0:
            self._hold(key, wait)
            return self._too_many(environ, start_response, wait)

        def counting(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            if int(status[:3]) in REFUSALS:
                self.limiter.try_take(key)
            return start_response(status, headers, *rest)

        return self.app(environ, counting)

    def _hold(self, key: str, wait: float) -> None:
        """Sleep up to :data:`HOLD_SECONDS` before the 429, unless one of this credential's is held already or
        :data:`MAX_HELD` are."""
        with self._held_lock:
            if key in self._held or len(self._held) >= MAX_HELD:
                return
            self._held.add(key)
        try:
            time.sleep(min(wait, HOLD_SECONDS))
        finally:
            with self._held_lock:
                self._held.discard(key)

    def _too_many(self, environ: dict[str, Any], start_response: Callable[..., Any], wait: float) -> Iterable[bytes]:
        started = time.perf_counter()
        path = environ.get("PATH_INFO", "") or ""
        seconds = str(max(1, math.ceil(wait)))
        detail = f"Too many refused requests with these credentials; retry after {seconds} s."
        if path == _DAV or path.startswith(_DAV + "/"):
            body, content_type = detail.encode(), "text/plain; charset=utf-8"
        else:
            document = {
                "type": Request(environ).url_root.rstrip("/") + PROBLEM_PATH + _TYPE.slug,
                "title": _TYPE.title,
                "status": 429,
                "detail": detail,
                "instance": path,
            }
            body, content_type = json.dumps(document).encode(), "application/problem+json"
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Retry-After", seconds),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        start_response("429 TOO MANY REQUESTS", headers)
        method = environ.get("REQUEST_METHOD", "GET")
        elapsed = time.perf_counter() - started
        if self.observe is not None:
            self.observe("throttled", method, 429, elapsed, None)
        if log.isEnabledFor(logging.INFO):
            extra = {"method": method, "path": redact(path), "status": 429, "duration_ms": round(elapsed * 1000, 1)}
            log.info("%s %s 429 (refusal budget spent)", method, redact(path), extra=extra)
        return [body]
