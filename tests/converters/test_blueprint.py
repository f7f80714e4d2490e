"""Blueprint: the sample, the tables, privacy, the secret, and bad input."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from caldav_bridge.converters import BlueprintOptions, ConversionError
from caldav_bridge.converters.blueprint import (
    from_canonical,
    join_patient_name,
    parse_time,
    split_patient_name,
    to_canonical,
)
from caldav_bridge.model.appointment import AppointmentStatus, AppointmentType, Meta
from tests.converters.support import IMPORT_CALENDAR, IMPORT_ID, IMPORT_NOW, canonical_fixture, load_fixture

SECRET = "C1JG2I4HWF"


@pytest.fixture
def sample() -> dict[str, Any]:
    return load_fixture("blueprint.json")


def _errors(payload: object, options: BlueprintOptions | None = None) -> dict[str, str]:
    with pytest.raises(ConversionError) as caught:
        to_canonical(payload, options)
    return {e.field: e.message for e in caught.value.errors}


def test_the_verbatim_sample_imports_with_the_default_tables(sample: dict[str, Any]) -> None:
    converted = to_canonical(sample)
    assert converted.source_id == "10999_0"
    assert converted.status is AppointmentStatus.BOOKED
    assert converted.meta.type is AppointmentType.INITIAL
    assert converted.calendar_hint is not None
    assert (converted.calendar_hint.kind, converted.calendar_hint.id) == ("provider", "50")
    assert converted.guests[0].first_name == "Luke"
    assert converted.guests[0].last_name == "Skywalker"


def test_the_secret_is_never_kept_shown_logged_or_exported(
    sample: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    converted = to_canonical(sample)
    appointment = converted.to_appointment(id=IMPORT_ID, calendar=IMPORT_CALENDAR, now=IMPORT_NOW)
    # Even a secret someone wrote into meta by hand is not exported.
    meta = appointment.meta.model_dump()
    meta["blueprint"]["onlineBookingSecret"] = SECRET
    smuggled = appointment.model_copy(update={"meta": Meta.model_validate(meta)})
    shown = [converted.model_dump_json(), repr(converted), str(converted), appointment.model_dump_json()]
    assert not any(SECRET in text for text in shown)
    assert "onlineBookingSecret" not in from_canonical(appointment)
    assert "onlineBookingSecret" not in from_canonical(smuggled)
    with pytest.raises(ConversionError) as caught:
        to_canonical(sample | {"status": 6, "onlineBookingSecret": SECRET})
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value.errors)
    assert caplog.records == []


def test_birthdate_is_carried_only_when_patient_details_are_allowed(sample: dict[str, Any]) -> None:
    private = to_canonical(sample)
    assert "birthdate" not in (private.guests[0].model_extra or {})
    allowed = BlueprintOptions(include_patient_details=True)
    converted = to_canonical(sample, allowed)
    assert converted.guests[0].model_extra == {"birthdate": "1977-05-25"}
    appointment = converted.to_appointment(id=IMPORT_ID, calendar=IMPORT_CALENDAR, now=IMPORT_NOW)
    assert from_canonical(appointment, allowed)["birthdate"] == "1977-05-25"
    assert "birthdate" not in from_canonical(appointment)


def test_a_bad_birthdate_is_reported_without_its_value(sample: dict[str, Any]) -> None:
    errors = _errors(sample | {"birthdate": "25.05.1977"}, BlueprintOptions(include_patient_details=True))
    assert errors == {"birthdate": "expected a date, YYYY-MM-DD"}
    assert to_canonical(sample | {"birthdate": "25.05.1977"}).source_id == "10999_0"  # not read when private


def test_tables_are_configurable_and_accept_configuration_file_spellings(sample: dict[str, Any]) -> None:
    # As a TOML or JSON file gives them: string keys, string values.
    config: dict[str, Any] = {"event_types": {"1": "TECH_SETUP"}, "statuses": {"7": "RESERVED", "2": "CANCELLED"}}
    converted = to_canonical(sample, BlueprintOptions(**config))
    assert converted.meta.type is AppointmentType.TECH_SETUP
    assert converted.status is AppointmentStatus.RESERVED
    with pytest.raises(ValueError, match="LATER"):
        BlueprintOptions(statuses=config["event_types"] | {"1": "LATER"})


def test_export_prefers_the_code_the_appointment_came_with(sample: dict[str, Any]) -> None:
    appointment = to_canonical(sample).to_appointment(id=IMPORT_ID, calendar=IMPORT_CALENDAR, now=IMPORT_NOW)
    assert from_canonical(appointment)["status"] == 7  # not 3, the first BOOKED code
    cancelled = appointment.model_copy(update={"status": AppointmentStatus.CANCELLED})
    assert from_canonical(cancelled)["status"] == 4
    assert from_canonical(cancelled)["busy"] is False


def test_export_without_a_code_for_the_status_or_type_names_the_canonical_field() -> None:
    options = BlueprintOptions(event_types={5: AppointmentType.FOLLOW_UP}, statuses={9: AppointmentStatus.CANCELLED})
    with pytest.raises(ConversionError) as caught:
        from_canonical(canonical_fixture(), options)
    assert caught.value.fields == ["status", "meta.type"]


def test_export_of_an_appointment_from_elsewhere_uses_our_ids() -> None:
    payload = from_canonical(canonical_fixture())
    assert payload["appointment_id"] == "248dd2b0-7410-40e5-829d-99415c6837a2"
    assert (payload["provider_id"], payload["provider"]) == ("CALENDAR_ID", "NAME")
    assert (payload["eventTypeId"], payload["status"]) == (1, 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2015-09-02 19:00:00", "'2015-09-02 19:00:00' has no time zone; expected 'YYYY-MM-DD HH:MM:SS GMT'"),
        (
            "2015-09-02 19:00:00 CET",
            "'2015-09-02 19:00:00 CET' is in zone 'CET', not GMT; expected 'YYYY-MM-DD HH:MM:SS GMT'",
        ),
        ("2015-09-02T19:00:00Z", "'2015-09-02T19:00:00Z' is not 'YYYY-MM-DD HH:MM:SS GMT'"),
        ("2015-02-30 19:00:00 GMT", "'2015-02-30 19:00:00 GMT' is not a valid date and time"),
    ],
)
def test_times_need_blueprints_spelling_with_the_zone(sample: dict[str, Any], text: str, message: str) -> None:
    assert _errors(sample | {"start_time": text}) == {"start_time": message}


def test_every_bad_field_is_named_at_once(sample: dict[str, Any]) -> None:
    bad = sample | {"status": 6, "eventTypeId": 9, "end_time": "2015-09-02 18:00:00 GMT", "patient_id": {"id": 15}}
    del bad["appointment_id"]
    assert _errors(bad) == {
        "appointment_id": "is required",
        "end_time": "must be after the start",
        "status": "Blueprint status 6 is not mapped; add it to the converter's table",
        "eventTypeId": "Blueprint eventTypeId 9 is not mapped; add it to the converter's table",
        "patient_id": "expected a string or an integer, got an object",
    }


@pytest.mark.parametrize("payload", [[], "appointment", None, 7])
def test_an_item_that_is_not_an_object_is_one_error(payload: object) -> None:
    assert list(_errors(payload)) == ["(item)"]


def test_wrong_json_types_name_the_field(sample: dict[str, Any]) -> None:
    assert _errors(sample | {"status": "seven"}) == {"status": "expected an integer code"}
    assert _errors(sample | {"busy": "yes"}) == {"busy": "expected true or false, got a string"}
    assert _errors(sample | {"status": True}) == {"status": "expected a string or an integer, got a boolean"}


def test_a_model_limit_is_reported_under_the_blueprint_field(sample: dict[str, Any]) -> None:
    errors = _errors(sample | {"summary": "x" * 300, "patient_id": "p" * 70})
    assert set(errors) == {"summary", "patient_id"}


def test_numeric_strings_are_codes_too(sample: dict[str, Any]) -> None:
    assert to_canonical(sample | {"status": "7", "eventTypeId": "2"}).meta.type is AppointmentType.FOLLOW_UP


def test_patient_names() -> None:
    assert split_patient_name("Skywalker, Luke") == ("Skywalker", "Luke")
    assert split_patient_name("Organa") == ("Organa", None)
    assert split_patient_name(", Leia") == (None, "Leia")
    assert join_patient_name("Skywalker", "Luke") == "Skywalker, Luke"
    assert join_patient_name(None, "Leia") == ", Leia"
    assert join_patient_name(None, None) is None


def test_parse_time_is_utc() -> None:
    assert parse_time("2015-09-02 19:00:00 GMT").isoformat() == "2015-09-02T19:00:00+00:00"
