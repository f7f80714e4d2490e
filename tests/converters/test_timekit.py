"""Timekit: the sample, states, offsets, customers, and bad input."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest

from caldav_bridge.converters import ConversionError, TimekitOptions
from caldav_bridge.converters.timekit import STATES, from_canonical, split_name, to_canonical
from caldav_bridge.model.appointment import AppointmentStatus, AppointmentType
from tests.converters.support import (
    IMPORT_CALENDAR,
    IMPORT_ID,
    IMPORT_NOW,
    TIMEKIT_CALENDAR,
    TIMEKIT_OPTIONS,
    canonical_fixture,
    load_fixture,
)


@pytest.fixture
def sample() -> dict[str, Any]:
    return load_fixture("timekit.json")


def _errors(payload: object, options: TimekitOptions | None = TIMEKIT_OPTIONS) -> dict[str, str]:
    with pytest.raises(ConversionError) as caught:
        to_canonical(payload, options)
    return {e.field: e.message for e in caught.value.errors}


def _with_event_info(sample: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(sample)
    changed["attributes"]["event_info"].update(changes)
    return changed


def test_the_verbatim_sample_needs_its_calendar_in_the_table(sample: dict[str, Any]) -> None:
    assert _errors(sample, None) == {
        "calendar.id": f"Timekit calendar {TIMEKIT_CALENDAR!r} is not mapped; add it to the converter's table"
    }
    converted = to_canonical(sample, TIMEKIT_OPTIONS)
    assert converted.status is AppointmentStatus.BOOKED
    assert converted.meta.type is AppointmentType.INITIAL
    assert converted.date_start.isoformat() == "1955-11-13T04:30:00+00:00"  # 21:30 at -07:00
    assert converted.created_at is not None and converted.created_at.isoformat() == "2016-02-11T11:39:45+00:00"
    guest = converted.guests[0]
    assert (guest.first_name, guest.last_name, guest.timezone) == ("Marty", "McFly", "America/Los_Angeles")


def test_the_round_trip_keeps_every_instant(sample: dict[str, Any]) -> None:
    appointment = to_canonical(sample, TIMEKIT_OPTIONS).to_appointment(
        id=IMPORT_ID, calendar=IMPORT_CALENDAR, now=IMPORT_NOW
    )
    payload = from_canonical(appointment, TIMEKIT_OPTIONS)
    for key in ("start", "end"):
        written = datetime.fromisoformat(payload["attributes"]["event_info"][key])
        assert written == datetime.fromisoformat(sample["attributes"]["event_info"][key])
    for key in ("created_at", "updated_at"):
        assert datetime.fromisoformat(payload[key]) == datetime.fromisoformat(sample[key])
    unchanged = {k: v for k, v in sample.items() if k not in ("attributes", "created_at", "updated_at")}
    assert {k: payload[k] for k in unchanged if k in payload} == {
        k: v for k, v in unchanged.items() if k != "available_actions"
    }


@pytest.mark.parametrize(("state", "status"), list(STATES.items()))
def test_states(sample: dict[str, Any], state: str, status: AppointmentStatus) -> None:
    assert to_canonical(sample | {"state": state}, TIMEKIT_OPTIONS).status is status


def test_a_tentative_booking_does_not_hold_the_slot(sample: dict[str, Any]) -> None:
    assert to_canonical(sample | {"state": "tentative"}, TIMEKIT_OPTIONS).status is AppointmentStatus.INITIAL


def test_export_keeps_the_state_it_came_with_while_it_still_fits(sample: dict[str, Any]) -> None:
    declined = to_canonical(sample | {"state": "declined", "completed": True}, TIMEKIT_OPTIONS)
    appointment = declined.to_appointment(id=IMPORT_ID, calendar=IMPORT_CALENDAR, now=IMPORT_NOW)
    assert from_canonical(appointment, TIMEKIT_OPTIONS)["state"] == "declined"
    booked = from_canonical(appointment.model_copy(update={"status": AppointmentStatus.BOOKED}), TIMEKIT_OPTIONS)
    assert (booked["state"], booked["completed"]) == ("confirmed", False)


def test_reserved_has_no_timekit_state() -> None:
    appointment = canonical_fixture().model_copy(update={"status": AppointmentStatus.RESERVED})
    with pytest.raises(ConversionError) as caught:
        from_canonical(appointment, TIMEKIT_OPTIONS)
    assert caught.value.fields == ["status"]


def test_export_writes_local_times_in_the_guests_zone() -> None:
    info = from_canonical(canonical_fixture(), TIMEKIT_OPTIONS)["attributes"]["event_info"]
    assert (info["start"], info["end"]) == ("2021-05-21T08:30:00-04:00", "2021-05-21T09:30:00-04:00")


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("error", "a booking in state 'error' failed in Timekit and has no canonical status"),
        ("teleported", "unknown Timekit state 'teleported'; expected one of " + ", ".join(STATES)),
    ],
)
def test_unknown_and_failed_states_are_errors(sample: dict[str, Any], state: str, message: str) -> None:
    assert _errors(sample | {"state": state}) == {"state": message}


def test_a_time_without_offset_names_the_nested_field(sample: dict[str, Any]) -> None:
    assert _errors(_with_event_info(sample, start="1955-11-12T21:30:00")) == {
        "attributes.event_info.start": "'1955-11-12T21:30:00' has no time zone; add an offset or 'Z'"
    }
    assert _errors(_with_event_info(sample, end="1955-11-12T21:00:00-07:00")) == {
        "attributes.event_info.end": "must be after the start"
    }


def test_wrong_shapes_name_the_field(sample: dict[str, Any]) -> None:
    assert _errors(sample | {"attributes": []}) == {"attributes": "expected an object, got an array"}
    assert _errors(sample | {"customers": [42]}) == {"customers.0": "expected an object"}
    assert _errors(sample | {"calendar": None}) == {"calendar": "is required"}
    bad_zone = copy.deepcopy(sample)
    bad_zone["customers"][0]["timezone"] = "Hill Valley/Clock Tower"
    assert list(_errors(bad_zone)) == ["customers.0.timezone"]


def test_names_split_at_the_first_space() -> None:
    assert split_name("Marty McFly") == ("Marty", "McFly")
    assert split_name("Emmett Lathrop Brown") == ("Emmett", "Lathrop Brown")
    assert split_name("Einstein") == ("Einstein", None)


def test_where_is_meta_location_both_ways(sample: dict[str, Any]) -> None:
    converted = to_canonical(_with_event_info(sample, where="Main St 1, Denver"), TIMEKIT_OPTIONS)
    assert converted.meta.model_extra is not None
    assert converted.meta.model_extra["location"] == "Main St 1, Denver"
    appointment = converted.to_appointment(id=IMPORT_ID, calendar=IMPORT_CALENDAR, now=IMPORT_NOW)
    moved = appointment.model_copy(update={"meta": appointment.meta.model_copy(update={"location": "Shop"})})
    assert from_canonical(moved, TIMEKIT_OPTIONS)["attributes"]["event_info"]["where"] == "Shop"
    gone = appointment.meta.model_dump()
    del gone["location"]
    no_place = appointment.model_copy(update={"meta": type(appointment.meta).model_validate(gone)})
    assert "where" not in from_canonical(no_place, TIMEKIT_OPTIONS)["attributes"]["event_info"]
