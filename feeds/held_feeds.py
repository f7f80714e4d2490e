"""A feed poll answered before Flask from the token's held answer: a 304, or a GET's 200 with the held bytes.

A direct route (:mod:`feeds.direct`) of the feed's endpoint: the service decides from memory
(:func:`feed_serving.held_answer`: the held ETag and bytes, the calendars' change slots, the rate limit; the
fetch recorded through the fetch log's buffer) and the answer goes out with the headers the Flask route sends
(``feeds/ical_feed.py``). Anything else (no held answer, over the rate, a HEAD that is not a 304, a query string,
``If-Modified-Since``) goes to Flask.
"""

from __future__ import annotations

from email.utils import format_datetime

from werkzeug.http import parse_accept_header

from caldav_bridge.services import feed_serving as service
from feeds.direct import Answer, DirectRequest, DirectRoute
from feeds.feed_http import CAPABILITY_HEADERS

__all__ = ["held_feed_route"]

ENDPOINT = "ical_feed.feed"
_FIXED = [
    *CAPABILITY_HEADERS.items(),
    ("Cache-Control", "private, max-age=300"),
    ("Vary", "Accept-Encoding"),
]


def held_feed_route(ctx: service.FeedContext) -> DirectRoute:
    """The feed route's direct answers from ``ctx``'s held answers."""

    def answer(request: DirectRequest) -> Answer | None:
        environ = request.environ
        if environ.get("HTTP_IF_MODIFIED_SINCE") or environ.get("QUERY_STRING"):
            return None
        client = service.Client(environ.get("HTTP_USER_AGENT"), environ.get("REMOTE_ADDR"))
        result = service.held_answer(ctx, str(request.path_args["token"]), environ.get("HTTP_IF_NONE_MATCH"), client)
        if result is None:
            return None
        if result.body is None:
            # as the route's 304 goes out (werkzeug drops Last-Modified from a 304; RFC 9110 does not require it)
            return Answer(304, [*_FIXED, ("ETag", result.etag)])
        if environ.get("REQUEST_METHOD") == "HEAD":
            return None  # (a HEAD whose 200 was already recorded: rare, and correct)
        return _ok(result, environ.get("HTTP_ACCEPT_ENCODING"))

    return DirectRoute(ENDPOINT, answer, frozenset({"GET", "HEAD"}))


def _ok(result: service.FeedResponse, accept_encoding: str | None) -> Answer:
    """The route's 200 (``feeds/ical_feed.py``) for the held bytes."""
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
    ]
    if gzipped:
        headers.append(("Content-Encoding", "gzip"))
    return Answer(200, headers, body)
