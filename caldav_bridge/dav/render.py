"""Appointments as iCalendar VEVENTs for CalDAV, keeping what the client wrote.

:func:`render_event` writes the canonical fields (UID, DTSTAMP, DTSTART/DTEND with TZID, STATUS, TRANSP of
``meta.show_as``, ATTENDEE for guests, X-APPOINTMENT-*; SUMMARY, DESCRIPTION, LOCATION and CATEGORIES only where
the appointment says otherwise than the text reads, so a client's SUMMARY or DESCRIPTION longer than the model keeps
stays whole) into the item's stored text, or into a fresh VCALENDAR when there is none; every other property,
parameter and sub-component of the stored text (VALARM, RRULE, ORGANIZER, X- properties, attendee parameters, other
attendees) stays as it was.
A VTIMEZONE is present for each TZID the event uses.

A fresh item (an appointment made through the API, imported or mirrored from Salesforce) is the
feeds' VEVENT at full detail with its VTIMEZONE; DESCRIPTION is the appointment's own description
(the feeds add customer names to it, which a client would write back into the description) and
guests become ATTENDEEs (after ``meta.attendees``, a guest's own address once). :func:`fresh_text` writes that
text directly with the feeds' fast
serialiser (:mod:`caldav_bridge.converters.ical_text`, ~40x cheaper than icalendar: bulk imports
render one per appointment); :func:`fresh_reference` builds it with icalendar
(:func:`~caldav_bridge.converters.ical.single_event_calendar`, parsed and re-serialised) and is
what the tests hold the fast text to, byte for byte.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from icalendar.parser import param_value

from caldav_bridge.converters.disclosure import contacts, location_text
from caldav_bridge.converters.ical import (
    PRODID as FEEDS_PRODID,
)
from caldav_bridge.converters.ical import (
    EventOptions,
    Privacy,
    address_line,
    event_dates,
    single_event_calendar,
    timezone_range,
    vevent_text,
    vtimezone_text,
    written_sequence,
)
from caldav_bridge.converters.ical import vtimezone as outlook_vtimezone
from caldav_bridge.converters.ical_parse import GUEST_ID_PARAM, GUEST_URN, Attendee, event_categories, event_location
from caldav_bridge.converters.ical_read import parse_calendar
from caldav_bridge.converters.ical_text import fold, guest_id_written
from caldav_bridge.dav.render_overrides import Written, merge_overrides, write_texts
from caldav_bridge.model.appointment import Appointment, AppointmentStatus, Guest, is_busy_block, shows_as_free

__all__ = [
    "ICAL_STATUS",
    "PRODID",
    "etag_of_text",
    "fresh_reference",
    "fresh_text",
    "render_event",
    "vtimezone",
    "with_appointment_status",
]

PRODID = "-//hear.com//Appointment Service//EN"
S = AppointmentStatus
#: Canonical status → iCalendar STATUS.
ICAL_STATUS = {
    S.INITIAL: "TENTATIVE",
    S.RESERVED: "TENTATIVE",
    S.BOOKED: "CONFIRMED",
    S.RESCHEDULED: "CONFIRMED",
    S.CANCELLED: "CANCELLED",
}
_CANONICAL_PROPS = (
    "DTSTAMP",
    "LAST-MODIFIED",
    "DTSTART",
    "DTEND",
    "DURATION",
    "STATUS",
    "TRANSP",
    "X-APPOINTMENT-TYPE",
    "X-APPOINTMENT-STATUS",
    "SEQUENCE",
)


def etag_of_text(text: str) -> str:
    """The item ETag Radicale computes for ``text`` (quoted SHA-256 of the UTF-8 text)."""
    return f'"{sha256(text.encode()).hexdigest()}"'


def vtimezone(tzid: str, around: datetime) -> icalendar.Timezone:
    """The feeds' Outlook-style VTIMEZONE for ``tzid``, exact for the calendar year of ``around``.

    Outlook-style yearly rules (see :mod:`caldav_bridge.converters.ical`) hold for every year the
    zone's rules do not change; vobject (stock Radicale, DAVx5's ical4android) misreads icalendar's
    ``Timezone.from_tzid`` one-off observances past their first year.
    """
    first, last = timezone_range([around.date()], [around.date()])
    return outlook_vtimezone(tzid, first, last)


def render_event(
    appointment: Appointment,
    *,
    zone: str,
    sequence: int,
    base_text: str | None = None,
    uid: str | None = None,
) -> str:
    """The VCALENDAR text of ``appointment`` in ``zone``, merged into ``base_text`` if given.

    A ``zone`` that is no IANA name but a TZID of the stored text's own VTIMEZONEs (Outlook's ``Eastern Standard
    Time``) is kept: the times are written in it, so a series stays expanded in the zone its client wrote it in.
    """
    try:
        tz: Any = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = None
    if not base_text:
        return fresh_text(appointment, zone if tz is not None else "UTC", sequence, uid)
    calendar = _base_calendar(base_text)
    if tz is None:
        tz = _own_zone(calendar, zone)
        if tz is None:
            zone, tz = "UTC", UTC
    event = _master(calendar)
    if event is None:
        event = icalendar.Event()
        calendar.add_component(event)
    for name in _CANONICAL_PROPS:
        event.pop(name, None)
    if not event.get("UID"):
        event.add("UID", uid or str(appointment.id))
    event.add("DTSTAMP", appointment.updated_at.astimezone(UTC))
    event.add("LAST-MODIFIED", appointment.updated_at.astimezone(UTC))
    written = Written(
        UTC if zone == "UTC" else tz,
        written_sequence(appointment, sequence),
        all_day=getattr(appointment.meta, "all_day", None) is True,
    )
    # dates for an all-day appointment (``meta.all_day``), else times as ``written`` says
    written.add_times(event, appointment.date_start, appointment.date_end, as_dates=written.all_day)
    write_texts(event, appointment.name, appointment.description)  # the client's own where they read the same
    event.add("STATUS", ICAL_STATUS[appointment.status])
    event.add("TRANSP", _transp(appointment))
    event.add("SEQUENCE", written.sequence)
    if not is_busy_block(appointment):  # a busy block has no type: one written would make it an appointment
        event.add("X-APPOINTMENT-TYPE", appointment.meta.type.value)
    event.add("X-APPOINTMENT-STATUS", appointment.status.value)
    _merge_attendees(event, appointment)
    _merge_place(event, appointment)
    merge_overrides(calendar, event, appointment, written, (base_text, zone))
    _ensure_timezones(calendar, {zone} - {"UTC"}, appointment.date_start)
    return _crlf(calendar)


def _merge_place(event: Any, appointment: Appointment) -> None:
    """LOCATION and CATEGORIES as ``meta`` says, rewritten only where it differs from the text (the client's
    parameters stay otherwise)."""
    place = location_text(getattr(appointment.meta, "location", None))
    if place != event_location(event):
        event.pop("LOCATION", None)
        if place:
            event.add("LOCATION", place)
    listed = getattr(appointment.meta, "categories", None)
    wanted = [c for c in listed if isinstance(c, str) and c] if isinstance(listed, list) else []
    if wanted != list(event_categories(event)):
        event.pop("CATEGORIES", None)
        if wanted:
            event.add("CATEGORIES", wanted)


def fresh_text(appointment: Appointment, zone: str, sequence: int, uid: str | None = None) -> str:
    """The VCALENDAR text of a new item (no stored text): :func:`fresh_reference`'s bytes, written directly.

    ``zone`` must be a zone :class:`~zoneinfo.ZoneInfo` knows (:func:`render_event` checks it).
    """
    start, end = event_dates(appointment, zone)
    head = _HEAD
    if zone != "UTC" and isinstance(start, datetime) and isinstance(end, datetime):
        first, last = timezone_range([start.date()], [end.date()])
        head += vtimezone_text(zone, first, last)
    attendees = _fresh_attendees(appointment)
    options = _FULL.get(zone) or _FULL.setdefault(zone, EventOptions(privacy=Privacy.FULL, timezone=zone))
    body = vevent_text(
        appointment,
        sequence,
        options,
        uid=uid or None,
        own_description=True,
        attendees=attendees,
        cancelled_transparent=False,
    )
    return head + body + "END:VCALENDAR\r\n"


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HEAD = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{FEEDS_PRODID}\r\n"
_FULL: dict[str, EventOptions] = {}


def _fresh_attendees(appointment: Appointment) -> list[str]:
    """The ATTENDEE lines of a fresh item, as :func:`_merge_attendees` leaves the feeds' full-detail ones:
    ``meta.attendees`` (one naming a guest only if it is one, once), then the guests not among them."""
    guests = _guests_by_id(appointment)
    kept: set[str] = set()
    lines = []
    for contact in contacts(appointment)[1]:
        gid = contact.guest_id
        if gid is None or (gid in guests and gid not in kept):
            lines.append(address_line("ATTENDEE", contact))
            kept.update([gid] if gid else [])
    lines += [_attendee_line(gid, guest) for gid, guest in guests.items() if gid not in kept]
    return lines


def _guests_by_id(appointment: Appointment) -> dict[str, Guest]:
    """The guests that become ATTENDEEs: those with an id, once per id (the last one's names)."""
    return {g.id: g for g in appointment.guests if g.id}


def _attendee_name(guest: Guest) -> str:
    """The CN: first and last name; control characters dropped (a parameter value may not hold them)."""
    name = " ".join(p for p in (guest.first_name, guest.last_name) if p)
    return _CONTROL.sub("", name) if _CONTROL.search(name) else name


def _attendee_line(gid: str, guest: Guest) -> str:
    """A guest's ATTENDEE as icalendar writes the one :func:`_merge_attendees` adds (parameters sorted)."""
    name = _attendee_name(guest)
    params = ""
    if name:  # icalendar quotes CN also for a space or an apostrophe
        params = ";CN=" + param_value(name, always_quote=" " in name or "'" in name)
    written = guest_id_written(gid)
    params += ";CUTYPE=INDIVIDUAL;" + GUEST_ID_PARAM + "=" + param_value(written)
    return fold("ATTENDEE" + params + ":" + GUEST_URN + written)


def fresh_reference(appointment: Appointment, zone: str, sequence: int, uid: str | None = None) -> str:
    """:func:`fresh_text` built with icalendar: the feeds' single-event calendar, parsed, then the
    CalDAV differences applied. Slow (~1.3 ms); the reference the fast text is tested against."""
    calendar = parse_calendar(single_event_calendar(appointment, sequence, zone))
    event = _master(calendar)
    if uid and uid != str(appointment.id):
        event.pop("UID", None)
        event.add("UID", uid)
    event.pop("DESCRIPTION", None)
    if appointment.description:
        event.add("DESCRIPTION", appointment.description)
    event.pop("X-APPOINTMENT-STATUS", None)
    event.add("X-APPOINTMENT-STATUS", appointment.status.value)
    event.pop("TRANSP", None)
    event.add("TRANSP", _transp(appointment))
    _merge_attendees(event, appointment)
    return _crlf(calendar)


def _own_zone(calendar: icalendar.Calendar, tzid: str) -> Any:
    """The zone the calendar's own VTIMEZONE named ``tzid`` defines, or None."""
    for component in calendar.walk("VTIMEZONE"):
        if isinstance(component, icalendar.Timezone) and str(component.get("TZID") or "") == tzid:
            with contextlib.suppress(Exception):  # a VTIMEZONE icalendar cannot read: written in UTC instead
                return component.to_tz(lookup_tzid=False)
    return None


def _transp(appointment: Appointment) -> str:
    """TRANSP of ``meta.show_as`` alone: a cancellation is the item's STATUS (free-busy reads it), so a client
    that restores the event does not find it made free time."""
    return "TRANSPARENT" if shows_as_free(appointment) else "OPAQUE"


def _crlf(calendar: icalendar.Calendar) -> str:
    return calendar.to_ical().decode().replace("\r\n", "\n").replace("\n", "\r\n")


def _base_calendar(base_text: str | None) -> icalendar.Calendar:
    if base_text:
        with contextlib.suppress(Exception):  # a stored text we cannot read is replaced by a fresh one
            return parse_calendar(base_text)
    calendar = icalendar.Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    return calendar


def _master(calendar: icalendar.Calendar) -> Any:
    for component in calendar.walk("VEVENT"):
        if component.get("RECURRENCE-ID") is None:
            return component
    return None


def _merge_attendees(event: Any, appointment: Appointment) -> None:
    """Guests become ATTENDEEs; attendees that are not guests (and all parameters) are kept."""
    existing = event.get("ATTENDEE")
    existing = existing if isinstance(existing, list) else ([existing] if existing is not None else [])
    event.pop("ATTENDEE", None)
    guests = _guests_by_id(appointment)
    kept_ids: set[str] = set()
    for prop in existing:
        gid = Attendee(str(prop), {str(k).upper(): str(v) for k, v in getattr(prop, "params", {}).items()}).guest_id
        if gid is None:
            event.add("ATTENDEE", prop)
        elif gid in guests and gid not in kept_ids:
            kept_ids.add(gid)
            event.add("ATTENDEE", prop)
    for gid, guest in guests.items():
        if gid in kept_ids:
            continue
        attendee = icalendar.vCalAddress(GUEST_URN + guest_id_written(gid))
        name = _attendee_name(guest)
        if name:
            attendee.params["CN"] = name
        attendee.params[GUEST_ID_PARAM] = guest_id_written(gid)
        attendee.params["CUTYPE"] = "INDIVIDUAL"
        event.add("ATTENDEE", attendee)


def _ensure_timezones(calendar: icalendar.Calendar, tzids: set[str], around: datetime) -> None:
    for component in calendar.walk("VEVENT"):
        for name in ("DTSTART", "DTEND", "RECURRENCE-ID"):
            prop = component.get(name)
            tzid = getattr(prop, "params", {}).get("TZID") if prop is not None else None
            if tzid:
                tzids.add(str(tzid))
    present = {str(c.get("TZID")) for c in calendar.walk("VTIMEZONE")}
    for tzid in sorted(tzids - present):
        try:
            tz = vtimezone(tzid, around)
        except Exception:  # noqa: S112 - a client's unknown TZID: nothing to add
            continue
        calendar.subcomponents.insert(0, tz)


_VTIMEZONES = re.compile(r"BEGIN:VTIMEZONE\r?\n.*?END:VTIMEZONE\r?\n", re.DOTALL)


def is_recurring(text: str) -> bool:
    """Whether the stored text's events repeat (their time range is then open for push-down).

    A VTIMEZONE's own RRULE/RDATE (the yearly DST rules) does not make an event recurring.
    """
    body = _VTIMEZONES.sub("", text)
    return "\nRRULE" in body or "\nRDATE" in body


def utc_seconds(value: datetime) -> int:
    return int(value.astimezone(UTC).timestamp())


_X_STATUS = "X-APPOINTMENT-STATUS"


def with_appointment_status(text: str, status: str) -> str:
    """``text`` with its master VEVENT's ``X-APPOINTMENT-STATUS`` saying ``status`` where it says another (a client
    changed STATUS and sent ours back as it had read it). Every other line, its folding and line ends are kept; a
    text that agrees, or has no such line, is returned as it is."""
    lines = _logical_lines(text)
    changed = False
    for i in _master_lines(lines):
        name, _, value = "".join(lines[i]).partition(":")
        if name.strip().upper() == _X_STATUS and value.strip().upper() != status:
            ending = lines[i][-1][len(lines[i][-1].rstrip("\r\n")) :]
            lines[i] = [f"{_X_STATUS}:{status}{ending}"]
            changed = True
    return "".join("".join(line) for line in lines) if changed else text


def _logical_lines(text: str) -> list[list[str]]:
    """The content lines of ``text``, each the physical lines it is folded over (line ends kept)."""
    lines: list[list[str]] = []
    for physical in text.splitlines(keepends=True):
        if lines and physical[:1] in (" ", "\t"):
            lines[-1].append(physical)
        else:
            lines.append([physical])
    return lines


def _master_lines(lines: list[list[str]]) -> list[int]:
    """The indexes of the own lines (not a VALARM's) of the first VEVENT without RECURRENCE-ID."""
    own: list[int] = []
    inside, depth, recurring = False, 0, False
    for i, line in enumerate(lines):
        text = "".join(line).strip().upper()
        if not inside:
            inside, own, depth, recurring = text == "BEGIN:VEVENT", [], 0, False
        elif text.startswith("BEGIN:"):
            depth += 1
        elif text.startswith("END:") and depth:
            depth -= 1
        elif text == "END:VEVENT":
            if not recurring:
                return own
            inside = False
        elif depth == 0:
            own.append(i)
            recurring = recurring or text.startswith("RECURRENCE-ID")
    return []
