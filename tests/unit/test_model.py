"""The canonical model: the brief's JSON, validated and serialised exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from caldav_bridge.model import Appointment, format_timestamp, parse_timestamp

# The brief's canonical example, with its placeholders filled in and "INITAL" as the brief spells it.
BRIEF = {
    "calendar": {"id": "CALENDAR_ID", "name": "NAME"},
    "created_at": "2021-05-21T07:46:31.000Z",
    "date_end": "2021-05-21T13:30:00.000Z",
    "date_start": "2021-05-21T12:30:00.000Z",
    "description": "DESCRIPTION",
    "guests": [
        {
            "first_name": "FIRST_NAME",
            "id": "CUSTOMER_ID",
            "last_name": "LAST_NAME",
            "timezone": "America/New_York",
            "phone_preference": "sms",
        }
    ],
    "id": "248dd2b0-7410-40e5-829d-99415c6837a2",
    "meta": {
        "salesforce": {
            "appointment_gid": "APPOINTMENT_GID",
            "opportunity_gid": "OPPORTUNITY_GID",
            "customer_gid": "CUSTOMER_GID",
        },
        "type": "INITIAL",
        "channel": "phone",
    },
    "name": "NAME",
    "status": "INITAL",
    "updated_at": "2021-05-21T07:46:31.000Z",
}


def test_brief_example_round_trips_with_extras_kept_and_initial_spelled_right() -> None:
    appointment = Appointment.model_validate(BRIEF)
    out = appointment.model_dump(mode="json")
    assert out == {**BRIEF, "status": "INITIAL"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"date_start": "2021-05-21T12:30:00"}, "date_start"),
        ({"date_end": "2021-05-21T12:00:00.000Z"}, None),
        ({"status": "PENDING"}, "status"),
        ({"meta": {"type": "CHECKUP"}}, "meta.type"),
        ({"guests": [{"timezone": "Not/AZone"}]}, "guests.0.timezone"),
        ({"name": "x" * 256}, "name"),
        ({"id": "not-a-uuid"}, "id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_appointments_name_the_field(change: dict[str, object], field: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        Appointment.model_validate({**BRIEF, **change})
    locations = [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]
    if field is None:
        assert "date_end must be after date_start" in str(caught.value)
    else:
        assert field in locations


def test_timestamp_format() -> None:
    value = datetime(2021, 5, 21, 9, 46, 31, 123456, tzinfo=UTC) + timedelta(hours=0)
    assert format_timestamp(value) == "2021-05-21T09:46:31.123Z"
    assert parse_timestamp("2021-05-21T11:46:31.5+02:00") == datetime(2021, 5, 21, 9, 46, 31, 500000, tzinfo=UTC)
    with pytest.raises(ValueError, match="time zone"):
        parse_timestamp("2021-05-21T11:46:31")


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.timezones()))
def test_format_then_parse_is_the_same_instant_to_the_millisecond(value: datetime) -> None:
    parsed = parse_timestamp(format_timestamp(value))
    assert abs(parsed - value) < timedelta(milliseconds=1)
    assert format_timestamp(parsed) == format_timestamp(value)


def test_an_appointment_may_last_at_most_fourteen_days() -> None:
    Appointment.model_validate({**BRIEF, "date_end": "2021-06-04T12:30:00.000Z"})
    with pytest.raises(ValidationError, match="at most 14 days"):
        Appointment.model_validate({**BRIEF, "date_end": "2021-06-04T12:30:00.001Z"})


@pytest.mark.parametrize(
    ("start", "end"),
    [("1899-12-31T23:00:00Z", "1900-01-01T01:00:00Z"), ("2199-12-31T23:30:00Z", "2200-01-01T00:30:00Z")],
)
def test_appointments_must_lie_between_1900_and_2200(start: str, end: str) -> None:
    with pytest.raises(ValidationError, match="between 1900 and 2200"):
        Appointment.model_validate({**BRIEF, "date_start": start, "date_end": end})
