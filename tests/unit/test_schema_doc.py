import json
from pathlib import Path

from caldav_bridge.model.schema import appointment_json_schema

DOC = Path(__file__).parents[2] / "docs" / "appointment.schema.json"


def test_docs_copy_of_the_schema_is_current() -> None:
    assert json.loads(DOC.read_text()) == appointment_json_schema(), (
        "regenerate with: python -m caldav_bridge.model.schema > docs/appointment.schema.json"
    )
