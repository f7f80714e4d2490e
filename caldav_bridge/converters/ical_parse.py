"""iCalendar text → the parts of a VEVENT the canonical appointment carries (the parse direction).

Pure: no database. The caller (``caldav_bridge.dav.appointment_sync``) resolves attendees to
guests and turns the result into an appointment draft or patch. LOCATION, CATEGORIES, ORGANIZER and the
attendees' e-mail addresses are read for ``meta`` (:func:`client_meta`). Everything else the client wrote
(VALARM, RRULE, X- properties, other attendee parameters) is not read here: the stored text keeps it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from caldav_bridge.converters.disclosure import is_email
from caldav_bridge.converters.ical_read import parse_calendar
from caldav_bridge.converters.ical_same import same_content
from caldav_bridge.converters.ical_text import guest_id_read
from caldav_bridge.converters.ical_zones import FileZones
from caldav_bridge.model.appointment import MAX_DESCRIPTION, MAX_NAME
from caldav_bridge.model.series import Override, Series

__all__ = [
    "GUEST_ID_PARAM",
    "GUEST_URN",
    "Attendee",
    "IcalParseError",
    "ParsedEvent",
    "ParsedText",
    "VEvents",
    "client_meta",
    "contact_meta",
    "description_of",
    "event_categories",
    "event_contacts",
    "event_in",
    "event_location",
    "instants",
    "master_transp",
    "parse_event",
    "parse_series",
    "read_vevents",
    "series_in",
    "summary_name",
]

#: ATTENDEE parameter naming the guest (person) id an attendee stands for.
GUEST_ID_PARAM = "X-GUEST-ID"
#: ATTENDEE value form for guests without an e-mail address: ``urn:x-guest:<person id>``.
GUEST_URN = "urn:x-guest:"


#: The longest LOCATION, category and name (CN) kept in ``meta``; the most categories and attendees.
MAX_LOCATION = 1000
MAX_LABEL = 255
MAX_LISTED = 50
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


class IcalParseError(ValueError):
    """The text is not a usable iCalendar event (RFC 4791 ``CALDAV:valid-calendar-data``)."""


@dataclass(frozen=True)
class Attendee:
    value: str
    params: dict[str, str]

    @property
    def guest_id(self) -> str | None:
        """The guest named by ``X-GUEST-ID``, else by a ``urn:x-guest:`` value (as ``ical_text.guest_id_written``
        wrote it)."""
        if self.params.get(GUEST_ID_PARAM):
            return guest_id_read(self.params[GUEST_ID_PARAM])
        if self.value.lower().startswith(GUEST_URN):
            return guest_id_read(self.value[len(GUEST_URN) :]) or None
        return None

    @property
    def email(self) -> str | None:
        """The address of a ``mailto:`` value (None for any other URI or a malformed address)."""
        return _email(self.value)

    @property
    def name(self) -> str | None:
        """The common name (CN), without control characters, or None."""
        cn = _CONTROL.sub("", self.params.get("CN", "")).strip()[:MAX_LABEL]
        return cn or None


def _email(value: str) -> str | None:
    if value[:7].lower() != "mailto:":
        return None
    address = value[7:].strip()
    return address if is_email(address) else None


@dataclass(frozen=True)
class ParsedEvent:
    uid: str
    summary: str | None
    description: str | None
    start: datetime
    end: datetime
    #: The IANA zone of DTSTART's TZID, a Windows or custom TZID resolved through its VTIMEZONE (None for
    #: UTC/floating/all-day times and for a TZID no IANA zone matches).
    zone: str | None
    status: str | None
    #: ``X-APPOINTMENT-TYPE`` upper-cased (a known type or not); as written in ``appointment_type_as_written``.
    appointment_type: str | None
    appointment_status: str | None
    attendees: list[Attendee] = field(default_factory=list)
    recurring: bool = False
    #: ``TRANSP:TRANSPARENT``: the event does not occupy the time (RFC 5545 §3.8.2.7).
    transparent: bool = False
    #: ``TRANSP`` upper-cased as written (None: absent, which RFC 5545 reads as OPAQUE).
    transp: str | None = None
    #: The VEVENT is an overridden occurrence whose series is not in this resource (RECURRENCE-ID, no master).
    orphan_override: bool = False
    appointment_type_as_written: str | None = None
    #: DTSTART is a date (``VALUE=DATE``): an all-day event, its dates read in the calendar's zone.
    all_day: bool = False
    location: str | None = None
    categories: tuple[str, ...] = ()
    organizer: Attendee | None = None


@dataclass(frozen=True)
class VEvents:
    """One iCalendar text, parsed once: its calendar and its VEVENTs (at any depth, in order).
    :func:`event_in` and :func:`series_in` both read them (a CalDAV PUT needs the event and its series;
    parsing the text is most of the cost of either)."""

    calendar: Any
    components: tuple[Any, ...]
    #: The zones of its TZIDs (the ``ical`` import reads its date-times the same way).
    zones: FileZones


@dataclass(frozen=True)
class ParsedText:
    """An iCalendar text and icalendar's parse of it (a CalDAV PUT's body, parsed by the pre-parse check)."""

    text: str
    calendar: Any


def read_vevents(text: str, earlier: ParsedText | None = None) -> VEvents:
    """Parse ``text`` once: not at all when ``earlier`` is the parse of a text icalendar reads alike
    (:func:`~caldav_bridge.converters.ical_same.same_content`: the body of the PUT that stores ``text``).

    Raises:
        IcalParseError: unreadable text.
    """
    try:
        if earlier is not None and same_content(earlier.text, text):
            calendar = earlier.calendar
        else:
            calendar = parse_calendar(text)
        return VEvents(calendar, tuple(calendar.walk("VEVENT")), FileZones(calendar))
    except Exception as exc:  # icalendar raises ValueError, KeyError, ... on bad input
        raise IcalParseError(f"not valid iCalendar: {exc}") from exc


def parse_event(text: str, default_zone: str = "UTC") -> ParsedEvent:
    """:func:`event_in` of the text (one parse; :func:`read_vevents` to read its series too).

    Raises:
        IcalParseError: unreadable text, no VEVENT, no DTSTART, or DTEND before DTSTART.
    """
    return event_in(read_vevents(text), default_zone)


def event_in(vevents: VEvents, default_zone: str = "UTC") -> ParsedEvent:
    """The master VEVENT (the one without RECURRENCE-ID), else the first overridden occurrence (a resource
    holding only an occurrence of a series kept elsewhere, RFC 4791 §4.1).

    Floating times and all-day dates are read in ``default_zone``. A missing DTEND is
    DTSTART + DURATION, else one day for a date and zero for a date-time.

    Raises:
        IcalParseError: no VEVENT, no DTSTART, or DTEND before DTSTART.
    """
    zones = vevents.zones
    every = vevents.components
    masters = [c for c in every if c.get("RECURRENCE-ID") is None]
    if not every:
        raise IcalParseError("no VEVENT")
    event = masters[0] if masters else every[0]
    if event.get("DTSTART") is None:
        raise IcalParseError("VEVENT without DTSTART")
    try:
        fallback = ZoneInfo(default_zone)
    except (ZoneInfoNotFoundError, ValueError):
        fallback = ZoneInfo("UTC")
    try:
        raw_start = event.decoded("DTSTART")
        start = zones.read(event, "DTSTART", fallback)
        if event.get("DTEND") is not None:
            end = zones.read(event, "DTEND", fallback)
        elif event.get("DURATION") is not None:
            duration = event.decoded("DURATION")
            if not isinstance(duration, timedelta):
                raise IcalParseError("DURATION is not a duration")
            end = start + duration
        else:
            end = start + (timedelta(days=1) if not isinstance(raw_start, datetime) else timedelta(0))
    except IcalParseError:
        raise
    except Exception as exc:
        raise IcalParseError(f"bad DTSTART/DTEND: {exc}") from exc
    if end < start:
        raise IcalParseError("DTEND is before DTSTART")
    zone = _zone_of(event, zones)
    attendees = [_address(prop) for prop in _as_list(event.get("ATTENDEE"))]
    organizer = next((_address(prop) for prop in _as_list(event.get("ORGANIZER"))), None)
    return ParsedEvent(
        uid=str(event.get("UID") or ""),
        summary=_text(event.get("SUMMARY")),
        description=_text(event.get("DESCRIPTION")),
        start=start.astimezone(UTC),
        end=end.astimezone(UTC),
        zone=zone,
        status=(_text(event.get("STATUS")) or "").upper() or None,
        appointment_type=(_text(event.get("X-APPOINTMENT-TYPE")) or "").upper() or None,
        appointment_status=(_text(event.get("X-APPOINTMENT-STATUS")) or "").upper() or None,
        attendees=attendees,
        recurring=any(event.get(k) is not None for k in ("RRULE", "RDATE")),
        transparent=(_text(event.get("TRANSP")) or "").upper() == "TRANSPARENT",
        transp=(_text(event.get("TRANSP")) or "").upper() or None,
        orphan_override=not masters,
        appointment_type_as_written=_text(event.get("X-APPOINTMENT-TYPE")),
        all_day=not isinstance(raw_start, datetime),
        location=event_location(event),
        categories=event_categories(event),
        organizer=organizer,
    )


def summary_name(summary: str | None) -> str:
    """The appointment name a SUMMARY gives: trimmed, cut to ``MAX_NAME`` characters, ``(no title)`` when empty.

    The client's text keeps the whole SUMMARY (a REST change of another field does not rewrite it:
    ``dav.render_overrides.write_texts``)."""
    return (summary or "").strip()[:MAX_NAME] or "(no title)"


def description_of(description: str | None) -> str | None:
    """The appointment description a DESCRIPTION gives: cut to ``MAX_DESCRIPTION`` characters, None when empty
    (the client's text keeps the whole DESCRIPTION, as :func:`summary_name` says of SUMMARY)."""
    return description[:MAX_DESCRIPTION] if description else None


def _address(prop: Any) -> Attendee:
    params = {str(k).upper(): str(v) for k, v in getattr(prop, "params", {}).items()}
    return Attendee(str(prop), params)


def event_location(event: Any) -> str | None:
    """A VEVENT's LOCATION as ``meta.location`` keeps it (control characters dropped, trimmed, bounded)."""
    value = _CONTROL.sub("", _text(event.get("LOCATION")) or "").strip()
    return value[:MAX_LOCATION] or None


def event_categories(event: Any) -> tuple[str, ...]:
    """Every category of every CATEGORIES property, in order, once each."""
    found: dict[str, None] = {}
    for prop in _as_list(event.get("CATEGORIES")):
        for value in getattr(prop, "cats", None) or [str(prop)]:
            label = _CONTROL.sub("", str(value)).strip()[:MAX_LABEL]
            if label:
                found.setdefault(label)
    return tuple(found)[:MAX_LISTED]


def client_meta(parsed: ParsedEvent) -> dict[str, Any]:
    """The ``meta`` keys of what the client wrote that the canonical model carries, each None when absent:
    ``location`` (LOCATION), ``categories`` (CATEGORIES), ``organizer`` (ORGANIZER with a ``mailto:``
    address: ``{"name", "email"}``) and ``attendees`` (every ATTENDEE with a ``mailto:`` address, in order:
    ``{"name", "email"}`` and ``guest_id`` when it names a guest by ``X-GUEST-ID``)."""
    organizer = parsed.organizer
    attendees = [c for c in (contact_meta(a) for a in parsed.attendees) if c is not None][:MAX_LISTED]
    return {
        "location": parsed.location,
        "categories": list(parsed.categories) or None,
        "organizer": {"name": organizer.name, "email": organizer.email} if organizer and organizer.email else None,
        "attendees": attendees or None,
    }


def master_transp(text: str) -> str | None:
    """``TRANSP`` (upper-cased) of the first VEVENT without RECURRENCE-ID in ``text``, read from the lines
    (no full parse: a stored item's, beside the PUT's), None when it has none."""
    unfolded = text.replace("\r\n ", "").replace("\r\n\t", "")
    for block in unfolded.split("BEGIN:VEVENT")[1:]:
        lines = block.split("END:VEVENT", 1)[0].splitlines()
        if any(line.upper().startswith("RECURRENCE-ID") for line in lines):
            continue
        found = [line.split(":", 1)[1].strip().upper() for line in lines if line.upper().startswith("TRANSP:")]
        return found[0] if found else None
    return None


def contact_meta(address: Attendee) -> dict[str, Any] | None:
    """An ORGANIZER or ATTENDEE as ``meta.organizer`` / an entry of ``meta.attendees`` keeps it (``{"name",
    "email"}``, plus ``guest_id`` when it names a guest), None without a ``mailto:`` address."""
    if not address.email:
        return None
    named = {"guest_id": address.guest_id} if address.guest_id else {}
    return {"name": address.name, "email": address.email, **named}


def event_contacts(event: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """A VEVENT's ORGANIZER and ``mailto:`` ATTENDEEs as :func:`client_meta` keeps them (at most ``MAX_LISTED``)."""
    organizer = next((_address(prop) for prop in _as_list(event.get("ORGANIZER"))), None)
    found = (contact_meta(_address(prop)) for prop in _as_list(event.get("ATTENDEE")))
    attendees = [a for a in found if a is not None][:MAX_LISTED]
    shown = contact_meta(organizer) if organizer is not None else None
    return ({"name": shown["name"], "email": shown["email"]} if shown else None), attendees


def _zone_of(event: Any, zones: FileZones) -> str | None:
    """The IANA zone of DTSTART's TZID: an IANA name, or the zone a Windows or custom TZID's VTIMEZONE (Outlook's
    ``Eastern Standard Time``) stands for (:class:`.ical_zones.FileZones`); None for none or no match."""
    tzid = event["DTSTART"].params.get("TZID")
    start = event.decoded("DTSTART")
    if not tzid or not isinstance(start, datetime):
        return None
    return zones.zone(str(tzid), start)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0] if value else None
        if value is None:
            return None
    return str(value)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def parse_series(text: str, default_zone: str = "UTC") -> Series | None:
    """:func:`series_in` of the text (one parse).

    Raises:
        IcalParseError: unreadable text or times.
    """
    return series_in(read_vevents(text), default_zone)


def series_in(vevents: VEvents, default_zone: str = "UTC") -> Series | None:
    """The series of the recurring VEVENT (RRULE, EXDATE, RDATE of its master, its overridden instances), or
    None when the master neither has RRULE nor RDATE (or there is no master).

    Floating times and dates are read in ``default_zone``; a PERIOD in RDATE counts by its start.

    Raises:
        IcalParseError: unreadable times.
    """
    events = vevents.components
    master = next((e for e in events if e.get("RECURRENCE-ID") is None), None)
    if master is None or (master.get("RRULE") is None and master.get("RDATE") is None):
        return None
    try:
        fallback = ZoneInfo(default_zone)
    except (ZoneInfoNotFoundError, ValueError):
        fallback = ZoneInfo("UTC")
    try:
        return _series(master, [e for e in events if e.get("RECURRENCE-ID") is not None], fallback, vevents.zones)
    except IcalParseError:
        raise
    except Exception as exc:
        raise IcalParseError(f"bad recurrence: {exc}") from exc


def _series(master: Any, overrides: list[Any], zone: ZoneInfo, zones: FileZones) -> Series:
    rules = _as_list(master.get("RRULE"))
    rrule = rules[0].to_ical().decode() if rules else None
    start = zones.read(master, "DTSTART", zone)
    if master.get("DTEND") is not None:
        duration = zones.read(master, "DTEND", zone) - start
    elif master.get("DURATION") is not None:
        duration = master.decoded("DURATION")
    else:
        duration = timedelta(days=1) if not isinstance(master.decoded("DTSTART"), datetime) else timedelta(0)
    tzid = master["DTSTART"].params.get("TZID")
    raw = master.decoded("DTSTART")
    utc = isinstance(raw, datetime) and raw.tzinfo is not None and raw.utcoffset() == timedelta(0) and not tzid
    moved = []
    for event in overrides:
        rid = zones.read(event, "RECURRENCE-ID", zone).astimezone(UTC)
        begin = zones.read(event, "DTSTART", zone) if event.get("DTSTART") is not None else rid
        if event.get("DTEND") is not None:
            finish = zones.read(event, "DTEND", zone)
        elif event.get("DURATION") is not None:
            finish = begin + event.decoded("DURATION")
        else:
            finish = begin + duration
        cancelled = (_text(event.get("STATUS")) or "").upper() == "CANCELLED"
        timed = not isinstance(raw, datetime) and _timed(event)  # an all-day series' occurrence given times
        moved.append(
            Override(rid, begin.astimezone(UTC), finish.astimezone(UTC), cancelled, **_own_texts(event), timed=timed)
        )
    return Series(
        rrule=rrule,
        exdates=tuple(sorted(set(instants(master, "EXDATE", zone, zones)))),
        rdates=tuple(sorted(set(instants(master, "RDATE", zone, zones)))),
        overrides=tuple(sorted(moved, key=lambda o: o.recurrence_id)),
        timezone="UTC" if utc else _zone_of(master, zones),
    )


def _timed(event: Any) -> bool:
    """Whether an override's own DTSTART is a DATE-TIME."""
    return event.get("DTSTART") is not None and isinstance(event.decoded("DTSTART"), datetime)


def _own_texts(event: Any) -> dict[str, str]:
    """An override's own SUMMARY, DESCRIPTION and LOCATION (where its VEVENT has them), bounded as an
    appointment's (an empty SUMMARY is ``(no title)``, as for the series)."""
    own: dict[str, str] = {}
    if event.get("SUMMARY") is not None:
        own["name"] = summary_name(_text(event.get("SUMMARY")))
    if event.get("DESCRIPTION") is not None:
        own["description"] = (_text(event.get("DESCRIPTION")) or "")[:MAX_DESCRIPTION]
    location = event_location(event)
    if location is not None:
        own["location"] = location
    return own


def instants(component: Any, name: str, zone: ZoneInfo, zones: FileZones) -> list[datetime]:
    """The UTC instants of a multi-valued date property (EXDATE, RDATE; a PERIOD by its start), read through
    ``zones`` (floating ones and dates in ``zone``)."""
    found = []
    for prop in _as_list(component.get(name)):
        tzid = getattr(prop, "params", {}).get("TZID")
        for value in getattr(prop, "dts", None) or []:
            when = value.dt[0] if isinstance(value.dt, tuple) else value.dt
            found.append(zones.local(when, tzid, zone).astimezone(UTC))
    return found
