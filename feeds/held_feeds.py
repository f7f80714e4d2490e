"""A feed poll answered before Flask: ``If-None-Match`` on ``/feeds/<token>.ics`` matching the token's held answer.

WSGI middleware, outermost: the service decides from memory (:func:`feed_serving.held_not_modified`: the
held ETag, the calendars' change slots, the rate limit; the fetch recorded through the fetch log's
buffer) and the 304 goes out with the headers the Flask route sends, counted in the metrics and
logged like any request. Anything else (no held answer, another ETag, over the rate) goes to Flask.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from caldav_bridge.services import feed_serving as service
from feeds.feed_http import CAPABILITY_HEADERS

__all__ = ["HeldFeeds"]

log = logging.getLogger("appointments.access")
ROUTE = "/feeds/<token>.ics"
ENDPOINT = "ical_feed.feed"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_FIXED = [
    *CAPABILITY_HEADERS.items(),
    ("Cache-Control", "private, max-age=300"),
    ("Vary", "Accept-Encoding"),
]


class HeldFeeds:
    def __init__(self, app: Any, ctx: service.FeedContext, observe: Callable[..., None] | None = None) -> None:
        self.app = app
        self.ctx = ctx
        self.observe = observe

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        path: str = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD")
        if if_none_match is None or method not in ("GET", "HEAD") or not path.startswith("/feeds/"):
            return self.app(environ, start_response)
        secret = path[7:-4] if path.endswith(".ics") else ""
        if not secret or "/" in secret or environ.get("QUERY_STRING"):
            return self.app(environ, start_response)
        started = time.perf_counter()
        client = service.Client(environ.get("HTTP_USER_AGENT"), environ.get("REMOTE_ADDR"))
        result = service.held_not_modified(self.ctx, secret, if_none_match, client)
        if result is None:
            return self.app(environ, start_response)
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        # as the route's 304 goes out (werkzeug drops Last-Modified from a 304; RFC 9110 does not require it)
        headers = [*_FIXED, ("ETag", result.etag), ("X-Request-ID", request_id)]
        start_response("304 NOT MODIFIED", headers)
        elapsed = time.perf_counter() - started
        if self.observe is not None:
            self.observe(ROUTE, method, 304, elapsed, ENDPOINT)
        if log.isEnabledFor(logging.INFO):
            extra = {"request_id": request_id, "method": method, "path": "/feeds/[redacted]", "status": 304}
            log.info("%s /feeds/[redacted] 304", method, extra={**extra, "duration_ms": round(elapsed * 1000, 1)})
        return [b""]
