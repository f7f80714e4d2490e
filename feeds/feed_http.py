"""What the feed and the calendar page share at the HTTP edge: client, headers, plain-text errors."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from flask import Response, request

from caldav_bridge.services.feed_serving import Client, Conditions

__all__ = ["CAPABILITY_HEADERS", "client", "conditions", "plain"]

#: Every response under a capability URL: no Referer leaks the token, no search engine indexes it.
CAPABILITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}


def client() -> Client:
    return Client(user_agent=request.headers.get("User-Agent"), address=request.remote_addr)


def conditions() -> Conditions:
    return Conditions(request.headers.get("If-None-Match"), _http_date(request.headers.get("If-Modified-Since")))


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # an unparsable If-Modified-Since is ignored (RFC 9110 §13.1.3)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def plain(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    """A plain-text answer (never HTML: calendar clients choke on error pages)."""
    response = Response(text.rstrip("\n") + "\n", status=status, mimetype="text/plain")
    response.headers.update(CAPABILITY_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
