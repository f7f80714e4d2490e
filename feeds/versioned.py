"""How the HTTP edge sends a versioned appointment and passes on the conditions of a change.

Shared by the canonical API (:mod:`feeds.api.appointments`) and the OLS API (:mod:`feeds.ols`):
a response carries the appointment's ``ETag``; a 201 also ``Location``; a repeated idempotent POST
``Idempotent-Replayed: true`` (where the API announces replays). A change passes the client's
``If-Match`` to the service, a POST its ``Idempotency-Key``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypedDict

from flask import Response, jsonify, request, url_for

from caldav_bridge.services.appointments import Stored
from feeds.runtime import runtime

__all__ = ["Idempotency", "idempotency", "if_match", "versioned"]


class Idempotency(TypedDict):
    idempotency_key: str | None
    idempotency_ttl: timedelta


def versioned(stored: Stored, body: Any, status: int = 200, *, getter: str, announce_replay: bool = True) -> Response:
    """``body`` (the appointment in the API's shape) with its ``ETag``; ``Location`` (the URL of
    ``getter``, the endpoint that reads it) on a 201."""
    response = jsonify(body)
    response.status_code = status
    response.headers["ETag"] = stored.etag
    if status == 201:
        response.headers["Location"] = url_for(getter, id=str(stored.appointment.id))
    if announce_replay and stored.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def if_match() -> str | None:
    """The ETag the client last read (``If-Match``): the service refuses the change if it is stale."""
    return request.headers.get("If-Match")


def idempotency() -> Idempotency:
    """The POST's ``Idempotency-Key`` and how long it is kept, as keyword arguments of the create services."""
    return {
        "idempotency_key": request.headers.get("Idempotency-Key") or None,
        "idempotency_ttl": timedelta(hours=runtime().settings.idempotency_ttl_hours),
    }
