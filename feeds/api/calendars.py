"""``/api/v1/calendars``."""

from __future__ import annotations

from flask import Response, jsonify, url_for

from caldav_bridge.model.calendar import Calendar
from caldav_bridge.model.requests import CalendarDraft, CalendarPatch
from caldav_bridge.services import calendars as service
from feeds.api.blueprint import bp
from feeds.api.schemas import CalendarList
from feeds.auth import current_actor
from feeds.operations import operation
from feeds.runtime import uow

TAG = "calendars"


@operation(
    bp, "GET", "/calendars", summary="List the calendars this token reaches", tag=TAG, responses={200: CalendarList}
)
def list_calendars() -> Response:
    items = service.list_calendars(uow(), current_actor("api"))
    return jsonify({"items": [c.model_dump(mode="json") for c in items]})


@operation(
    bp,
    "POST",
    "/calendars",
    summary="Create a calendar (admin scope)",
    tag=TAG,
    body=CalendarDraft,
    idempotent=True,
    responses={201: Calendar},
    response_headers={201: ("Location",)},
)
def create_calendar(body: CalendarDraft) -> Response:
    calendar = service.create(uow(), current_actor("api"), body)
    response = jsonify(calendar.model_dump(mode="json"))
    response.status_code = 201
    response.headers["Location"] = url_for("api_v1.get_calendar", id=calendar.id)
    return response


@operation(bp, "GET", "/calendars/{id}", summary="Read a calendar", tag=TAG, responses={200: Calendar})
def get_calendar(id: str) -> Response:
    return jsonify(service.get(uow(), current_actor("api"), id).model_dump(mode="json"))


@operation(
    bp,
    "PATCH",
    "/calendars/{id}",
    summary="Rename a calendar (its owner, a dispatcher or an admin; a team calendar: an admin)",
    tag=TAG,
    body=CalendarPatch,
    idempotent=True,
    responses={200: Calendar},
)
def rename_calendar(id: str, body: CalendarPatch) -> Response:
    return jsonify(service.rename(uow(), current_actor("api"), id, body).model_dump(mode="json"))
