"""A feed poll answered before Flask from the token's held answer: a 304, or a GET's 200 with the held bytes.

WSGI middleware, outermost: the service decides from memory (:func:`feed_serving.held_answer`: the held
ETag and bytes, the calendars' change slots, the rate limit; the fetch recorded through the fetch log's
buffer) and the answer goes out with the headers the Flask route sends (``feeds/ical_feed.py``), counted
in the metrics and logged like any request. Anything else (no held answer, over the rate, a HEAD that
is not a 304, a query string) goes to Flask.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from email.utils import format_datetime
from typing import Any

from werkzeug.http import parse_accept_header

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
        if method not in ("GET", "HEAD") or not path.startswith("/feeds/") or environ.get("HTTP_IF_MODIFIED_SINCE"):
            return self.app(environ, start_response)
        secret = path[7:-4] if path.endswith(".ics") else ""
        if not secret or "/" in secret or environ.get("QUERY_STRING"):
            return self.app(environ, start_response)
        started = time.perf_counter()
        client = service.Client(environ.get("HTTP_USER_AGENT"), environ.get("REMOTE_ADDR"))
        result = service.held_answer(self.ctx, secret, if_none_match, client)
        if result is None or (result.body is not None and method == "HEAD"):
            return self.app(environ, start_response)  # (a HEAD whose 200 was already recorded: rare, and correct)
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        body = b""
        if result.body is None:
            # as the route's 304 goes out (werkzeug drops Last-Modified from a 304; RFC 9110 does not require it)
            status, headers = 304, [*_FIXED, ("ETag", result.etag), ("X-Request-ID", request_id)]
            start_response("304 NOT MODIFIED", headers)
        else:
            status, (body, headers) = 200, _ok(result, environ.get("HTTP_ACCEPT_ENCODING"), request_id)
            start_response("200 OK", headers)
        elapsed = time.perf_counter() - started
        if self.observe is not None:
            self.observe(ROUTE, method, status, elapsed, ENDPOINT)
        if log.isEnabledFor(logging.INFO):
            extra = {"request_id": request_id, "method": method, "path": "/feeds/[redacted]", "status": status}
            log.info(f"%s /feeds/[redacted] {status}", method, extra={**extra, "duration_ms": round(elapsed * 1000, 1)})
        return [body]


def _ok(
    result: service.FeedResponse, accept_encoding: str | None, request_id: str
) -> tuple[bytes, list[tuple[str, str]]]:
    """The body and headers of the route's 200 (``feeds/ical_feed.py``) for the held bytes."""
    assert result.body is not None
    gzipped = parse_accept_header(accept_encoding)["gzip"] > 0
    body = result.body.gzip if gzipped else result.body.identity
    headers = [
        ("Content-Type", "text/calendar; charset=utf-8"),
        ("Content-Length", str(len(body))),
        *_FIXED,
        ("ETag", result.etag[:-1] + '-gzip"' if gzipped else result.etag),
        ("Last-Modified", format_datetime(result.last_modified, usegmt=True)),
        ("Content-Disposition", 'inline; filename="calendar.ics"'),
        ("X-Request-ID", request_id),
    ]
    if gzipped:
        headers.append(("Content-Encoding", "gzip"))
    return body, headers
