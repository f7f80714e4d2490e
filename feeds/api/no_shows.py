"""``POST /api/v1/appointments/{id}/no-show``: staff mark a no-show (kept, counted, pushed to Salesforce)."""

from __future__ import annotations

from flask import Response, jsonify
from pydantic import BaseModel

from caldav_bridge.model.timestamps import UtcTimestamp
from caldav_bridge.selfbooking import no_show as service
from feeds.api.blueprint import bp
from feeds.auth import current_actor
from feeds.operations import operation
from feeds.runtime import uow

TAG = "self-booking"


class NoShowOut(BaseModel):
    appointment_id: str
    no_show: bool = True
    marked_at: UtcTimestamp
    self_booked: bool


@operation(
    bp,
    "POST",
    "/appointments/{id}/no-show",
    summary="Mark a no-show: the customer did not come (kept on the appointment, counted, pushed to Salesforce)",
    tag=TAG,
    idempotent=True,
    responses={200: NoShowOut, 409: "The appointment is cancelled (problem)"},
)
def mark_no_show(id: str) -> Response:
    marked = service.mark_no_show(uow(), current_actor("api"), id)
    out = NoShowOut(appointment_id=marked.appointment_id, marked_at=marked.marked_at, self_booked=marked.self_booked)
    return jsonify(out.model_dump(mode="json"))
