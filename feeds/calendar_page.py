"""``GET /calendar/<token>``: the calendar page (week grid, day and agenda views), and ``/calendar/<token>.json``,
the same page as JSON.

Embeddable in Salesforce (CSP ``frame-ancestors`` from settings); no third-party resources; inline
style and script carry a per-request nonce, so nothing else can run.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

from flask import Blueprint, Response, render_template, request

from caldav_bridge.errors import NotFound, ValidationFailed
from caldav_bridge.services import calendar_page as service
from caldav_bridge.services.feed_serving import RateLimited
from feeds.feed_http import CAPABILITY_HEADERS, client, plain
from feeds.feed_state import feed_context
from feeds.ical_feed import NOT_FOUND
from feeds.runtime import runtime, uow

__all__ = ["bp"]

bp = Blueprint("calendar_page", __name__, template_folder="templates")


def _page(token: str, answer: Callable[[service.WeekPage], Response]) -> Response:
    try:
        query = service.parse_page_query(
            request.args.get("week"), request.args.get("tz"), request.args.get("view"), request.args.get("day")
        )
        page = service.calendar_page(uow(), feed_context(), token, client(), query)
    except NotFound:
        return plain(404, NOT_FOUND)
    except ValidationFailed as exc:
        return plain(400, "Bad request: " + "; ".join(f"{e.field}: {e.message}" for e in exc.errors))
    except RateLimited as exc:
        return plain(429, "Too many requests for this calendar.", {"Retry-After": str(exc.retry_after)})
    response = answer(page)
    response.headers.update(CAPABILITY_HEADERS)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/calendar/<token>")
def calendar(token: str) -> Response:
    nonce = secrets.token_urlsafe(16)

    def html(page: service.WeekPage) -> Response:
        body = render_template("calendar_page.html", page=page, nonce=nonce, tz_given=bool(request.args.get("tz")))
        response = Response(body, status=200, content_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; img-src 'self' data:; "
            f"base-uri 'none'; form-action 'self'; frame-ancestors {runtime().settings.calendar_frame_ancestors}"
        )
        return response

    return _page(token, html)


@bp.get("/calendar/<token>.json")
def calendar_json(token: str) -> Response:
    def as_json(page: service.WeekPage) -> Response:
        body = json.dumps(service.page_json(page), ensure_ascii=False, separators=(",", ":"))
        return Response(body, status=200, content_type="application/json")

    return _page(token, as_json)
