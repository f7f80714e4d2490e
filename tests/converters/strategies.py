"""Hypothesis strategies for canonical appointments.

Names are words without commas or doubled spaces: that is what a person's name looks like, and the
formats that carry one name string (Blueprint's "Last, First", Timekit's "First Last") split on those.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

from hypothesis import strategies as st

from caldav_bridge.model.appointment import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    CalendarRef,
    Guest,
    Meta,
    SalesforceIds,
)
from caldav_bridge.model.timestamps import to_utc_ms

ZONES = ["America/New_York", "America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"]

words = st.from_regex(r"[A-Za-zÀ-ÖØ-öø-ÿ'\-]{1,12}", fullmatch=True)
person_names = st.builds(lambda a, b: f"{a} {b}" if b else a, words, st.none() | words)
ids = st.from_regex(r"[A-Za-z0-9_\-]{1,24}", fullmatch=True)
emails = st.from_regex(r"[a-z0-9.]{1,10}@[a-z]{1,10}\.(com|org|de)", fullmatch=True)
#: Free text: anything but NUL, which no channel keeps (PostgreSQL cannot store it; the Salesforce mirror drops it).
CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
phones = st.from_regex(r"\+?[0-9][0-9 ()\-]{2,14}", fullmatch=True)
birthdates = st.dates(min_value=datetime(1900, 1, 1).date(), max_value=datetime(2020, 12, 31).date()).map(str)
instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)).map(
    to_utc_ms
)
#: At least a minute: Blueprint keeps whole seconds, and a shorter appointment could lose its length.
durations = st.integers(min_value=60_000, max_value=12 * 3600_000).map(lambda ms: timedelta(milliseconds=ms))


T = TypeVar("T")


def _optional(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


@st.composite
def guests(draw: st.DrawFn) -> Guest:
    fields = {
        "id": draw(_optional(ids)),
        "first_name": draw(_optional(person_names)),
        "last_name": draw(_optional(person_names)),
        "timezone": draw(_optional(st.sampled_from(ZONES))),
        "email": draw(_optional(emails)),
        "phone": draw(_optional(phones)),
        "birthdate": draw(_optional(birthdates)),
    }
    return Guest.model_validate({k: v for k, v in fields.items() if v is not None})


contacts = st.builds(lambda name, email: {"name": name, "email": email}, _optional(person_names), emails)


@st.composite
def client_fields(draw: st.DrawFn) -> dict[str, object]:
    """What a CalDAV client may have written into ``meta``: a place, categories, an organizer and attendees."""
    fields = {
        "location": draw(_optional(st.text(CHARS, min_size=1, max_size=60))),
        "categories": draw(_optional(st.lists(words, min_size=1, max_size=3))),
        "organizer": draw(_optional(contacts)),
        "attendees": draw(_optional(st.lists(contacts, min_size=1, max_size=3))),
    }
    return {k: v for k, v in fields.items() if v is not None}


@st.composite
def appointments(draw: st.DrawFn) -> Appointment:
    start = draw(instants)
    return Appointment(
        calendar=CalendarRef(id=draw(ids), name=draw(_optional(st.text(CHARS, max_size=40)))),
        created_at=draw(instants),
        updated_at=draw(instants),
        date_start=start,
        date_end=start + draw(durations),
        description=draw(_optional(st.text(CHARS, max_size=200))),
        guests=draw(st.lists(guests(), max_size=3)),
        id=draw(st.uuids()),
        meta=Meta(
            type=draw(st.sampled_from(AppointmentType)),
            salesforce=SalesforceIds(appointment_gid=draw(_optional(ids)), customer_gid=draw(_optional(ids))),
            **draw(client_fields()),
        ),
        name=draw(st.text(CHARS, max_size=80)),
        status=draw(st.sampled_from(AppointmentStatus)),
    )
