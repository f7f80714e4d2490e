"""Golden files, both directions, from the brief's samples.

* ``golden/<format>/to_canonical.json``: the format's sample read (``ConvertedAppointment`` as JSON);
* ``golden/<format>/from_canonical.json``: the brief's canonical sample (``canonical_booked.json``) written;
* ``golden/<format>/round_trip.json``: the sample read, given our id and calendar, and written back.

``UPDATE_GOLDEN=1`` rewrites them; read the diff before committing.
"""

from __future__ import annotations

from typing import Any

import pytest

from caldav_bridge.converters import BlueprintOptions, OlsOptions, get_converter
from caldav_bridge.converters.ical_items import read_calendar
from config.settings import DEFAULT_OLS_STATUS_LABELS, DEFAULT_OLS_TYPE_LABELS
from tests.converters.support import (
    CALENDLY_OPTIONS,
    IMPORT_CALENDAR,
    IMPORT_ID,
    IMPORT_NOW,
    ONSCHED_OPTIONS,
    TIMEKIT_OPTIONS,
    assert_golden,
    canonical_fixture,
    fixture_text,
    load_fixture,
)

OLS_OPTIONS = OlsOptions(type_labels=DEFAULT_OLS_TYPE_LABELS, status_labels=DEFAULT_OLS_STATUS_LABELS)
#: format, sample, options, golden folder
CASES = [
    ("canonical", "canonical_booked.json", None, "canonical"),
    ("blueprint", "blueprint.json", BlueprintOptions(), "blueprint"),
    ("blueprint", "blueprint.json", BlueprintOptions(include_patient_details=True), "blueprint-patient-details"),
    ("calendly", "calendly_event.json", CALENDLY_OPTIONS, "calendly"),
    ("timekit", "timekit.json", TIMEKIT_OPTIONS, "timekit"),
    ("onsched", "onsched_appointment.json", ONSCHED_OPTIONS, "onsched"),
    ("ols", "ols.json", OLS_OPTIONS, "ols"),
]
IDS = [case[3] for case in CASES]


@pytest.mark.parametrize(("name", "sample", "options", "folder"), CASES, ids=IDS)
def test_to_canonical(name: str, sample: str, options: Any, folder: str) -> None:
    converted = get_converter(name).to_canonical(load_fixture(sample), options)
    assert_golden(f"{folder}/to_canonical.json", converted.model_dump(mode="json"))


@pytest.mark.parametrize(("name", "sample", "options", "folder"), CASES, ids=IDS)
def test_from_canonical(name: str, sample: str, options: Any, folder: str) -> None:
    payload = get_converter(name).from_canonical(canonical_fixture(), options)
    assert_golden(f"{folder}/from_canonical.json", payload)


@pytest.mark.parametrize(("name", "sample", "options", "folder"), CASES, ids=IDS)
def test_round_trip(name: str, sample: str, options: Any, folder: str) -> None:
    converter = get_converter(name)
    converted = converter.to_canonical(load_fixture(sample), options)
    appointment = converted.to_appointment(id=IMPORT_ID, calendar=IMPORT_CALENDAR, now=IMPORT_NOW)
    assert_golden(f"{folder}/round_trip.json", converter.from_canonical(appointment, options))


def test_the_briefs_ical_sample_both_ways() -> None:
    """The brief's iCal sample is a whole file: read it into items, then as the other formats."""
    (item,) = read_calendar(fixture_text("ical.ics"))
    assert_golden("ical/items.json", item)
    converter = get_converter("ical")
    converted = converter.to_canonical(item)
    assert_golden("ical/to_canonical.json", converted.model_dump(mode="json"))
    assert_golden("ical/from_canonical.json", converter.from_canonical(canonical_fixture()))
    appointment = converted.to_appointment(id=IMPORT_ID, calendar=IMPORT_CALENDAR, now=IMPORT_NOW)
    assert_golden("ical/round_trip.json", converter.from_canonical(appointment))
