"""``/api/v1/appointments``: parse, call the appointment services, map the result."""

from __future__ import annotations

import json

from flask import Response, jsonify, request

from caldav_bridge.errors import FieldError, ValidationFailed
from caldav_bridge.model.appointment import Appointment
from caldav_bridge.model.requests import (
    AppointmentDraft,
    AppointmentPatch,
    CancelRequest,
    FollowUpRequest,
    OccurrencePatch,
    RescheduleRequest,
)
from caldav_bridge.model.timestamps import format_timestamp, parse_timestamp
from caldav_bridge.services import appointments as service
from config import Settings
from feeds.api.blueprint import bp
from feeds.api.interchange import FormatQuery, formatted
from feeds.api.schemas import AppointmentListParams, AppointmentPage, HistoryEntry, HistoryList, ListedAppointment
from feeds.auth import current_actor
from feeds.direct import JSON, Answer, response_of
from feeds.operations import Header, operation
from feeds.runtime import runtime, uow
from feeds.versioned import if_match, not_modified, versioned

TAG = "appointments"
IF_MATCH = Header("If-Match", "The ETag last read; the change is refused with 412 if the appointment changed since")
ETAG = {200: ("ETag",), 201: ("ETag", "Location")}
APPOINTMENT_OR_FORMAT = {
    "anyOf": [
        {"$ref": "#/components/schemas/Appointment"},
        {"type": "object", "description": "With `?format=`: the appointment in that format (docs/converters.md)"},
    ]
}


def _one(stored: service.Stored, status: int = 200) -> Response:
    return versioned(stored, stored.document(), status, getter="api_v1.get_appointment")


@operation(
    bp,
    "GET",
    "/appointments",
    summary="List appointments (filters, cursor pagination)",
    tag=TAG,
    query=AppointmentListParams,
    responses={200: AppointmentPage},
)
def list_appointments(query: AppointmentListParams) -> Response:
    limit = page_limit(runtime().settings, query)
    if query.expand:
        occurrences = service.list_occurrences(uow(), current_actor("api"), query, limit=limit, cursor=query.cursor)
        return jsonify(
            {"items": [_occurrence_json(o) for o in occurrences.items], "next_cursor": occurrences.next_cursor}
        )
    page = service.list_encoded(uow(), current_actor("api"), query, limit=limit, cursor=query.cursor)
    return response_of(page_answer(page))


def page_limit(settings: Settings, query: AppointmentListParams) -> int:
    """How many appointments a page holds: the query's ``limit``, else the default, at most the maximum."""
    return min(query.limit or settings.page_size, settings.max_page_size)


def page_answer(page: service.EncodedPage) -> Answer:
    """``jsonify({"items": [...], "next_cursor": ...})`` byte for byte, around items already encoded."""
    body = f'{{"items":[{",".join(page.items)}],"next_cursor":{json.dumps(page.next_cursor)}}}\n'.encode()
    return Answer(200, [("Content-Type", JSON), ("Content-Length", str(len(body)))], body)


def read_answer(found: service.EncodedAppointment, if_none_match: str | None) -> Answer:
    """``_one``'s answer byte for byte, from the text the database encoded; a 304 where ``If-None-Match`` names it."""
    if not_modified(found.etag, if_none_match):
        return Answer(304, [("ETag", found.etag)])
    body = (found.json + "\n").encode()
    return Answer(200, [("Content-Type", JSON), ("Content-Length", str(len(body))), ("ETag", found.etag)], body)


def _occurrence_json(occurrence: service.Occurrence) -> dict[str, object]:
    data = occurrence.appointment.model_dump(mode="json")
    data["recurrence_id"] = format_timestamp(occurrence.recurrence_id) if occurrence.recurrence_id else None
    return data


@operation(
    bp,
    "POST",
    "/appointments",
    summary="Create an appointment",
    tag=TAG,
    body=AppointmentDraft,
    idempotent=True,
    responses={201: Appointment},
    response_headers=ETAG,
)
def create_appointment(body: AppointmentDraft) -> Response:
    return _one(service.create(uow(), current_actor("api"), body), 201)


@operation(
    bp,
    "GET",
    "/appointments/{id}",
    summary="Read an appointment (`?format=`: in another system's format, see /import/{format})",
    tag=TAG,
    query=FormatQuery,
    responses={200: APPOINTMENT_OR_FORMAT, 304: "Not modified (If-None-Match)"},
    response_headers=ETAG,
)
def get_appointment(id: str, query: FormatQuery) -> Response:
    if query.format is not None:
        return formatted(service.get(uow(), current_actor("api"), id), query.format)
    found = service.get_encoded(uow(), current_actor("api"), id)
    return response_of(read_answer(found, request.headers.get("If-None-Match")))


@operation(
    bp,
    "PATCH",
    "/appointments/{id}",
    summary="Change an appointment (merge patch)",
    tag=TAG,
    body=AppointmentPatch,
    headers=(IF_MATCH,),
    idempotent=True,
    responses={200: Appointment},
    response_headers=ETAG,
)
def patch_appointment(id: str, body: AppointmentPatch) -> Response:
    return _one(service.update(uow(), current_actor("api"), id, body, if_match=if_match()))


@operation(
    bp,
    "DELETE",
    "/appointments/{id}",
    summary="Delete an appointment",
    tag=TAG,
    headers=(IF_MATCH,),
    idempotent=True,
    responses={204: "Deleted"},
)
def delete_appointment(id: str) -> Response:
    service.delete(uow(), current_actor("api"), id, if_match=if_match())
    return Response(status=204)


@operation(
    bp,
    "POST",
    "/appointments/{id}/book",
    summary="Book (confirm) an appointment",
    tag=TAG,
    headers=(IF_MATCH,),
    idempotent=True,
    responses={200: Appointment},
    response_headers=ETAG,
)
def book_appointment(id: str) -> Response:
    return _one(service.book(uow(), current_actor("api"), id, if_match=if_match()))


@operation(
    bp,
    "POST",
    "/appointments/{id}/reschedule",
    summary="Move an appointment to new times",
    tag=TAG,
    body=RescheduleRequest,
    headers=(IF_MATCH,),
    idempotent=True,
    responses={200: Appointment},
    response_headers=ETAG,
)
def reschedule_appointment(id: str, body: RescheduleRequest) -> Response:
    return _one(service.reschedule(uow(), current_actor("api"), id, body, if_match=if_match()))


@operation(
    bp,
    "PATCH",
    "/appointments/{id}/occurrences/{recurrence_id}",
    summary="Move, retitle or cancel one occurrence of a series",
    tag=TAG,
    body=OccurrencePatch,
    headers=(IF_MATCH,),
    idempotent=True,
    responses={
        200: ListedAppointment,
        404: "No such appointment, or the series has no occurrence at `recurrence_id`",
        409: "The appointment is no series, or is cancelled; or the occurrence's new time is taken (slot-unavailable)",
    },
    response_headers=ETAG,
)
def change_occurrence(id: str, recurrence_id: str, body: OccurrencePatch) -> Response:
    try:
        original = parse_timestamp(recurrence_id)
    except ValueError as exc:
        message = "must be the occurrence's original start in UTC, as listed (2026-12-09T16:00:00.000Z)"
        raise ValidationFailed([FieldError("recurrence_id", message)]) from exc
    changed = service.change_occurrence(uow(), current_actor("api"), id, original, body, if_match=if_match())
    response = jsonify(_occurrence_json(changed))
    response.headers["ETag"] = changed.etag
    return response


@operation(
    bp,
    "POST",
    "/appointments/{id}/cancel",
    summary="Cancel an appointment, with a reason",
    tag=TAG,
    body=CancelRequest,
    headers=(IF_MATCH,),
    idempotent=True,
    responses={200: Appointment},
    response_headers=ETAG,
)
def cancel_appointment(id: str, body: CancelRequest) -> Response:
    return _one(service.cancel(uow(), current_actor("api"), id, body, if_match=if_match()))


@operation(
    bp,
    "POST",
    "/appointments/{id}/follow-ups",
    summary="Book a follow-up for the same customer and opportunity",
    tag=TAG,
    body=FollowUpRequest,
    idempotent=True,
    responses={201: Appointment, 409: "The time overlaps another appointment (named in the problem)"},
    response_headers=ETAG,
)
def create_follow_up(id: str, body: FollowUpRequest) -> Response:
    return _one(service.follow_up(uow(), current_actor("api"), id, body), 201)


@operation(
    bp,
    "GET",
    "/appointments/{id}/history",
    summary="Status and time changes of an appointment",
    tag=TAG,
    responses={200: HistoryList},
)
def appointment_history(id: str) -> Response:
    rows = service.history(uow(), current_actor("api"), id)
    entries = [HistoryEntry.model_validate(row, from_attributes=True) for row in rows]
    return jsonify({"items": [e.model_dump(mode="json") for e in entries]})
