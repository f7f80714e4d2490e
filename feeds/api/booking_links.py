"""``/api/v1/booking-links``: customer self-booking links (issue, list, revoke; write scope)."""

from __future__ import annotations

from typing import Annotated

from flask import Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from caldav_bridge.selfbooking import links as service
from caldav_bridge.selfbooking.keys import service_key
from caldav_bridge.selfbooking.model import BookingLink, IssuedBookingLink, LinkDraft
from feeds.api.blueprint import bp
from feeds.auth import current_actor
from feeds.operations import operation
from feeds.runtime import runtime, uow

TAG = "self-booking"


class BookingLinkList(BaseModel):
    items: list[BookingLink]


class LinksQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team_id: Annotated[str | None, Field(max_length=64)] = None


@operation(
    bp,
    "POST",
    "/booking-links",
    summary="Issue a booking link for customers (its URL is shown once; only its hash is stored)",
    tag=TAG,
    body=LinkDraft,
    idempotent=True,
    withhold_on_replay=("secret", "url"),
    responses={201: IssuedBookingLink},
)
def issue_booking_link(body: LinkDraft) -> Response:
    settings = runtime().settings
    issued = service.issue(uow(), current_actor("api"), body, settings.public_url, key=service_key(settings))
    response = jsonify(issued.model_dump(mode="json"))
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@operation(
    bp,
    "GET",
    "/booking-links",
    summary="List booking links (never their secrets)",
    tag=TAG,
    query=LinksQuery,
    responses={200: BookingLinkList},
)
def list_booking_links(query: LinksQuery) -> Response:
    items = service.list_links(uow(), current_actor("api"), team_id=query.team_id)
    return jsonify({"items": [i.model_dump(mode="json") for i in items]})


@operation(
    bp,
    "POST",
    "/booking-links/{id}/revoke",
    summary="Revoke a booking link: it stops working at once (bookings made through it are kept)",
    tag=TAG,
    idempotent=True,
    responses={200: BookingLink},
)
def revoke_booking_link(id: str) -> Response:
    return jsonify(service.revoke(uow(), current_actor("api"), id).model_dump(mode="json"))
