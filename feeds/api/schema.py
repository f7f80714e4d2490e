"""``/api/v1/schema/appointment.json``: the JSON Schema of the canonical appointment."""

from __future__ import annotations

from flask import Response, jsonify

from caldav_bridge.model.schema import appointment_json_schema
from feeds.api.blueprint import bp
from feeds.operations import operation


@operation(
    bp,
    "GET",
    "/schema/appointment.json",
    summary="JSON Schema of the canonical appointment",
    tag="schema",
    responses={200: {"type": "object"}},
    public=True,
)
def appointment_schema() -> Response:
    return jsonify(appointment_json_schema())
