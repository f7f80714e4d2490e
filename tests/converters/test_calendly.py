"""Calendly: the samples, reschedules, event types, and bad input."""

from __future__ import annotations

from typing import Any

import pytest

from caldav_bridge.converters import CalendlyOptions, ConversionError
from caldav_bridge.converters.calendly import from_canonical, to_canonical
from caldav_bridge.model.appointment import AppointmentStatus, AppointmentType
from tests.converters.support import (
    CALENDLY_EVENT_TYPE,
    CALENDLY_OPTIONS,
    IMPORT_CALENDAR,
    IMPORT_ID,
    IMPORT_NOW,
    canonical_fixture,
    load_fixture,
)


@pytest.fixture
def event() -> dict[str, Any]:
    return load_fixture("calendly_event.json")


def _errors(payload: object, options: CalendlyOptions | None = CALENDLY_OPTIONS) -> dict[str, str]:
    with pytest.raises(ConversionError) as caught:
        to_canonical(payload, options)
    return {e.field: e.message for e in caught.value.errors}


def test_the_verbatim_sample_cannot_import_and_says_why() -> None:
    sample = load_fixture("calendly.json")
    # The brief's sample starts and ends at the same instant; with no table its event type is unmapped too.
    zero_length = (
        "equals the start (2019-08-24T14:15:22Z): an appointment must last some time, and a zero-length event "
        "cannot hold a slot; send the real end"
    )
    assert _errors(sample) == {"end_time": zero_length}
    assert _errors(sample, None) == {
        "event_type": f"Calendly event type {CALENDLY_EVENT_TYPE!r} is not mapped; add it to the converter's table",
        "end_time": zero_length,
    }
    # An end before the start is told apart from an end equal to it.
    assert _errors({**sample, "end_time": "2019-08-24T14:00:00Z"}) == {"end_time": "must be after the start"}


def test_an_event_reads_into_the_canonical_fields(event: dict[str, Any]) -> None:
    converted = to_canonical(event, CALENDLY_OPTIONS)
    assert converted.source_id == "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2"
    assert converted.status is AppointmentStatus.BOOKED
    assert converted.meta.type is AppointmentType.INITIAL
    assert converted.calendar_hint is not None
    assert converted.calendar_hint.id == "https://api.calendly.com/users/GBGBDCAADAEDCRZ2"
    assert [g.model_extra for g in converted.guests] == [event["event_guests"][0]]


def test_event_types_are_found_by_uri_or_uuid(event: dict[str, Any]) -> None:
    by_uuid = CalendlyOptions(event_types={"GBGBDCAADAEDCRZ2": AppointmentType.TECH_SETUP})
    assert to_canonical(event, by_uuid).meta.type is AppointmentType.TECH_SETUP
    follow_up = canonical_fixture().model_copy(
        update={"meta": canonical_fixture().meta.model_copy(update={"type": "FOLLOW_UP"})}
    )
    assert from_canonical(follow_up, CALENDLY_OPTIONS)["event_type"] == (
        "https://api.calendly.com/event_types/FOLLOWUP0000000A"
    )


def test_a_canceled_event_is_cancelled_or_rescheduled(event: dict[str, Any]) -> None:
    canceled = event | {"status": "canceled"}
    assert to_canonical(canceled, CALENDLY_OPTIONS).status is AppointmentStatus.CANCELLED
    rescheduled = to_canonical(canceled | {"rescheduled": True}, CALENDLY_OPTIONS)
    assert rescheduled.status is AppointmentStatus.RESCHEDULED
    appointment = rescheduled.to_appointment(id=IMPORT_ID, calendar=IMPORT_CALENDAR, now=IMPORT_NOW)
    payload = from_canonical(appointment, CALENDLY_OPTIONS)
    assert (payload["status"], payload["rescheduled"]) == ("canceled", True)
    assert _errors(event | {"rescheduled": True}) == {"rescheduled": "only a canceled event can have been rescheduled"}


def test_the_cancellation_goes_back_only_while_cancelled(event: dict[str, Any]) -> None:
    cancellation = {"canceled_by": "Marty", "reason": "Out of plutonium", "canceler_type": "invitee"}
    converted = to_canonical(event | {"status": "canceled", "cancellation": cancellation}, CALENDLY_OPTIONS)
    appointment = converted.to_appointment(id=IMPORT_ID, calendar=IMPORT_CALENDAR, now=IMPORT_NOW)
    assert from_canonical(appointment, CALENDLY_OPTIONS)["cancellation"] == cancellation
    booked = appointment.model_copy(update={"status": AppointmentStatus.BOOKED})
    assert "cancellation" not in from_canonical(booked, CALENDLY_OPTIONS)


@pytest.mark.parametrize("status", [AppointmentStatus.INITIAL, AppointmentStatus.RESERVED])
def test_statuses_calendly_has_no_word_for_are_an_error(status: AppointmentStatus) -> None:
    appointment = canonical_fixture().model_copy(update={"status": status})
    with pytest.raises(ConversionError) as caught:
        from_canonical(appointment, CALENDLY_OPTIONS)
    assert caught.value.fields == ["status"]


def test_an_unmapped_type_on_export_names_meta_type() -> None:
    with pytest.raises(ConversionError) as caught:
        from_canonical(canonical_fixture())
    assert caught.value.fields == ["meta.type"]


def test_only_guests_with_an_email_address_are_exported() -> None:
    payload = from_canonical(canonical_fixture(), CALENDLY_OPTIONS)
    assert payload["event_guests"] == []  # the brief's canonical guest has a name but no address


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"status": "pending"}, "status", "unknown Calendly status 'pending'; expected 'active' or 'canceled'"),
        (
            {"start_time": "2019-08-24T14:15:22"},
            "start_time",
            "'2019-08-24T14:15:22' has no time zone; add an offset or 'Z'",
        ),
        (
            {"start_time": "2019-08-24"},
            "start_time",
            "'2019-08-24' is a date without a time of day or zone; expected a timestamp with an offset",
        ),
        ({"start_time": "soon"}, "start_time", "'soon' is not an ISO 8601 timestamp"),
        ({"event_guests": {"email": "a@b.c"}}, "event_guests", "expected an array, got an object"),
        ({"event_guests": [{"name": "Doc"}]}, "event_guests.0.email", "is required"),
        ({"event_guests": ["doc@example.com"]}, "event_guests.0", "expected an object"),
        ({"event_memberships": [{}]}, "event_memberships.0.user", "is required"),
        ({"uri": None}, "uri", "is required"),
        ({"uri": ""}, "uri", "is required"),
        (
            {"created_at": "2019-01-02T03:04:05"},
            "created_at",
            "'2019-01-02T03:04:05' has no time zone; add an offset or 'Z'",
        ),
    ],
)
def test_bad_input_names_the_field(event: dict[str, Any], change: dict[str, Any], field: str, message: str) -> None:
    assert _errors(event | change) == {field: message}


def test_a_bad_guest_time_names_the_guest(event: dict[str, Any]) -> None:
    guests = [{"email": "a@example.com", "created_at": "2019-08-24T14:15:22"}]
    assert list(_errors(event | {"event_guests": guests})) == ["event_guests.0.created_at"]


def test_too_many_guests_is_an_error_on_event_guests(event: dict[str, Any]) -> None:
    guests = [{"email": f"guest{i}@example.com"} for i in range(51)]
    assert list(_errors(event | {"event_guests": guests})) == ["event_guests"]


def test_a_place_is_meta_location_both_ways_and_a_phone_number_never(event: dict[str, Any]) -> None:
    event["location"] = {"type": "physical", "location": "Main St 1, Denver"}
    converted = to_canonical(event, CALENDLY_OPTIONS)
    assert converted.meta.model_extra is not None
    assert converted.meta.model_extra["location"] == "Main St 1, Denver"
    appointment = converted.to_appointment(id=IMPORT_ID, calendar=IMPORT_CALENDAR, now=IMPORT_NOW)
    moved = appointment.model_copy(update={"meta": appointment.meta.model_copy(update={"location": "Shop, 5 Elm St"})})
    assert from_canonical(moved, CALENDLY_OPTIONS)["location"] == {"type": "physical", "location": "Shop, 5 Elm St"}
    gone = appointment.meta.model_dump()
    del gone["location"]
    no_place = appointment.model_copy(update={"meta": type(appointment.meta).model_validate(gone)})
    assert "location" not in from_canonical(no_place, CALENDLY_OPTIONS)  # the place was removed here
    # the host calls the invitee: that number is the customer's, not a place calendars may show
    event["location"] = {"type": "outbound_call", "location": "+1 303 555 0100"}
    called = to_canonical(event, CALENDLY_OPTIONS)
    assert "location" not in (called.meta.model_extra or {})
    again = called.to_appointment(id=IMPORT_ID, calendar=IMPORT_CALENDAR, now=IMPORT_NOW)
    assert from_canonical(again, CALENDLY_OPTIONS)["location"] == event["location"]
