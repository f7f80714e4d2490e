"""The JSON Schema of the canonical appointment, as served and as kept in ``docs/``."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from caldav_bridge.model.appointment import Appointment
from feeds.api import bp
from feeds.operations import operation

SCHEMA_ID = "appointment.json"


def appointment_json_schema() -> dict[str, Any]:
    schema = Appointment.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


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
