"""The registry, the shared error, the canonical format and ConvertedAppointment."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from caldav_bridge.converters import (
    BlueprintOptions,
    ConversionError,
    ConvertedAppointment,
    UnknownFormatError,
    convert_all,
    converter_names,
    get_converter,
)
from caldav_bridge.errors import FieldError, ValidationFailed
from caldav_bridge.model.appointment import AppointmentStatus
from tests.converters.support import IMPORT_CALENDAR, IMPORT_NOW, load_fixture


def test_names() -> None:
    assert converter_names() == [
        "blueprint",
        "calendly",
        "canonical",
        "ical",
        "ols",
        "onsched",
        "salesforce",
        "timekit",
    ]
    for name in converter_names():
        converter = get_converter(name)
        assert converter.name == name
        converter.options_type()  # every format has default options


def test_an_unknown_format_lists_the_known_ones() -> None:
    with pytest.raises(UnknownFormatError, match="known formats: blueprint, calendly"):
        get_converter("outlook")


def test_options_of_another_format_are_refused() -> None:
    with pytest.raises(TypeError, match="calendly takes CalendlyOptions, not BlueprintOptions"):
        get_converter("calendly").to_canonical({}, BlueprintOptions())


def test_a_conversion_error_is_a_validation_failure_with_field_errors() -> None:
    error = ConversionError("blueprint", [FieldError("status", "unknown"), FieldError("end_time", "too early")])
    assert isinstance(error, ValidationFailed) and isinstance(error, ValueError)
    assert error.fields == ["status", "end_time"]
    assert error.format == "blueprint"
    assert str(error) == "blueprint: status: unknown; end_time: too early"
    with pytest.raises(ValueError, match="at least one"):
        ConversionError("blueprint", [])


def test_convert_all_converts_each_item_on_its_own() -> None:
    good = load_fixture("blueprint.json")
    results = convert_all("blueprint", [good, {**good, "status": 6}, "nonsense"])
    assert isinstance(results[0], ConvertedAppointment)
    assert isinstance(results[1], ConversionError) and results[1].fields == ["status"]
    assert isinstance(results[2], ConversionError) and results[2].fields == ["(item)"]


def test_to_appointment_fills_what_only_our_side_knows() -> None:
    converted = get_converter("blueprint").to_canonical(load_fixture("blueprint.json"))
    new_id = uuid.uuid4()
    appointment = converted.to_appointment(id=new_id, calendar=IMPORT_CALENDAR, now=IMPORT_NOW)
    assert appointment.id == new_id
    assert appointment.calendar == IMPORT_CALENDAR
    assert appointment.created_at == appointment.updated_at == IMPORT_NOW


def test_the_verbatim_canonical_sample_names_its_placeholders() -> None:
    with pytest.raises(ConversionError) as caught:
        get_converter("canonical").to_canonical(load_fixture("canonical.json"))
    assert caught.value.fields == ["meta.type", "status"]


def test_the_briefs_initial_spelling_is_accepted() -> None:
    sample: dict[str, Any] = load_fixture("canonical_booked.json") | {"status": "INITAL"}
    assert get_converter("canonical").to_canonical(sample).status is AppointmentStatus.INITIAL


def test_a_canonical_time_without_a_zone_names_the_field() -> None:
    sample: dict[str, Any] = load_fixture("canonical_booked.json") | {"date_start": "2021-05-21T12:30:00"}
    with pytest.raises(ConversionError) as caught:
        get_converter("canonical").to_canonical(sample)
    assert caught.value.fields == ["date_start"]


@pytest.mark.parametrize("name", converter_names())
def test_every_format_refuses_numbers_json_cannot_hold_naming_each_field(name: str) -> None:
    """NaN and infinities (what lenient JSON readers make of ``NaN``, ``Infinity``, ``1e400``) anywhere in an item:
    refused naming the field, never kept (they would be stored as null). Failed before for every format."""
    payload = {"meta": {"type": "FOLLOW_UP", "score": float("nan")}, "list": [1.5, [float("-inf")]], "n": float("inf")}
    with pytest.raises(ConversionError) as caught:
        get_converter(name).to_canonical(payload)
    assert caught.value.fields == ["meta.score", "list.1.0", "n"]
    assert "NaN is not a number" in caught.value.errors[0].message
    assert "out of range (infinite)" in caught.value.errors[2].message


def test_a_canonical_item_with_a_non_finite_meta_number_is_refused_but_finite_ones_are_kept() -> None:
    sample: dict[str, Any] = load_fixture("canonical_booked.json")
    kept = get_converter("canonical").to_canonical({**sample, "meta": {**sample["meta"], "score": 1e308}})
    assert (kept.meta.model_extra or {})["score"] == 1e308
    with pytest.raises(ConversionError) as caught:
        get_converter("canonical").to_canonical({**sample, "meta": {**sample["meta"], "score": 1e308 * 10}})
    assert caught.value.fields == ["meta.score"]
