"""``GET /feeds/<token>.ics``: a calendar's iCal feed (also HEAD, conditional, gzip)."""

from __future__ import annotations

from email.utils import format_datetime

from flask import Blueprint, Response, request

from caldav_bridge.errors import NotFound
from caldav_bridge.services import feed_serving as service
from feeds.feed_http import CAPABILITY_HEADERS, client, conditions, plain
from feeds.feed_state import feed_context
from feeds.runtime import uow

__all__ = ["CACHE_CONTROL", "bp"]

bp = Blueprint("ical_feed", __name__)
#: Clients may reuse a copy for 5 minutes, then revalidate (ETag / Last-Modified); shared caches may not keep it.
CACHE_CONTROL = "private, max-age=300"
NOT_FOUND = "No such feed. The link may have been revoked or rotated; ask for a new one."


@bp.get("/feeds/<token>.ics")
def feed(token: str) -> Response:
    try:
        result = service.fetch_feed(uow(), feed_context(), token, client(), conditions())
    except NotFound:
        return plain(404, NOT_FOUND)
    except service.RateLimited as exc:
        return plain(429, "Too many requests for this feed.", {"Retry-After": str(exc.retry_after)})
    gzipped = result.body is not None and request.accept_encodings["gzip"] > 0
    etag = result.etag[:-1] + '-gzip"' if gzipped else result.etag
    headers = {
        **CAPABILITY_HEADERS,
        "ETag": etag,
        "Last-Modified": _http_date(result),
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept-Encoding",
    }
    if result.status == 304 or result.body is None:
        return Response(status=304, headers=headers)
    body = result.body.gzip if gzipped else result.body.identity
    response = Response(body, status=200, headers=headers, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = 'inline; filename="calendar.ics"'
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    return response


def _http_date(result: service.FeedResponse) -> str:
    return format_datetime(result.last_modified, usegmt=True)
