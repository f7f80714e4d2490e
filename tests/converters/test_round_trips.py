"""Hypothesis round trips.

1. canonical → format → canonical keeps every field the format can carry. Each ``*_view`` below is the
   list of what a format carries (``docs/converters.md`` says the same in prose), applied to both sides.
2. format → canonical → format is stable: exporting what was imported gives the same payload.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from caldav_bridge.converters import (
    BlueprintOptions,
    ConversionError,
    ConvertedAppointment,
    IcalOptions,
    OlsOptions,
    SalesforceMapping,
    get_converter,
)
from caldav_bridge.converters.timekit import join_name
from caldav_bridge.model.appointment import Appointment, AppointmentStatus
from config.settings import DEFAULT_OLS_STATUS_LABELS, DEFAULT_OLS_TYPE_LABELS
from tests.converters.strategies import appointments
from tests.converters.support import CALENDLY_OPTIONS, ONSCHED_OPTIONS, TIMEKIT_OPTIONS

PROPERTY = settings(max_examples=100, deadline=None)

Item = Appointment | ConvertedAppointment


def _calendar(item: Item) -> tuple[str, str | None] | None:
    if isinstance(item, Appointment):
        return item.calendar.id, item.calendar.name
    return (item.calendar_hint.id, item.calendar_hint.name) if item.calendar_hint else None


def _extra(guest: Any, key: str) -> Any:
    return (guest.model_extra or {}).get(key)


def _common(item: Item) -> dict[str, Any]:
    return {
        "start": item.date_start,
        "end": item.date_end,
        "name": item.name,
        "status": item.status,
        "type": item.meta.type,
    }


def blueprint_view(item: Item, include_patient_details: bool) -> dict[str, Any]:
    """Whole seconds; the first guest's id and names (and birthdate if allowed); our calendar as provider."""
    guest = None
    if item.guests:
        g = item.guests[0]
        guest = {"id": g.id, "first_name": g.first_name, "last_name": g.last_name}
        if include_patient_details:
            guest["birthdate"] = _extra(g, "birthdate")
        guest = guest if any(guest.values()) else None
    return {
        **_common(item),
        "start": item.date_start.replace(microsecond=0),
        "end": item.date_end.replace(microsecond=0),
        "description": item.description,
        "guest": guest,
        "calendar": _calendar(item),
    }


def _place(item: Item) -> str | None:
    """``meta.location`` where it is a text that is not blank (a format's place field)."""
    value = (item.meta.model_extra or {}).get("location")
    return value if isinstance(value, str) and value.strip() else None


def calendly_view(item: Item) -> dict[str, Any]:
    """Milliseconds; created/updated; guests only as e-mail addresses; our calendar as host; the place."""
    return {
        **_common(item),
        "location": _place(item),
        "description": item.description,
        "created": item.created_at,
        "updated": item.updated_at,
        "emails": [_extra(g, "email") for g in item.guests if _extra(g, "email")],
        "calendar": _calendar(item),
    }


def timekit_view(item: Item) -> dict[str, Any]:
    """Milliseconds; created/updated; every guest with one name string; not our calendar; the place (``where``)."""
    return {
        **_common(item),
        "location": _place(item),
        "description": item.description,
        "created": item.created_at,
        "updated": item.updated_at,
        "customers": [
            (g.id, join_name(g.first_name, g.last_name), g.timezone, _extra(g, "email"), _extra(g, "phone"))
            for g in item.guests
        ],
    }


def onsched_view(item: Item) -> dict[str, Any]:
    """Milliseconds; the first guest's id, names, e-mail and zone; our calendar as resource; no description."""
    guest = None
    if item.guests:
        g = item.guests[0]
        fields = (g.id, g.first_name, g.last_name, _extra(g, "email"), g.timezone)
        guest = fields if any(fields) else None
    calendar = _calendar(item)
    # OnSched sends "" for "not set": an empty resource name is no name.
    return {**_common(item), "guest": guest, "calendar": calendar and (calendar[0], calendar[1] or None)}


def ical_view(item: Item) -> dict[str, Any]:
    """Everything but guests and the calendar (an .ics event names no calendar of ours); the place, categories,
    organizer and attendees a CalDAV client wrote (``meta``)."""
    extra = item.meta.model_extra or {}
    client = {k: extra.get(k) for k in ("location", "categories", "organizer", "attendees")}
    return {**_common(item), "description": item.description, **client}


def ols_view(item: Item) -> dict[str, Any]:
    """The start, type, status and Salesforce ids (OLS has no end, name or guests)."""
    sf = item.meta.salesforce
    return {
        "start": item.date_start,
        "type": item.meta.type,
        "status": item.status,
        "gids": (sf.appointment_gid or None, sf.opportunity_gid or None, sf.customer_gid or None),
    }


def salesforce_view(item: Item) -> dict[str, Any]:
    """Times, name, description, status, type; an opportunity only if it is one (006…), the customer (WhoId); the
    place (Location)."""
    sf = item.meta.salesforce
    opportunity = sf.opportunity_gid if (sf.opportunity_gid or "").startswith("006") else None
    name = item.name or "(no subject)"  # Salesforce's Subject is never empty
    ids = (opportunity, sf.customer_gid or None)
    place = _place(item)  # Event Location
    return {**_common(item), "name": name, "description": item.description or None, "ids": ids, "location": place}


#: The service's OLS label tables (the settings' defaults).
OLS_OPTIONS = OlsOptions(type_labels=DEFAULT_OLS_TYPE_LABELS, status_labels=DEFAULT_OLS_STATUS_LABELS)


#: name, options, view, statuses the format has no code for
FORMATS = [
    ("blueprint", BlueprintOptions(), lambda i: blueprint_view(i, False), ()),
    ("blueprint", BlueprintOptions(include_patient_details=True), lambda i: blueprint_view(i, True), ()),
    ("calendly", CALENDLY_OPTIONS, calendly_view, (AppointmentStatus.INITIAL, AppointmentStatus.RESERVED)),
    ("timekit", TIMEKIT_OPTIONS, timekit_view, (AppointmentStatus.RESERVED,)),
    ("onsched", ONSCHED_OPTIONS, onsched_view, ()),
    ("ical", IcalOptions(), ical_view, ()),
    ("ols", OLS_OPTIONS, ols_view, ()),
    ("salesforce", SalesforceMapping(), salesforce_view, ()),
]
IDS = ["blueprint", "blueprint-patient-details", "calendly", "timekit", "onsched", "ical", "ols", "salesforce"]


def _reimport(name: str, payload: dict[str, Any], options: Any, like: Appointment) -> Appointment:
    converted = get_converter(name).to_canonical(payload, options)
    return converted.to_appointment(id=like.id, calendar=like.calendar, now=like.created_at)


@pytest.mark.parametrize(("name", "options", "view", "uncarried"), FORMATS, ids=IDS)
@PROPERTY
@given(appointment=appointments())
def test_canonical_to_format_and_back_keeps_what_the_format_carries(
    name: str, options: Any, view: Any, uncarried: tuple[AppointmentStatus, ...], appointment: Appointment
) -> None:
    converter = get_converter(name)
    if appointment.status in uncarried:
        with pytest.raises(ConversionError) as caught:
            converter.from_canonical(appointment, options)
        assert caught.value.fields == ["status"]
        return
    converted = converter.to_canonical(converter.from_canonical(appointment, options), options)
    assert view(converted) == view(appointment)


@pytest.mark.parametrize(("name", "options", "view", "uncarried"), FORMATS, ids=IDS)
@PROPERTY
@given(appointment=appointments())
def test_exporting_what_was_imported_gives_the_same_payload(
    name: str, options: Any, view: Any, uncarried: tuple[AppointmentStatus, ...], appointment: Appointment
) -> None:
    if appointment.status in uncarried:
        return
    converter = get_converter(name)
    payload = converter.from_canonical(appointment, options)
    again = converter.from_canonical(_reimport(name, payload, options, appointment), options)
    assert again == payload


@PROPERTY
@given(appointment=appointments())
def test_canonical_format_round_trip_is_lossless(appointment: Appointment) -> None:
    converter = get_converter("canonical")
    converted = converter.to_canonical(converter.from_canonical(appointment))
    assert converted.source_id == str(appointment.id)
    assert converted.to_appointment(id=appointment.id, calendar=appointment.calendar, now=appointment.created_at) == (
        appointment
    )
