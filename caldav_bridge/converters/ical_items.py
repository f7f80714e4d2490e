"""iCalendar events ↔ canonical, behind the converter interface; and whole ``.ics`` files read into items.

Pure: no I/O, no clock (the window recurring events are expanded in comes from the options).

The ``ical`` format's item is one event occurrence as a JSON object::

    {"uid": "…", "recurrence_id": null, "dtstart": "2026-12-01T09:00:00-07:00", "dtend": "…",
     "summary": "…", "description": "…", "location": "…", "status": "CONFIRMED",
     "x_appointment_type": "FOLLOW_UP", "x_appointment_status": "BOOKED", "all_day": false,
     "categories": ["Fitting"], "organizer": {"name": "Frank Fitter", "email": "frank@example.com"},
     "attendees": [{"name": "Jane Roe", "email": "jane@example.com"}]}

``categories``, ``organizer`` and ``attendees`` (CATEGORIES, ORGANIZER and the ``mailto:`` ATTENDEEs) are there
only when the event has them; they are ``meta.categories``, ``meta.organizer`` and ``meta.attendees`` as a CalDAV
client's write keeps them. An attendee's ``guest_id`` is not carried: the format carries no guests.

:func:`read_calendar` turns a whole ``.ics`` file (a fitter's old calendar) into such items: every VEVENT
without RRULE/RDATE is one item; a recurring event becomes one item per occurrence in the options'
window (EXDATEs left out, RECURRENCE-ID overrides applied), each with its own ``recurrence_id`` so that
importing the file again updates the same appointments. What the canonical model cannot represent is
reported per item: a series recurring more often than daily, more occurrences than the cap. Expansion
is metered (:mod:`caldav_bridge.model.recurrence`) and capped per file (occurrences, and calendar years scanned),
a rule that can never occur is refused without a scan, and a file with more events or content lines than the
caller allows is refused before it is parsed (:mod:`caldav_bridge.converters.ical_shape`): a file's CPU cost is
bounded.
The source id is ``UID`` (and ``UID/RECURRENCE-ID`` for an occurrence).

Export writes the same item; a whole calendar is written by :mod:`caldav_bridge.converters.ical`.
Mapping of STATUS: CONFIRMED → BOOKED, TENTATIVE → INITIAL, CANCELLED → CANCELLED, none → BOOKED;
back: INITIAL/RESERVED → TENTATIVE, BOOKED/RESCHEDULED → CONFIRMED, CANCELLED → CANCELLED.
``X-APPOINTMENT-TYPE`` gives the type (else the options' ``default_type``), ``X-APPOINTMENT-STATUS`` (which
our feeds write) the exact status, taking precedence over STATUS.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from caldav_bridge.converters._common import Reader, build, remembered
from caldav_bridge.converters.base import ConvertedAppointment, FormatConverter
from caldav_bridge.converters.disclosure import Contact, categories, contacts, is_email
from caldav_bridge.converters.errors import ConversionError
from caldav_bridge.converters.ical import ical_status
from caldav_bridge.converters.ical_parse import MAX_LABEL, MAX_LISTED, event_categories, event_contacts, instants
from caldav_bridge.converters.ical_read import parse_calendar
from caldav_bridge.converters.ical_series import feed_uid
from caldav_bridge.converters.ical_shape import MAX_DATES, MAX_RULE_VALUES, shape
from caldav_bridge.converters.ical_zones import FileZones
from caldav_bridge.errors import FieldError
from caldav_bridge.model.appointment import Appointment, AppointmentStatus, AppointmentType
from caldav_bridge.model.recurrence import Exhausted, Meter, metered, moved_to, never_occurs, parse_rule
from caldav_bridge.model.timestamps import to_utc_ms

__all__ = ["CONVERTER", "FORMAT", "IcalOptions", "from_canonical", "read_calendar", "to_canonical"]

FORMAT = "ical"
_STATUS_IN = {
    "CONFIRMED": AppointmentStatus.BOOKED,
    "TENTATIVE": AppointmentStatus.INITIAL,
    "CANCELLED": AppointmentStatus.CANCELLED,
}
_SOURCE_FIELDS = {"date_start": "dtstart", "date_end": "dtend", "name": "summary", "description": "description"}
#: RRULE frequencies the import expands; anything more frequent is not an appointment series.
_EXPANDED = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
#: Calendar years a rule may scan beyond the window's before it is given up (a rule that never occurs).
_SCAN_YEARS = 4


@dataclass(frozen=True)
class IcalOptions:
    """Attributes:
    default_type: the type of an event without X-APPOINTMENT-TYPE (a fitter's visits: FOLLOW_UP).
    default_zone: the zone of floating times and all-day dates.
    window_start, window_end: recurring events are expanded to the occurrences in this range
        (the caller sets it; without it, recurring events are refused).
    max_occurrences: at most this many occurrences per recurring event,
    max_total_occurrences: and this many for all the file's recurring events together (beyond it, each
        further series is an error item): the cost of a file is bounded whatever it holds.
    max_scan_years: calendar years all the file's rules may scan together (each ~0.25 ms of CPU at worst, a
        daily rule whose filters skip most days); beyond it, each further series is an error item.
    max_events, max_lines: the file is refused (one ``(body)`` error) before it is parsed when it has more
        VEVENTs or content lines than these (None: any number; parsing costs ~25 µs of CPU a line),
    lines_per_event: or more content lines than 1,000 and this many per VEVENT (an event has a few dozen), so
        that parsing costs in proportion to what is imported, whatever the caller's bounds;
    dates_per_event: or more EXDATE and RDATE values than :data:`~caldav_bridge.converters.ical_shape.MAX_DATES`
        (what one CalDAV item may carry) and this many per VEVENT,
    rule_values_per_event: or more RRULE/EXRULE BYxxx values than
        :data:`~caldav_bridge.converters.ical_shape.MAX_RULE_VALUES` and this many per VEVENT (every hour and minute
        of a day is 84): one line may list thousands of values, each parsed, which the line bounds do not bound.
    """

    default_type: AppointmentType = AppointmentType.FOLLOW_UP
    default_zone: str = "UTC"
    window_start: datetime | None = None
    window_end: datetime | None = None
    max_occurrences: int = 1000
    max_total_occurrences: int = 10_000
    max_scan_years: int = 300
    max_events: int | None = None
    max_lines: int | None = None
    lines_per_event: int = 200
    dates_per_event: int = 20
    rule_values_per_event: int = 100


_DEFAULTS = IcalOptions()


def to_canonical(payload: object, options: IcalOptions | None = None) -> ConvertedAppointment:
    """One event occurrence (the JSON item above). Raises :class:`ConversionError` naming every bad field."""
    options = options or _DEFAULTS
    r = Reader(FORMAT, payload)
    p = r.root
    uid = r.source_id(p, "uid")
    unexpanded = r.text(p, "rrule_error")
    if unexpanded:  # a recurring event read_calendar could not turn into occurrences: that alone is the error
        r.error("rrule", unexpanded)
        r.check()
    recurrence_id = r.text(p, "recurrence_id")
    fallback = _zone(options.default_zone)
    start, local_start = _when(r, p, "dtstart", fallback)
    end, local_end = _when(r, p, "dtend", fallback)
    r.interval(start, end, "dtend")
    status = _status(r, (r.text(p, "status") or "").upper(), (r.text(p, "x_appointment_status") or "").upper())
    type_code = (r.text(p, "x_appointment_type") or "").upper()
    type_ = options.default_type
    if type_code:
        try:
            type_ = AppointmentType(type_code)
        except ValueError:
            r.error("x_appointment_type", f"unknown type {type_code[:32]!r}; expected INITIAL, FOLLOW_UP or TECH_SETUP")
    client_fields = _read_contacts(r, p)
    r.check()
    source_id = uid if not recurrence_id else f"{uid}/{recurrence_id}"
    kept = {k: p[k] for k in ("uid", "recurrence_id", "location") if p.get(k)}
    meta: dict[str, Any] = {"type": type_, FORMAT: kept, **client_fields}
    if p.get("location"):
        meta["location"] = p["location"]
    if p.get("all_day") is True:
        meta["all_day"] = True
    return build(
        FORMAT,
        {
            "source_id": source_id,
            "calendar_hint": None,  # an .ics file names no calendar of ours: the import's calendar_id says
            "date_start": start,
            "date_end": end,
            "name": r.text(p, "summary") or "",
            "description": r.text(p, "description"),
            "meta": meta,
            "status": status,
            "local_start": local_start,
            "local_end": local_end,
        },
        _SOURCE_FIELDS,
    )


def _when(r: Reader, p: Mapping[str, Any], key: str, fallback: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """``p[key]`` as (its instant, its wall time if it has no zone). A time without an offset is an iCalendar
    floating time (or an all-day event's midnight): it means that wall time in the zone of the calendar the event
    lands on, as a CalDAV PUT reads it; here it is read in ``fallback`` until the import knows that calendar."""
    text = r.text(p, key, required=True)
    if text is None:
        return None, None
    wall = _floating(text)
    if wall is None:
        return r.time(p, key), None
    try:
        return to_utc_ms(wall.replace(tzinfo=fallback)), wall
    except ValueError as exc:
        r.error(key, str(exc))
        return None, None


def _floating(text: str) -> datetime | None:
    """The wall time of an ISO 8601 date-time without an offset (``2026-12-01T09:00:00``); None for anything else
    (a date alone, a time with a zone, not a time: :meth:`Reader.time` reads or names those)."""
    text = text.strip()
    if len(text) <= len("2026-12-01"):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is None else None


def _read_contacts(r: Reader, p: Mapping[str, Any]) -> dict[str, Any]:
    """``meta.categories``, ``meta.organizer`` and ``meta.attendees`` of the item (those it has), errors naming
    ``categories.<i>``, ``organizer.email``, ``attendees.<i>.email`` …"""
    out: dict[str, Any] = {}
    labels = r.array(p, "categories")
    for i, label in enumerate(labels):
        if not isinstance(label, str) or not 0 < len(label) <= MAX_LABEL:
            r.error(f"categories.{i}", f"expected a text of 1 to {MAX_LABEL} characters")
    if len(labels) > MAX_LISTED:
        r.error("categories", f"at most {MAX_LISTED} categories")
    if labels:
        out["categories"] = list(labels)
    organizer = r.obj(p, "organizer")
    if organizer is not None:
        out["organizer"] = _contact(r, organizer, "organizer")
    listed = r.array(p, "attendees")
    if len(listed) > MAX_LISTED:
        r.error("attendees", f"at most {MAX_LISTED} attendees")
    attendees = []
    for i, attendee in enumerate(listed):
        if isinstance(attendee, Mapping):
            attendees.append(_contact(r, attendee, f"attendees.{i}"))
        else:
            r.error(f"attendees.{i}", "expected an object")
    if attendees:
        out["attendees"] = attendees
    return out


def _contact(r: Reader, obj: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """An organizer or attendee: ``email`` (required, an address a ``mailto:`` carries) and ``name``."""
    email = r.text(obj, "email", prefix=prefix, required=True)
    if email is not None and not is_email(email):
        r.error(f"{prefix}.email", "is not an e-mail address")
    name = r.text(obj, "name", prefix=prefix)
    if name is not None and len(name) > MAX_LABEL:
        r.error(f"{prefix}.name", f"longer than {MAX_LABEL} characters")
    return {"name": name or None, "email": email}


def _status(r: Reader, code: str, exact: str) -> AppointmentStatus:
    """X-APPOINTMENT-STATUS (ours, exact) if given, else STATUS (CONFIRMED when absent)."""
    if exact:
        try:
            return AppointmentStatus(exact)
        except ValueError:
            r.error("x_appointment_status", f"unknown status {exact[:32]!r}")
    if code and code not in _STATUS_IN:
        r.error("status", f"unknown STATUS {code[:32]!r}; expected CONFIRMED, TENTATIVE or CANCELLED")
    return _STATUS_IN.get(code, AppointmentStatus.BOOKED)


def from_canonical(appointment: Appointment, options: IcalOptions | None = None) -> dict[str, Any]:
    """The appointment as one event occurrence (the JSON item above), times in UTC."""
    kept = remembered(appointment, FORMAT)
    extra = appointment.meta.model_extra or {}
    item: dict[str, Any] = {
        "uid": kept.get("uid") or feed_uid(appointment),
        "recurrence_id": kept.get("recurrence_id"),
        "dtstart": appointment.date_start.isoformat().replace("+00:00", "Z"),
        "dtend": appointment.date_end.isoformat().replace("+00:00", "Z"),
        "summary": appointment.name,
        "description": appointment.description,
        "location": extra.get("location") if isinstance(extra.get("location"), str) else None,
        "status": ical_status(appointment.status),
        "x_appointment_status": str(appointment.status),
        "x_appointment_type": str(appointment.meta.type),
        "all_day": extra.get("all_day") is True,
    }
    labels = categories(appointment)
    organizer, attendees = contacts(appointment)
    if labels:
        item["categories"] = list(labels)
    if organizer is not None:
        item["organizer"] = _contact_item(organizer)
    if attendees:
        item["attendees"] = [_contact_item(a) for a in attendees]
    return item


def _contact_item(contact: Contact) -> dict[str, Any]:
    return {"name": contact.name, "email": contact.email}


CONVERTER: FormatConverter[IcalOptions] = FormatConverter(FORMAT, IcalOptions, to_canonical, from_canonical)


# --------------------------------------------------------------------------- whole files


#: Deepest component nesting of a calendar file (VCALENDAR > VEVENT > VALARM is three; VTIMEZONE's STANDARD too).
MAX_NESTING = 8


def read_calendar(text: str | bytes, options: IcalOptions | None = None) -> Iterator[dict[str, Any]]:
    """Every event of a whole ``.ics`` file as items; a recurring event that cannot be expanded is one item
    with ``rrule_error`` saying why (the converter reports it under ``rrule``).

    The text is parsed at once: raises :class:`ConversionError` (field ``(body)``) if it is not iCalendar.
    """
    options = options or _DEFAULTS
    _check_shape(text, options)
    try:
        calendar = parse_calendar(text)
    except Exception as exc:  # icalendar raises ValueError, KeyError, IndexError … on bad input
        raise ConversionError(FORMAT, [FieldError("(body)", f"not an iCalendar file: {str(exc)[:200]}")]) from None
    return _events(calendar, options)


def _check_shape(text: str | bytes, options: IcalOptions) -> None:
    counted = shape(text)
    if counted.depth > MAX_NESTING:
        # Crafted (VEVENTs nested in VEVENTs): icalendar would build every level, each an item to report.
        refused = f"components nest {counted.depth} deep (at most {MAX_NESTING})"
    elif options.max_events is not None and counted.events > options.max_events:
        refused = f"{counted.events:,} events: at most {options.max_events:,} items per request"
    elif options.max_lines is not None and counted.lines > options.max_lines:
        refused = f"{counted.lines:,} content lines: at most {options.max_lines:,} per request (split the file)"
    elif counted.lines > 1_000 + options.lines_per_event * counted.events:
        refused = (
            f"{counted.lines:,} content lines for {counted.events:,} events "
            f"(at most 1,000 and {options.lines_per_event} per event)"
        )
    elif counted.dates > MAX_DATES + options.dates_per_event * counted.events:
        refused = (
            f"{counted.dates:,} EXDATE and RDATE values for {counted.events:,} events "
            f"(at most {MAX_DATES:,} and {options.dates_per_event} per event)"
        )
    elif counted.rule_values > MAX_RULE_VALUES + options.rule_values_per_event * counted.events:
        refused = (
            f"{counted.rule_values:,} RRULE and EXRULE values for {counted.events:,} events "
            f"(at most {MAX_RULE_VALUES:,} and {options.rule_values_per_event} per event)"
        )
    else:
        return
    raise ConversionError(FORMAT, [FieldError("(body)", refused)])


def _events(calendar: Any, options: IcalOptions) -> Iterator[dict[str, Any]]:
    zone = _Zone(FileZones(calendar), _zone(options.default_zone))
    series: dict[str, list[Any]] = {}
    for index, event in enumerate(calendar.walk("VEVENT")):
        uid = str(event.get("UID") or f"(VEVENT {index + 1} without UID)")
        if _recurring(event) or event.get("RECURRENCE-ID") is not None:
            series.setdefault(uid, []).append(event)
        else:
            yield _item(event, uid, None, zone)
    budget = _Budget(options.max_total_occurrences, options.max_scan_years)
    for uid, events in series.items():
        yield from _occurrences(uid, events, options, zone, budget)


@dataclass(frozen=True)
class _Zone:
    """How the file's date-times are read: its TZIDs as a CalDAV PUT of the file reads them (``zones``, Windows
    and Outlook names through the file's own VTIMEZONEs), floating times and dates in ``fallback``."""

    zones: FileZones
    fallback: ZoneInfo

    def read(self, event: Any, name: str) -> datetime:
        return self.zones.read(event, name, self.fallback)

    def local(self, event: Any, name: str) -> datetime:
        """As :meth:`read`, but a floating time or a date is its naive wall time (the item's time without an
        offset): the import reads it in the zone of the calendar the event lands on, as a CalDAV PUT does."""
        value = self.zones.read(event, name, _FLOATING)
        return value.replace(tzinfo=None) if value.tzinfo is _FLOATING else value


#: Marks what :meth:`FileZones.read` read without a zone of its own (it returns its fallback as the tzinfo).
_FLOATING = timezone(timedelta(0), "floating")


@dataclass
class _Budget:
    """Occurrences a whole file may still expand to, and calendar years its rules may still scan (its CPU cost
    is bounded by these, not by the file)."""

    left: int
    years: int


def _recurring(event: Any) -> bool:
    return event.get("RRULE") is not None or event.get("RDATE") is not None


def _occurrences(
    uid: str, events: list[Any], options: IcalOptions, zone: _Zone, budget: _Budget
) -> Iterator[dict[str, Any]]:
    master = next((e for e in events if e.get("RECURRENCE-ID") is None), None)
    if master is None:  # overrides without their series: each is a single event
        for event in events:
            yield _item(event, uid, _recurrence_id(event, zone), zone)
        return
    rule = master.get("RRULE")
    if rule is None:  # RDATE alone: the event at its DTSTART (the extra dates are not read)
        yield _item(master, uid, None, zone)
        return
    freq = str(rule.get("FREQ", [""])[0]).upper()
    if freq not in _EXPANDED:
        yield {
            "uid": uid,
            "rrule_error": f"RRULE FREQ={freq} repeats more often than daily: not a series of appointments",
        }
        return
    if options.window_start is None or options.window_end is None:
        yield {"uid": uid, "rrule_error": "a recurring event needs a window (from/to) to be expanded in"}
        return
    if budget.left <= 0 or budget.years <= 0:  # the file's budget is spent: not even started
        yield {"uid": uid, "rrule_error": _too_many(False, options) if budget.left <= 0 else _too_costly(options)}
        return
    limit = min(options.max_occurrences, budget.left)
    try:
        starts = _starts(master, options.window_start, options.window_end, zone, limit + 1, budget)
    except (Exhausted, ValueError, TypeError, KeyError) as exc:  # never reaches the window, or unreadable
        yield {"uid": uid, "rrule_error": f"the recurrence cannot be expanded: {str(exc)[:200]}"}
        return
    budget.left -= len(starts)
    if len(starts) > limit:
        yield {"uid": uid, "rrule_error": _too_many(limit == options.max_occurrences, options)}
        return
    overrides = {_utc_stamp(e, "RECURRENCE-ID", zone): e for e in events if e.get("RECURRENCE-ID") is not None}
    excluded = _exdates(master, zone)
    duration = _duration(master, zone)
    floating = zone.local(master, "DTSTART").tzinfo is None  # expanded in the fallback: its wall times are the rule's
    for start in starts:
        stamp = start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        if stamp in overrides:
            yield _item(overrides[stamp], uid, stamp, zone)
        elif start.astimezone(UTC) not in excluded:
            item = _item(master, uid, stamp, zone)
            first = start.replace(tzinfo=None) if floating else start
            item["dtstart"], item["dtend"] = first.isoformat(), (first + duration).isoformat()
            yield item


def _starts(
    master: Any, window_start: datetime, window_end: datetime, zone: _Zone, limit: int, budget: _Budget
) -> list[datetime]:
    """The series' starts whose occurrence overlaps the window, at most ``limit``, at a bounded cost: a rule
    that can never occur is refused at once; otherwise the rule is restarted at the window and every calendar
    year it scans is metered (model.recurrence), and charged to the file's ``budget``."""
    first = zone.read(master, "DTSTART")
    duration = _duration(master, zone)
    rule = parse_rule(master["RRULE"].to_ical().decode(), first)
    if never_occurs(rule):
        raise ValueError("the recurrence rule never occurs")
    scan_from = window_start - duration
    meter = Meter(left=min(_SCAN_YEARS + (window_end.year - window_start.year), budget.years))
    found: list[datetime] = []
    try:
        for start in metered(rule, meter, moved_to(rule, scan_from)):
            if start >= window_end:
                break
            if start + duration > window_start:
                found.append(start)
                if len(found) >= limit:
                    break
    finally:
        budget.years -= meter.spent
    return found


def _duration(event: Any, zone: _Zone) -> timedelta:
    start = zone.read(event, "DTSTART")
    end_value = _decoded(event, "DTEND")
    if isinstance(end_value, date):
        return max(zone.read(event, "DTEND") - start, timedelta(0))
    duration = _decoded(event, "DURATION")
    if isinstance(duration, timedelta):
        return duration
    return timedelta(days=1) if not isinstance(event.decoded("DTSTART"), datetime) else timedelta(0)


def _exdates(event: Any, zone: _Zone) -> set[datetime]:
    return set(instants(event, "EXDATE", zone.fallback, zone.zones))


def _utc_stamp(event: Any, name: str, zone: _Zone) -> str | None:
    return _stamp(event, name, zone)


def _too_many(per_series: bool, options: IcalOptions) -> str:
    if per_series:
        return f"over {options.max_occurrences} occurrences in the window; narrow from/to"
    return (
        f"the file's recurring events have over {options.max_total_occurrences} occurrences in the window in all; "
        "import the rest in another file or narrow from/to"
    )


def _too_costly(options: IcalOptions) -> str:
    return (
        f"the file's recurring events scanned {options.max_scan_years} calendar years for their occurrences in all; "
        "import the rest in another file or narrow from/to"
    )


def _recurrence_id(event: Any, zone: _Zone) -> str | None:
    return _stamp(event, "RECURRENCE-ID", zone) if event.get("RECURRENCE-ID") is not None else None


def _stamp(event: Any, name: str, zone: _Zone) -> str | None:
    try:
        value = zone.read(event, name)
    except Exception:
        return None
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _item(event: Any, uid: str, recurrence_id: str | None, zone: _Zone) -> dict[str, Any]:
    item: dict[str, Any] = {"uid": uid, "recurrence_id": recurrence_id}
    start_value = _decoded(event, "DTSTART")
    all_day = isinstance(start_value, date) and not isinstance(start_value, datetime)
    start = zone.local(event, "DTSTART") if isinstance(start_value, date) else None
    end: datetime | None = None
    end_value = _decoded(event, "DTEND")
    if isinstance(end_value, date):
        end = zone.local(event, "DTEND")
    elif start is not None:
        duration = _decoded(event, "DURATION")
        if isinstance(duration, timedelta):
            end = start + duration
        else:  # RFC 5545: a date lasts one day, a date-time no time at all
            end = start + (timedelta(days=1) if all_day else timedelta(0))
    item["dtstart"] = start.isoformat() if start else _raw(event, "DTSTART")
    item["dtend"] = end.isoformat() if end else None
    for key, prop in (("summary", "SUMMARY"), ("description", "DESCRIPTION"), ("location", "LOCATION"),
                      ("status", "STATUS"), ("x_appointment_type", "X-APPOINTMENT-TYPE"),
                      ("x_appointment_status", "X-APPOINTMENT-STATUS")):  # fmt: skip
        value = event.get(prop)
        item[key] = str(value) if value is not None else None
    item["all_day"] = all_day
    labels = list(event_categories(event))
    organizer, attendees = event_contacts(event)
    if labels:
        item["categories"] = labels
    if organizer is not None:
        item["organizer"] = organizer
    if attendees:  # the format carries no guests: an attendee is its name and address
        item["attendees"] = [{"name": a["name"], "email": a["email"]} for a in attendees]
    return item


def _decoded(event: Any, name: str) -> Any:
    if event.get(name) is None:
        return None
    try:
        return event.decoded(name)
    except Exception:
        return None


def _raw(event: Any, name: str) -> str | None:
    value = event.get(name)
    return (
        None
        if value is None
        else str(getattr(value, "to_ical", lambda: value)().decode() if hasattr(value, "to_ical") else value)
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
