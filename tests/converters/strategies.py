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


def _span(first: str, last: str) -> str:
    return "".join(chr(c) for c in range(ord(first), ord(last) + 1))


# The strings below are st.text over fixed alphabets rather than st.from_regex: the same strings (those matching
# the regex in each comment), at a fraction of the cost (from_regex drew ~1.7 ms a string, most of these tests' CPU).
_LOWER, _UPPER, _DIGITS = _span("a", "z"), _span("A", "Z"), _span("0", "9")
#: [A-Za-zÀ-ÖØ-öø-ÿ'\-]{1,12}
words = st.text(_UPPER + _LOWER + _span("À", "Ö") + _span("Ø", "ö") + _span("ø", "ÿ") + "'-", min_size=1, max_size=12)
person_names = st.builds(lambda a, b: f"{a} {b}" if b else a, words, st.none() | words)
#: [A-Za-z0-9_\-]{1,24}
ids = st.text(_UPPER + _LOWER + _DIGITS + "_-", min_size=1, max_size=24)
#: [a-z0-9.]{1,10}@[a-z]{1,10}\.(com|org|de)
emails = st.builds(
    "{}@{}.{}".format,
    st.text(_LOWER + _DIGITS + ".", min_size=1, max_size=10),
    st.text(_LOWER, min_size=1, max_size=10),
    st.sampled_from(["com", "org", "de"]),
)
#: Free text: anything but NUL, which no channel keeps (PostgreSQL cannot store it; the Salesforce mirror drops it).
CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
#: \+?[0-9][0-9 ()\-]{2,14}
phones = st.builds(
    "{}{}{}".format,
    st.sampled_from(["", "+"]),
    st.sampled_from(_DIGITS),
    st.text(_DIGITS + " ()-", min_size=2, max_size=14),
)
birthdates = st.dates(min_value=datetime(1900, 1, 1).date(), max_value=datetime(2020, 12, 31).date()).map(str)
instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)).map(
    to_utc_ms
)
#: At least a minute: Blueprint keeps whole seconds, and a shorter appointment could lose its length.
durations = st.integers(min_value=60_000, max_value=12 * 3600_000).map(lambda ms: timedelta(milliseconds=ms))


T = TypeVar("T")


def _optional(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


# Every strategy a composite below draws from is made once, here: made inside the composite, it was made and
# validated again for every draw (a fifth of these tests' CPU). The draws and their order are as they were.
_GUEST_FIELDS = {
    "id": _optional(ids),
    "first_name": _optional(person_names),
    "last_name": _optional(person_names),
    "timezone": _optional(st.sampled_from(ZONES)),
    "email": _optional(emails),
    "phone": _optional(phones),
    "birthdate": _optional(birthdates),
}


@st.composite
def guests(draw: st.DrawFn) -> Guest:
    fields = {key: draw(strategy) for key, strategy in _GUEST_FIELDS.items()}
    return Guest.model_validate({k: v for k, v in fields.items() if v is not None})


contacts = st.builds(lambda name, email: {"name": name, "email": email}, _optional(person_names), emails)
_CLIENT_FIELDS = {
    "location": _optional(st.text(CHARS, min_size=1, max_size=60)),
    "categories": _optional(st.lists(words, min_size=1, max_size=3)),
    "organizer": _optional(contacts),
    "attendees": _optional(st.lists(contacts, min_size=1, max_size=3)),
}


@st.composite
def client_fields(draw: st.DrawFn) -> dict[str, object]:
    """What a CalDAV client may have written into ``meta``: a place, categories, an organizer and attendees."""
    fields = {key: draw(strategy) for key, strategy in _CLIENT_FIELDS.items()}
    return {k: v for k, v in fields.items() if v is not None}


_CALENDAR_NAMES = _optional(st.text(CHARS, max_size=40))
_DESCRIPTIONS = _optional(st.text(CHARS, max_size=200))
_GUEST_LISTS = st.lists(guests(), max_size=3)
_UUIDS = st.uuids()
_TYPES = st.sampled_from(AppointmentType)
_GIDS = _optional(ids)
_CLIENT = client_fields()
_NAMES = st.text(CHARS, max_size=80)
_STATUSES = st.sampled_from(AppointmentStatus)


@st.composite
def appointments(draw: st.DrawFn) -> Appointment:
    start = draw(instants)
    return Appointment(
        calendar=CalendarRef(id=draw(ids), name=draw(_CALENDAR_NAMES)),
        created_at=draw(instants),
        updated_at=draw(instants),
        date_start=start,
        date_end=start + draw(durations),
        description=draw(_DESCRIPTIONS),
        guests=draw(_GUEST_LISTS),
        id=draw(_UUIDS),
        meta=Meta(
            type=draw(_TYPES),
            salesforce=SalesforceIds(appointment_gid=draw(_GIDS), customer_gid=draw(_GIDS)),
            **draw(_CLIENT),
        ),
        name=draw(_NAMES),
        status=draw(_STATUSES),
    )
