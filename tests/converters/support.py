"""Fixtures, golden files and the option tables the converter tests share."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from caldav_bridge.converters import CalendlyOptions, OnschedOptions, TimekitOptions
from caldav_bridge.model.appointment import Appointment, AppointmentType, CalendarRef

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
GOLDEN = HERE / "golden"

#: Set UPDATE_GOLDEN=1 to rewrite the golden files from the current output (then read the diff).
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"

#: What the import service would give an imported item; fixed so that golden files are stable.
IMPORT_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
IMPORT_CALENDAR = CalendarRef(id="cal-fitter-1", name="Fitter One")
IMPORT_NOW = datetime(2021, 6, 1, 8, 0, tzinfo=UTC)

CALENDLY_EVENT_TYPE = "https://api.calendly.com/event_types/GBGBDCAADAEDCRZ2"
CALENDLY_OPTIONS = CalendlyOptions(
    event_types={
        CALENDLY_EVENT_TYPE: AppointmentType.INITIAL,
        "FOLLOWUP0000000A": AppointmentType.FOLLOW_UP,
        "https://api.calendly.com/event_types/TECHSETUP000000A": AppointmentType.TECH_SETUP,
    }
)
TIMEKIT_CALENDAR = "bfa0b9fa-36aa-4ae6-8096-f3b20fbed1d2"
TIMEKIT_OPTIONS = TimekitOptions(
    calendar_types={
        TIMEKIT_CALENDAR: AppointmentType.INITIAL,
        "0c8a8f53-2f4c-4d8e-9d41-4b8e9c1f0a11": AppointmentType.FOLLOW_UP,
        "5d2b6f0e-8c7a-4b1e-a1f3-2e9d7c6b5a40": AppointmentType.TECH_SETUP,
    }
)
ONSCHED_OPTIONS = OnschedOptions(
    service_types={"6": AppointmentType.INITIAL, "7": AppointmentType.FOLLOW_UP, "8": AppointmentType.TECH_SETUP}
)


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def load_fixture(name: str) -> Any:
    text = fixture_text(name)
    return json.loads(strip_line_comments(text) if name.endswith(".jsonc") else text)


def strip_line_comments(text: str) -> str:
    """JSON with ``//`` comments (the brief's OnSched sample) as JSON: comments outside strings removed."""
    out = []
    in_string = escaped = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end == -1 else end
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def canonical_fixture(name: str = "canonical_booked.json") -> Appointment:
    return Appointment.model_validate(load_fixture(name))


def assert_golden(relative: str, actual: Any) -> None:
    """``actual`` (JSON-able) equals the golden file; with UPDATE_GOLDEN=1 the file is rewritten instead."""
    path = GOLDEN / relative
    text = json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if UPDATE_GOLDEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"golden file {path} is missing: run the tests once with UPDATE_GOLDEN=1 and read it"
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert actual == expected, f"output differs from {path} (UPDATE_GOLDEN=1 rewrites it)"
