"""OLS-compatible REST (default prefix ``/ols``): the shape of the service in use today.

Lists are JSON arrays, as in OLS; the next page, if any, is in a ``Link: <…>; rel="next"`` header.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from flask import Blueprint, Response, jsonify, request, url_for
from pydantic import BaseModel, ConfigDict, Field

from caldav_bridge.services import appointments, ols
from feeds.auth import current_actor
from feeds.operations import Header, operation
from feeds.runtime import runtime, uow
from feeds.versioned import if_match, not_modified, versioned

bp = Blueprint("ols", __name__)
TAG = "ols"

Label = Annotated[str | None, Field(max_length=64)]
Stamp = Annotated[str | None, Field(max_length=40)]


class OlsAppointment(BaseModel):
    """An appointment as OLS returns it (every key always present)."""

    model_config = ConfigDict(extra="forbid")

    appointment_gid: str
    created_at: str
    customer_gid: str
    date_v2: str = Field(description="The start, in UTC")
    date: str = Field(description="Legacy: the start's wall-clock time in the legacy zone, labelled Z")
    id: str
    opportunity_gid: str
    status: str
    type: str
    updated_at: str


class OlsAppointmentInput(BaseModel):
    """A POST/PUT/PATCH body. ``calendar_id``, ``name`` and ``date_end`` are optional extensions."""

    model_config = ConfigDict(extra="ignore")

    appointment_gid: Label = None
    customer_gid: Label = None
    opportunity_gid: Label = None
    date_v2: Stamp = None
    date: Stamp = None
    type: Label = None
    status: Label = None
    calendar_id: Label = None
    name: Annotated[str | None, Field(max_length=255)] = None
    date_end: Stamp = None


class OlsListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opportunity_gid: Label = None
    customer_gid: Label = None
    appointment_gid: Label = None
    status: Label = None
    type: Label = None
    updated_since: Stamp = None
    limit: Annotated[int | None, Field(ge=1, le=500)] = None
    cursor: Annotated[str | None, Field(max_length=512)] = None


_LIST_SCHEMA = {"type": "array", "items": {"$ref": "#/components/schemas/OlsAppointment"}}
IF_MATCH = Header("If-Match", "The ETag last read; 412 if the appointment changed since")


def _one(stored: appointments.Stored, status: int = 200) -> Response:
    body = ols.render(stored, runtime().ols_options)
    return versioned(stored, body, status, getter="ols.get_appointment")


def _change(change: Callable[..., appointments.Stored], id: str, body: OlsAppointmentInput) -> Response:
    """PUT and PATCH: the service ``change`` (``ols.replace`` or ``ols.patch``) under the request's If-Match."""
    payload = body.model_dump(exclude_unset=True)
    return _one(change(uow(), current_actor("ols"), id, payload, runtime().ols_options, if_match=if_match()))


def _list(query: OlsListQuery, opportunity_gid: str | None = None) -> Response:
    options = runtime().ols_options
    params = query.model_dump(
        include={"opportunity_gid", "customer_gid", "appointment_gid", "status", "type", "updated_since"}
    )
    if opportunity_gid:
        params["opportunity_gid"] = opportunity_gid
    filters = ols.list_filters(params, options)
    settings = runtime().settings
    limit = min(query.limit or settings.max_page_size, settings.max_page_size)
    page = appointments.list_appointments(uow(), current_actor("ols"), filters, limit=limit, cursor=query.cursor)
    response = jsonify([ols.render(s, options) for s in page.items])
    if page.next_cursor:
        # The path's own parameters (the opportunity) win over a query parameter of the same name, as above.
        args: dict[str, Any] = {**request.args.to_dict(), **(request.view_args or {}), "cursor": page.next_cursor}
        response.headers["Link"] = f'<{url_for(request.endpoint or "ols.list_appointments", **args)}>; rel="next"'
    return response


@operation(
    bp,
    "GET",
    "/appointments",
    summary="List appointments (OLS shape)",
    tag=TAG,
    query=OlsListQuery,
    responses={200: _LIST_SCHEMA},
    response_headers={200: ("Link",)},
)
def list_appointments(query: OlsListQuery) -> Response:
    return _list(query)


@operation(
    bp,
    "GET",
    "/opportunities/{opportunity_gid}/appointments",
    summary="Appointments of an opportunity",
    tag=TAG,
    query=OlsListQuery,
    responses={200: _LIST_SCHEMA},
    response_headers={200: ("Link",)},
)
def opportunity_appointments(opportunity_gid: str, query: OlsListQuery) -> Response:
    return _list(query, opportunity_gid)


@operation(
    bp,
    "GET",
    "/appointments/{id}",
    summary="Read an appointment (OLS shape)",
    tag=TAG,
    responses={200: OlsAppointment, 304: "Not modified (If-None-Match)"},
    response_headers={200: ("ETag",), 304: ("ETag",)},
)
def get_appointment(id: str) -> Response:
    stored = appointments.get(uow(), current_actor("ols"), id)
    if not_modified(stored.etag, request.headers.get("If-None-Match")):  # the read is audited all the same
        return Response(status=304, headers={"ETag": stored.etag})
    return _one(stored)


@operation(
    bp,
    "POST",
    "/appointments",
    summary="Create an appointment from an OLS payload",
    tag=TAG,
    body=OlsAppointmentInput,
    idempotent=True,
    announce_replay=False,  # OLS clients know no Idempotent-Replayed: a replay looks like the first answer
    responses={201: OlsAppointment},
    response_headers={201: ("ETag", "Location")},
)
def create_appointment(body: OlsAppointmentInput) -> Response:
    payload = body.model_dump(exclude_unset=True)
    return _one(ols.create(uow(), current_actor("ols"), payload, runtime().ols_options), 201)


@operation(
    bp,
    "PUT",
    "/appointments/{id}",
    summary="Replace an appointment's OLS fields",
    tag=TAG,
    body=OlsAppointmentInput,
    headers=(IF_MATCH,),
    idempotent=True,
    announce_replay=False,
    responses={200: OlsAppointment},
    response_headers={200: ("ETag",)},
)
def replace_appointment(id: str, body: OlsAppointmentInput) -> Response:
    return _change(ols.replace, id, body)


@operation(
    bp,
    "PATCH",
    "/appointments/{id}",
    summary="Change some OLS fields of an appointment",
    tag=TAG,
    body=OlsAppointmentInput,
    headers=(IF_MATCH,),
    idempotent=True,
    announce_replay=False,
    responses={200: OlsAppointment},
    response_headers={200: ("ETag",)},
)
def patch_appointment(id: str, body: OlsAppointmentInput) -> Response:
    return _change(ols.patch, id, body)


@operation(
    bp,
    "DELETE",
    "/appointments/{id}",
    summary="Delete an appointment",
    tag=TAG,
    headers=(IF_MATCH,),
    idempotent=True,
    announce_replay=False,
    responses={204: "Deleted"},
)
def delete_appointment(id: str) -> Response:
    appointments.delete(uow(), current_actor("ols"), id, if_match=if_match())
    return Response(status=204)
