"""The interchange converters' tables as settings (TOML and environment) and as converter options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from caldav_bridge.converters import BlueprintOptions, converter_names, get_converter
from caldav_bridge.converters.blueprint import DEFAULT_EVENT_TYPES, DEFAULT_STATUSES
from caldav_bridge.model.appointment import AppointmentStatus, AppointmentType
from caldav_bridge.runtime import Runtime
from config import SettingsError, load_settings
from tests.converters.support import load_fixture


def _runtime(**overrides: Any) -> Runtime:
    settings = load_settings(environ={}, **overrides)
    return Runtime.from_settings(settings, engine=create_engine("sqlite://"))


def test_blueprint_defaults_are_the_converters_defaults() -> None:
    options = _runtime().converter_options["blueprint"]
    assert dict(options.event_types) == dict(DEFAULT_EVENT_TYPES)
    assert dict(options.statuses) == dict(DEFAULT_STATUSES)
    assert options.include_patient_details is False
    assert options == BlueprintOptions()
    rt = _runtime()
    assert set(rt.converter_options) == set(converter_names())  # every format has its options
    assert dict(rt.converter_options["calendly"].event_types) == {}  # no defaults: account-specific


def test_tables_from_toml(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        "[appointments]\n"
        "blueprint_include_patient_details = true\n"
        "[appointments.blueprint_statuses]\n"
        '7 = "BOOKED"\n'
        '9 = "CANCELLED"\n'
        "[appointments.calendly_event_types]\n"
        '"https://api.calendly.com/event_types/GBGBDCAADAEDCRZ2" = "INITIAL"\n'
        "[appointments.onsched_service_types]\n"
        '6 = "TECH_SETUP"\n'
    )
    settings = load_settings(environ={}, config_file=config)
    rt = Runtime.from_settings(settings, engine=create_engine("sqlite://"))
    blueprint = rt.converter_options["blueprint"]
    assert dict(blueprint.statuses) == {7: AppointmentStatus.BOOKED, 9: AppointmentStatus.CANCELLED}
    assert blueprint.include_patient_details is True
    converted = get_converter("blueprint").to_canonical(load_fixture("blueprint.json"), blueprint)
    assert converted.guests[0].model_extra == {"birthdate": "1977-05-25"}
    calendly = get_converter("calendly").to_canonical(
        load_fixture("calendly_event.json"), rt.converter_options["calendly"]
    )
    assert calendly.meta.type is AppointmentType.INITIAL
    assert dict(rt.converter_options["onsched"].service_types) == {"6": AppointmentType.TECH_SETUP}


def test_tables_from_the_environment() -> None:
    settings = load_settings(
        environ={
            "APPOINTMENTS_TIMEKIT_CALENDAR_TYPES": "bfa0b9fa-36aa-4ae6-8096-f3b20fbed1d2=FOLLOW_UP",
            "APPOINTMENTS_BLUEPRINT_EVENT_TYPES": "1=INITIAL; 12=TECH_SETUP",
            "APPOINTMENTS_BLUEPRINT_INCLUDE_PATIENT_DETAILS": "yes",
        }
    )
    assert settings.blueprint_event_types == {"1": "INITIAL", "12": "TECH_SETUP"}
    assert settings.blueprint_include_patient_details is True
    assert settings.timekit_calendar_types == {"bfa0b9fa-36aa-4ae6-8096-f3b20fbed1d2": "FOLLOW_UP"}


@pytest.mark.parametrize(
    ("environ", "name"),
    [
        ({"APPOINTMENTS_CALENDLY_EVENT_TYPES": "X=LUNCH"}, "APPOINTMENTS_CALENDLY_EVENT_TYPES"),
        ({"APPOINTMENTS_BLUEPRINT_STATUSES": "7=DONE"}, "APPOINTMENTS_BLUEPRINT_STATUSES"),
        ({"APPOINTMENTS_BLUEPRINT_STATUSES": "seven=BOOKED"}, "APPOINTMENTS_BLUEPRINT_STATUSES"),
        ({"APPOINTMENTS_BLUEPRINT_EVENT_TYPES": "1=BOOKED"}, "APPOINTMENTS_BLUEPRINT_EVENT_TYPES"),
        ({"APPOINTMENTS_ONSCHED_SERVICE_TYPES": "no-equals"}, "APPOINTMENTS_ONSCHED_SERVICE_TYPES"),
        ({"APPOINTMENTS_BLUEPRINT_INCLUDE_PATIENT_DETAILS": "maybe"}, "APPOINTMENTS_BLUEPRINT_INCLUDE_PATIENT_DETAILS"),
    ],
)
def test_a_bad_table_names_its_setting(environ: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ=environ)
    assert caught.value.name == name
