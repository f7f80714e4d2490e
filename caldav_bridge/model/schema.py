"""The JSON Schema of the canonical appointment (served by the API, kept in ``docs/``).

``python -m caldav_bridge.model.schema > docs/appointment.schema.json`` regenerates the docs copy;
a test fails when the two differ.
"""

from __future__ import annotations

import json
from typing import Any

from caldav_bridge.model.appointment import Appointment

__all__ = ["appointment_json_schema"]


def appointment_json_schema() -> dict[str, Any]:
    schema = Appointment.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "appointment.json", **schema}


if __name__ == "__main__":
    print(json.dumps(appointment_json_schema(), indent=2, ensure_ascii=False))
