"""How the HTTP edge sends a versioned appointment and passes on the conditions of a change.

Shared by the canonical API (:mod:`feeds.api.appointments`) and the OLS API (:mod:`feeds.ols`):
a response carries the appointment's ``ETag``; a 201 also ``Location``. A change passes the client's
``If-Match`` to the service (a POST's ``Idempotency-Key`` is handled around the view: :mod:`feeds.idempotency`).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for
from werkzeug.http import parse_etags

from caldav_bridge.services.appointments import Stored

__all__ = ["if_match", "not_modified", "versioned"]


def versioned(stored: Stored, body: Any, status: int = 200, *, getter: str) -> Response:
    """``body`` (the appointment in the API's shape) with its ``ETag``; ``Location`` (the URL of
    ``getter``, the endpoint that reads it) on a 201."""
    response = jsonify(body)
    response.status_code = status
    response.headers["ETag"] = stored.etag
    if status == 201:
        response.headers["Location"] = url_for(getter, id=str(stored.appointment.id))
    return response


def if_match() -> str | None:
    """The ETag the client last read (``If-Match``): the service refuses the change if it is stale."""
    return request.headers.get("If-Match")


def not_modified(etag: str, if_none_match: str | None) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (a quoted ETag) or is ``*``: RFC 9110's weak comparison, the header
    parsed as a list (werkzeug's, as ``request.if_none_match``), so ``W/`` tags and lists match and nothing matches
    by containing the tag. No header: False."""
    return bool(if_none_match) and parse_etags(if_none_match).contains_weak(etag.strip('"'))
