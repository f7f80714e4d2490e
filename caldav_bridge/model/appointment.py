"""The canonical Appointment, exactly the brief's JSON shape.

Extra keys under ``meta`` and on guests (the brief's ``"...": "..."``) are kept, not dropped.
The brief spells the status INITIAL once as ``INITAL``: accepted on input, never emitted.
"""

from __future__ import annotations

import functools
import re
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from caldav_bridge.errors import FieldValueError
from caldav_bridge.model.timestamps import UtcTimestamp

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_NAME",
    "SHOW_AS_META",
    "Appointment",
    "AppointmentKind",
    "AppointmentStatus",
    "AppointmentType",
    "CalendarRef",
    "Guest",
    "IanaZone",
    "Meta",
    "SalesforceIds",
    "ShowAs",
    "WindowTimestamp",
    "check_busy_guests",
    "check_extra_keys",
    "check_input_keys",
    "check_zone",
    "is_busy_block",
    "is_transparent",
    "show_as_error",
    "shows_as_free",
    "within_supported_years",
]

MAX_NAME = 255
MAX_DESCRIPTION = 8000
MAX_ID = 64
MAX_GUESTS = 50
#: The longest an appointment may last. Bounding it lets a time-window query use the
#: (calendar, start) index from both sides: anything overlapping [a, b) starts after a - MAX_DURATION.
MAX_DURATION = timedelta(days=14)
#: The years appointments may lie in: far enough for any real booking, and clear of the calendar's ends
#: so that shifting a time into a legacy zone (OLS) or by a duration can never overflow.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def within_supported_years(value: datetime) -> datetime:
    """``value`` (aware) unless it lies outside :data:`EARLIEST`..:data:`LATEST` (``ValueError``).

    The bound of every time a caller gives beside an appointment's own (a listing's or an export's window,
    availability's): windows are shifted by a duration or a day before they are compared (``from`` -
    :data:`MAX_DURATION` on the (calendar, start) index), which could overflow near the years 1 and 9999, and no
    appointment lies outside them anyway.
    """
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must lie between {EARLIEST.year} and {LATEST.year} (UTC)")
    return value


#: A window's bound (``from``/``to`` of a query): a UTC timestamp within the supported years.
WindowTimestamp = Annotated[UtcTimestamp, AfterValidator(within_supported_years)]


class AppointmentType(StrEnum):
    INITIAL = "INITIAL"
    FOLLOW_UP = "FOLLOW_UP"
    TECH_SETUP = "TECH_SETUP"


class AppointmentKind(StrEnum):
    """What an entry in a fitter's calendar is (``meta.kind``; absent means ``appointment``).

    ``busy``: a **busy block** of the calendar's owner (lunch, the dentist, a vacation day), not a customer
    appointment. Created over CalDAV when an event names no customer (no attendee that is a known guest) and
    no ``X-APPOINTMENT-TYPE``, or over REST with ``meta.kind`` = ``busy``. It names no guests; ``meta.type``
    is kept (the model requires one) but means nothing for it. Every channel asks :func:`is_busy_block`.
    """

    APPOINTMENT = "appointment"
    BUSY = "busy"


class ShowAs(StrEnum):
    """How an appointment's time shows in calendars (``meta.show_as``; absent means ``busy``).

    ``free`` is iCalendar's ``TRANSP:TRANSPARENT`` (RFC 5545 §3.8.2.7) and Salesforce's ``ShowAs`` Free: the
    appointment is listed everywhere but occupies no time (availability, free-busy and the feeds' ``TRANSP``
    agree). ``busy`` and ``out_of_office`` are opaque. A CalDAV ``TRANSP`` sets it, a REST change of it
    re-renders the CalDAV item's ``TRANSP``, and Salesforce's ``ShowAs`` follows it both ways.
    """

    BUSY = "busy"
    FREE = "free"
    OUT_OF_OFFICE = "out_of_office"


#: ``meta`` key of :class:`ShowAs`.
SHOW_AS_META = "show_as"


class AppointmentStatus(StrEnum):
    INITIAL = "INITIAL"
    RESERVED = "RESERVED"
    BOOKED = "BOOKED"
    CANCELLED = "CANCELLED"
    RESCHEDULED = "RESCHEDULED"


def _status_alias(value: Any) -> Any:
    return "INITIAL" if value == "INITAL" else value


#: Names zoneinfo loads that are no zone to share with other systems: the host's own zone (``localtime``, whatever
#: ``/etc/localtime`` says today) and tzdata's placeholder. ``posix/…`` and ``right/…`` are not in the list either.
_NOT_SHARED_ZONES = frozenset({"localtime", "Factory"})


@functools.cache
def _iana_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_SHARED_ZONES


def check_zone(value: str) -> str:
    """``value`` if it names an IANA time zone (as ``Europe/Berlin``), else ``ValueError``."""
    if value not in _iana_zones():
        raise ValueError(f"unknown IANA time zone {value!r}")
    return value


_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")


def _check_guest_id(value: str | None) -> str | None:
    """A guest id is written into iCalendar (``X-GUEST-ID``, ``urn:x-guest:``), which cannot carry control
    characters in a parameter or an address: refused rather than changed."""
    if value is not None and _CONTROL_CHARACTERS.search(value):
        raise ValueError("a guest id may not hold control characters (line breaks, tabs, ...)")
    return value


#: An IANA time zone name such as ``America/New_York``.
IanaZone = Annotated[str, Field(min_length=1, max_length=64, examples=["America/New_York"]), AfterValidator(check_zone)]
#: A status, accepting the brief's ``INITAL`` spelling as INITIAL.
StatusField = Annotated[AppointmentStatus, BeforeValidator(_status_alias)]
ShortText = Annotated[str, Field(max_length=MAX_ID)]


class CalendarRef(BaseModel):
    """The calendar an appointment is on."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=MAX_ID)]
    name: Annotated[str | None, Field(max_length=MAX_NAME)] = None


class Guest(BaseModel):
    """A customer attending; keys beyond these are kept as given."""

    model_config = ConfigDict(extra="allow")

    id: Annotated[str | None, Field(max_length=MAX_ID), AfterValidator(_check_guest_id)] = None
    first_name: Annotated[str | None, Field(max_length=MAX_NAME)] = None
    last_name: Annotated[str | None, Field(max_length=MAX_NAME)] = None
    timezone: IanaZone | None = None


class SalesforceIds(BaseModel):
    """The Salesforce records behind an appointment."""

    model_config = ConfigDict(extra="forbid")

    appointment_gid: ShortText | None = None
    opportunity_gid: ShortText | None = None
    customer_gid: ShortText | None = None


def _read_only_meta(schema: dict[str, Any]) -> None:
    """The keys only a CalDAV client's write sets (``caldav_bridge.model.series``), documented in the schema."""
    zone_or_null = {"type": ["string", "null"]}
    instant = {"type": "string", "format": "date-time"}
    override = {
        "type": "object",
        "properties": {
            "recurrence_id": instant,
            "date_start": instant,
            "date_end": instant,
            "cancelled": {"type": "boolean"},
            "name": {"type": "string", "description": "The occurrence's own title (absent: the series')."},
            "description": {"type": "string", "description": "Its own notes (absent: the series')."},
            "location": {"type": "string", "description": "Its own place (absent: the series')."},
            "timed": {
                "type": "boolean",
                "description": "An occurrence of an all-day series given times of its own (absent: all-day, as "
                "its series).",
            },
        },
    }
    named: dict[str, Any] = {
        "name": {"type": ["string", "null"], "description": "The common name (CN) the client gave."},
        "email": {"type": "string", "format": "email"},
    }
    address = {"type": "object", "properties": named}
    attendee = {
        "type": "object",
        "properties": {
            **named,
            "guest_id": {"type": "string", "description": "The guest it is (X-GUEST-ID), if it names one."},
        },
    }
    schema.setdefault("properties", {}).update(
        {
            "recurrence": {
                "type": "object",
                "readOnly": True,
                "description": "A series written over CalDAV (absent for a single appointment): the rule as the "
                "client wrote it (RFC 5545 RRULE), the zone it is expanded in (DTSTART's IANA zone, a Windows TZID "
                "read through its VTIMEZONE; null: the calendar's), "
                "removed (EXDATE) and added (RDATE) occurrences and moved or cancelled ones (RECURRENCE-ID), as "
                "UTC instants. date_start/date_end are the first occurrence; GET /appointments?expand=true lists "
                "each occurrence in a window.",
                "properties": {
                    "rrule": {"type": ["string", "null"], "examples": ["FREQ=WEEKLY;BYDAY=MO,FR"]},
                    "timezone": zone_or_null,
                    "exdates": {"type": "array", "items": instant},
                    "rdates": {"type": "array", "items": instant},
                    "overrides": {"type": "array", "items": override},
                },
            },
            "show_as": {
                "type": ["string", "null"],
                "enum": [s.value for s in ShowAs] + [None],
                "description": "How its time shows (absent: busy). free occupies no time: CalDAV and feeds write "
                "TRANSP:TRANSPARENT, availability and the slot check leave it out, Salesforce gets ShowAs Free; a "
                "CalDAV client's TRANSP sets it. null removes it.",
            },
            "ical_uid": {
                "type": "string",
                "readOnly": True,
                "description": "The iCalendar UID the CalDAV client gave the event, used on CalDAV and in feeds "
                "(absent: the UID is the appointment id).",
            },
            "location": {
                "anyOf": [{"type": "string"}, {"type": "object"}],
                "description": "Where it takes place (iCalendar LOCATION both ways); an object's name or address "
                "is what calendars show.",
                "examples": ["Main St 1, Denver"],
            },
            "categories": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
                "maxItems": MAX_GUESTS,
                "description": "iCalendar CATEGORIES, both ways.",
                "examples": [["Fitting", "Home visit"]],
            },
            "organizer": {
                **address,
                "readOnly": True,
                "description": "The ORGANIZER a CalDAV client wrote (a mailto: address). In feeds at full "
                "privacy only.",
            },
            "attendees": {
                "type": "array",
                "items": attendee,
                "readOnly": True,
                "description": "Every ATTENDEE a CalDAV client wrote with a mailto: address, in order; a guest's "
                "with its guest_id. Guests without an address are in guests only. In feeds at full privacy only.",
            },
        }
    )


class Meta(BaseModel):
    """Type, Salesforce ids, and any further keys a caller keeps with the appointment."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_read_only_meta)

    salesforce: SalesforceIds = Field(default_factory=SalesforceIds)
    type: AppointmentType

    @model_validator(mode="after")
    def _known_kind(self) -> Meta:
        check_extra_keys(self.model_extra)
        return self


def check_input_keys(extra: dict[str, Any] | None) -> None:
    """:func:`check_extra_keys`, and ``location`` absent, a text or an object (the schema's), for a meta given as
    input (a stored one is read as it was stored: a location kept before this check stays readable)."""
    location = (extra or {}).get("location")
    if location is not None and not isinstance(location, str | dict):
        raise FieldValueError("location", "location must be a text or an object")
    check_extra_keys(extra)


def check_extra_keys(extra: dict[str, Any] | None) -> None:
    """Raise ``ValueError`` unless ``kind`` among a meta's extra keys is absent or an :class:`AppointmentKind`,
    and ``categories`` absent or a list of short texts."""
    value = (extra or {}).get("kind")
    if value is not None and value not in {k.value for k in AppointmentKind}:
        raise FieldValueError("kind", "kind must be 'appointment' or 'busy'")
    categories = (extra or {}).get("categories")
    if categories is not None and not (
        isinstance(categories, list)
        and len(categories) <= MAX_GUESTS
        and all(isinstance(c, str) and 0 < len(c) <= MAX_NAME for c in categories)
    ):
        raise FieldValueError(
            "categories", f"categories must be a list of at most {MAX_GUESTS} texts of 1 to {MAX_NAME} characters"
        )


def show_as_error(extra: dict[str, Any] | None) -> str | None:
    """Why ``show_as`` among a meta's keys is not absent, null or a :class:`ShowAs` (None: it is)."""
    value = (extra or {}).get(SHOW_AS_META)
    if value is None or value in {s.value for s in ShowAs}:
        return None
    return "show_as must be 'busy', 'free' or 'out_of_office'"


def shows_as_free(appointment: Appointment) -> bool:
    """Whether ``appointment`` is shown as free (``meta.show_as`` ``free``: ``TRANSP:TRANSPARENT``)."""
    return getattr(appointment.meta, SHOW_AS_META, None) == ShowAs.FREE.value


def is_transparent(appointment: Appointment) -> bool:
    """Whether ``appointment`` occupies no time in a feed: cancelled, or shown as free."""
    return appointment.status is AppointmentStatus.CANCELLED or shows_as_free(appointment)


def is_busy_block(appointment: Appointment) -> bool:
    """Whether ``appointment`` is a busy block of its calendar's owner (``meta.kind`` = ``busy``)."""
    return getattr(appointment.meta, "kind", None) == AppointmentKind.BUSY.value


class Appointment(BaseModel):
    """The canonical appointment."""

    model_config = ConfigDict(extra="forbid")

    calendar: CalendarRef
    created_at: UtcTimestamp
    date_end: UtcTimestamp
    date_start: UtcTimestamp
    description: Annotated[str | None, Field(max_length=MAX_DESCRIPTION)] = None
    guests: Annotated[list[Guest], Field(max_length=MAX_GUESTS)] = Field(default_factory=list)
    id: uuid.UUID
    meta: Meta
    name: Annotated[str, Field(max_length=MAX_NAME)]
    status: StatusField
    updated_at: UtcTimestamp

    @model_validator(mode="after")
    def _end_after_start(self) -> Appointment:
        check_interval(self.date_start, self.date_end)
        check_busy_guests(getattr(self.meta, "kind", None), len(self.guests))
        return self


def check_busy_guests(kind: Any, guests: int) -> None:
    """Raise :class:`FieldValueError` naming ``guests`` if a busy block names any: it has no customer."""
    if kind == AppointmentKind.BUSY.value and guests:
        raise FieldValueError("guests", "a busy block (meta.kind 'busy') has no guests")


def check_interval(start: datetime, end: datetime) -> None:
    """Raise :class:`FieldValueError` (a ``ValueError``) naming ``date_end`` or ``date_start`` unless
    ``end`` is after ``start``, at most :data:`MAX_DURATION` later, and both lie in the supported years."""
    if end <= start:
        raise FieldValueError("date_end", "date_end must be after date_start")
    if end - start > MAX_DURATION:
        raise FieldValueError("date_end", f"an appointment may last at most {MAX_DURATION.days} days")
    if start < EARLIEST or end > LATEST:
        field = "date_start" if start < EARLIEST else "date_end"
        raise FieldValueError(field, f"appointments must lie between {EARLIEST.year} and {LATEST.year}")
