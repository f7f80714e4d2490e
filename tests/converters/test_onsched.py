"""OnSched: the verbatim sample (a list filter), an appointment record, statuses, and bad input."""

from __future__ import annotations

from typing import Any

import pytest

from caldav_bridge.converters import ConversionError, OnschedOptions
from caldav_bridge.converters.onsched import STATUSES, from_canonical, to_canonical
from caldav_bridge.model.appointment import AppointmentStatus, AppointmentType
from tests.converters.support import (
    IMPORT_CALENDAR,
    IMPORT_ID,
    IMPORT_NOW,
    ONSCHED_OPTIONS,
    canonical_fixture,
    fixture_text,
    load_fixture,
    strip_line_comments,
)


@pytest.fixture
def record() -> dict[str, Any]:
    return load_fixture("onsched_appointment.json")


def _errors(payload: object, options: OnschedOptions | None = ONSCHED_OPTIONS) -> dict[str, str]:
    with pytest.raises(ConversionError) as caught:
        to_canonical(payload, options)
    return {e.field: e.message for e in caught.value.errors}


def test_the_verbatim_sample_is_a_date_range_filter_and_says_so() -> None:
    sample = load_fixture("onsched.jsonc")
    assert _errors(sample) == {
        "id": (
            "is required. This object has no id and date-only startDate/endDate: it is the query of OnSched's "
            "appointment list (its startDate/endDate filter), not an appointment; import the appointments "
            "that list returns"
        ),
        "startDate": "'2021-12-25' is a date without a time of day or zone; expected a timestamp with an offset",
        "endDate": "'2021-12-31' is a date without a time of day or zone; expected a timestamp with an offset",
    }
    assert _errors(sample, None)["serviceId"] == "OnSched serviceId '6' is not mapped; add it to the converter's table"
    # An appointment that merely lacks its id is told only that.
    assert _errors({**sample, "startDate": "2021-12-25T09:00:00-05:00"})["id"] == "is required"


def test_the_comment_stripper_keeps_strings_intact() -> None:
    assert strip_line_comments('{"a": "x//y"} // c\n') == '{"a": "x//y"} \n'
    assert "//" not in strip_line_comments(fixture_text("onsched.jsonc"))


def test_a_record_reads_into_the_canonical_fields(record: dict[str, Any]) -> None:
    converted = to_canonical(record, ONSCHED_OPTIONS)
    assert converted.source_id == "281280"
    assert converted.status is AppointmentStatus.BOOKED
    assert converted.meta.type is AppointmentType.INITIAL
    assert converted.date_start.isoformat() == "2021-12-25T14:30:00+00:00"
    assert converted.calendar_hint is not None and converted.calendar_hint.id == "5"
    guest = converted.guests[0]
    assert (guest.id, guest.last_name, guest.model_extra) == ("23", "Mcfly", {"email": "marty@mcfly.com"})
    assert "calendarId" not in (converted.meta.model_extra or {})["onsched"]  # "" is OnSched's "not set"


@pytest.mark.parametrize(("code", "status"), list(STATUSES.items()))
def test_statuses_map_one_to_one(record: dict[str, Any], code: str, status: AppointmentStatus) -> None:
    converted = to_canonical(record | {"status": code}, ONSCHED_OPTIONS)
    assert converted.status is status
    appointment = converted.to_appointment(id=IMPORT_ID, calendar=IMPORT_CALENDAR, now=IMPORT_NOW)
    assert from_canonical(appointment, ONSCHED_OPTIONS)["status"] == code


def test_start_date_and_end_date_are_read_when_they_are_timestamps(record: dict[str, Any]) -> None:
    del record["startDateTime"], record["endDateTime"]
    record |= {"startDate": "2021-12-25T09:00:00-5:00", "endDate": "2021-12-25T09:30:00-05:00"}
    converted = to_canonical(record, ONSCHED_OPTIONS)
    assert converted.date_start.isoformat() == "2021-12-25T14:00:00+00:00"  # OnSched's documented "-5:00"


def test_export_writes_local_times_in_the_customers_zone() -> None:
    payload = from_canonical(canonical_fixture(), ONSCHED_OPTIONS)
    assert (payload["startDateTime"], payload["timezoneName"]) == ("2021-05-21T08:30:00-04:00", "America/New_York")


def test_an_unmapped_type_on_export_names_meta_type() -> None:
    with pytest.raises(ConversionError) as caught:
        from_canonical(canonical_fixture())
    assert caught.value.fields == ["meta.type"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"status": "XX"}, "status", "unknown OnSched status 'XX'; expected one of IN, RS, BK, CN, RE"),
        ({"status": None}, "status", "is required"),
        ({"serviceId": "99"}, "serviceId", "OnSched serviceId '99' is not mapped; add it to the converter's table"),
        ({"serviceId": ""}, "serviceId", "is required"),
        (
            {"startDateTime": "2021-12-25T09:30:00"},
            "startDateTime",
            "'2021-12-25T09:30:00' has no time zone; add an offset or 'Z'",
        ),
        ({"endDateTime": "2021-12-25T09:00:00-05:00"}, "endDateTime", "must be after the start"),
        ({"customerId": ["23"]}, "customerId", "expected a string or an integer, got an array"),
        ({"timezoneName": "Mars/Olympus_Mons"}, "timezoneName", "unknown IANA time zone 'Mars/Olympus_Mons'"),
    ],
)
def test_bad_input_names_the_field(record: dict[str, Any], change: dict[str, Any], field: str, message: str) -> None:
    assert _errors(record | change) == {field: message}
