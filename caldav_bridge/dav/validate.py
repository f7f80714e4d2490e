"""Calendar data checked before anything parses it further or takes a lock (RFC 4791 5.3.2.1).

A CalDAV PUT body passes :func:`check_calendar_body` before Radicale reads it. Refused with
:class:`~caldav_bridge.dav.errors.InvalidCalendarData` (the plugin answers ``CALDAV:valid-calendar-data``),
and nothing written:

- bytes that are not text in the declared charset (UTF-8 when none is declared; ``MalformedCalendarData``), which would
  otherwise be read as Latin-1;
- a date or date-time the parser cannot read (``00000101`` would otherwise become 2000-01-01);
- a time outside the years 1000 to 9000 (:data:`EARLIEST_TIME`, :data:`LATEST_TIME`): an event's DTSTART, DTEND
  (or its start plus DURATION), DUE, RECURRENCE-ID, RDATE or EXDATE; near the year 9999 Radicale's and the
  appointment sync's arithmetic overflowed (412 and 500). The appointments calendar keeps its own narrower rule
  (1900 to 2200, the canonical model's); a calendar a client made may hold a birthday of 1850;
- a TZID that names no known zone and has no VTIMEZONE in the body (it would otherwise be read
  in the calendar's zone); a custom TZID with its VTIMEZONE is fine;
- a recurrence rule (RRULE, EXRULE) that never occurs or whose expansion costs more than a fixed
  budget (:mod:`caldav_bridge.model.recurrence`);
- more content lines than :data:`MAX_LINES` or more events (a series and its moved occurrences) than
  :data:`MAX_OBJECTS`, counted before any parse (:mod:`caldav_bridge.converters.ical_shape`): a PUT is parsed
  three times (this check, Radicale, the appointment sync), each content line costing ~70 µs of CPU and each
  stored occurrence ~2 ms, so these bounds, not the byte limit, keep a request's CPU low;
- more EXDATE and RDATE values than :data:`~caldav_bridge.converters.ical_shape.MAX_DATES` or more values in the
  BYxxx lists of its RRULE and EXRULE lines than :data:`~caldav_bridge.converters.ical_shape.MAX_RULE_VALUES`,
  counted in the same scan (one line may hold thousands of comma-separated values: 15,000 dates cost ~1.05 s).
"""

from __future__ import annotations

import codecs
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any

from icalendar.timezone import tzp

from caldav_bridge.converters.ical_parse import ParsedText
from caldav_bridge.converters.ical_read import parse_calendar
from caldav_bridge.converters.ical_shape import MAX_DATES, MAX_RULE_VALUES, shape
from caldav_bridge.dav.errors import InvalidCalendarData, MalformedCalendarData
from caldav_bridge.model.recurrence import (
    CHECK_OCCURRENCES,
    CHECK_YEARS,
    Meter,
    RuleRefused,
    check_rule,
    parse_rule,
)

__all__ = ["BODY_YEARS", "MAX_LINES", "MAX_OBJECTS", "check_calendar_body"]

#: Content lines (unfolded) a calendar object may have: 100,000 short lines cost 7.5 s of CPU before this bound,
#: 2,000 about 0.15 s; an appointment has a few dozen.
MAX_LINES = 2_000
#: VEVENT, VTODO and VJOURNAL components a calendar object may have (a series and its moved occurrences):
#: each costs ~2 ms of CPU to store, 600 over a second.
MAX_OBJECTS = 100

#: Years of calendar all the rules of one body may scan together (see :data:`CHECK_YEARS`).
BODY_YEARS = 3 * CHECK_YEARS
_COMPONENTS = ("VEVENT", "VTODO", "VJOURNAL")
#: Properties whose value decides when something happens: unreadable, they are refused.
_TIMES = frozenset({"DTSTART", "DTEND", "DUE", "DURATION", "RECURRENCE-ID", "EXDATE", "RDATE", "RRULE", "EXRULE"})


def _refuse(detail: str) -> InvalidCalendarData:
    return InvalidCalendarData(detail)


def _components(calendar: Any) -> Iterator[Any]:
    for component in calendar.subcomponents:
        if component.name in _COMPONENTS:
            yield component


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(0))
    raise ValueError(f"not a date or date-time: {value!r}")


def _rule_texts(component: Any) -> Iterator[str]:
    for name in ("RRULE", "EXRULE"):
        raw = component.get(name)
        for rule in raw if isinstance(raw, list) else ([raw] if raw is not None else []):
            yield rule.to_ical().decode() if hasattr(rule, "to_ical") else str(rule)


def _check_rules(component: Any, meter: Meter) -> None:
    texts = list(_rule_texts(component))
    if not texts:
        return
    if component.get("DTSTART") is None:
        raise _refuse(f"a recurring {component.name} needs DTSTART")
    start = _as_datetime(component.decoded("DTSTART"))
    for text in texts:
        try:
            rule = parse_rule(text, start)  # an UNTIL of another form than DTSTART's is read, not refused
        except ValueError as exc:
            raise _refuse(f"the recurrence rule {text!r} cannot be read: {exc}") from exc
        budget = Meter(left=min(CHECK_YEARS, meter.left - meter.spent))
        try:
            check_rule(rule, budget, occurrences=CHECK_OCCURRENCES)
        except RuleRefused as exc:
            raise _refuse(f"{exc}: {text}") from exc
        finally:
            meter.spent += budget.spent
        if meter.spent >= meter.left:
            raise _refuse("the recurrence rules of this calendar object cost more than the expansion budget")


def _check_times(component: Any) -> None:
    broken = sorted({name for name, _ in getattr(component, "errors", ()) if str(name).upper() in _TIMES})
    if broken:
        raise _refuse(f"{component.name} has an unreadable {', '.join(broken)}")
    _check_years(component)


#: The first and last times any calendar may hold: far from both ends of Python's calendar, so that no end, duration
#: or window computed from them overflows, and beyond any calendar's use.
EARLIEST_TIME = datetime(1000, 1, 1)
LATEST_TIME = datetime(9000, 1, 1)
#: Properties holding one date or date-time, and those holding lists of them (a PERIOD counts by its start).
_SINGLE_TIMES = ("DTSTART", "DTEND", "DUE", "RECURRENCE-ID")
_LISTED_TIMES = ("RDATE", "EXDATE")


def _wall_clock(value: Any) -> datetime:
    """A date or date-time as a naive UTC (aware) or wall-clock (floating, dated) date-time."""
    moment = _as_datetime(value)
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:  # past either end of the calendar in UTC (year 1 or 9999 with an offset): outside
            return datetime.min
    return moment.replace(tzinfo=None)


def _times_of(component: Any) -> Iterator[tuple[str, Any]]:
    for name in _SINGLE_TIMES:
        if component.get(name) is not None:
            yield name, component.decoded(name)
    for name in _LISTED_TIMES:
        raw = component.get(name)
        for values in raw if isinstance(raw, list) else ([raw] if raw is not None else []):
            for value in getattr(values, "dts", ()):
                yield name, value.dt[0] if isinstance(value.dt, tuple) else value.dt
    start, duration = component.get("DTSTART"), component.get("DURATION")
    if start is not None and duration is not None:
        try:
            yield "DTSTART + DURATION", _as_datetime(component.decoded("DTSTART")) + component.decoded("DURATION")
        except OverflowError:
            yield "DTSTART + DURATION", datetime.max


def _check_years(component: Any) -> None:
    """Refuse times outside :data:`EARLIEST_TIME` to :data:`LATEST_TIME`: with them, an end computed from a start
    (a DATE's day, a DURATION, the sync's longest appointment) overflowed near the year 9999."""
    for name, value in _times_of(component):
        if not EARLIEST_TIME <= _wall_clock(value) <= LATEST_TIME:
            raise _refuse(
                f"{component.name} {name} {value}: times must lie between {EARLIEST_TIME.year} and {LATEST_TIME.year}"
            )


def _known_zone(tzid: str, defined: set[str]) -> bool:
    if tzid in defined:
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return tzp.timezone(tzid) is not None
        except Exception:  # a TZID is client text: anything may be wrong with it
            return False


def _check_zones(component: Any, defined: set[str]) -> None:
    for part in component.walk():
        for name, value in part.property_items(recursive=False, sorted=False):
            for item in value if isinstance(value, list) else [value]:
                tzid = getattr(item, "params", {}).get("TZID")
                if tzid is not None and not _known_zone(str(tzid), defined):
                    raise _refuse(f"{name} names the time zone {str(tzid)!r}, which is unknown and has no VTIMEZONE")


def _text(body: bytes, content_type: str) -> str:
    charset = "utf-8"
    if "charset=" in content_type.lower():
        charset = content_type.lower().split("charset=", 1)[1].split(";")[0].strip().strip('"') or charset
    try:
        codecs.lookup(charset)
        return body.decode(charset)
    except (LookupError, UnicodeDecodeError) as exc:
        raise MalformedCalendarData(f"the body is not {charset} text: {exc}") from exc


def _check_calendar(calendar: Any) -> None:
    defined = {str(tz.get("TZID")) for tz in calendar.walk("VTIMEZONE")}
    meter = Meter(left=BODY_YEARS)
    for component in _components(calendar):
        _check_times(component)
        _check_zones(component, defined)
        _check_rules(component, meter)


def _check_shape(body: bytes) -> None:
    counted = shape(body)
    if counted.lines > MAX_LINES:
        raise _refuse(f"the calendar object has {counted.lines:,} content lines (at most {MAX_LINES:,})")
    if counted.objects > MAX_OBJECTS:
        raise _refuse(
            f"the calendar object has {counted.objects:,} events, tasks or notes (at most {MAX_OBJECTS:,}, "
            "a series and its moved occurrences together)"
        )
    if counted.dates > MAX_DATES:
        raise _refuse(f"the calendar object has {counted.dates:,} EXDATE and RDATE values (at most {MAX_DATES:,})")
    if counted.rule_values > MAX_RULE_VALUES:
        raise _refuse(
            f"the calendar object's RRULE and EXRULE lines list {counted.rule_values:,} values "
            f"(at most {MAX_RULE_VALUES:,})"
        )


def check_calendar_body(body: bytes, content_type: str = "") -> ParsedText | None:
    """Refuse a PUT body (iCalendar) that is costly to expand or would be stored other than it says.

    Bodies that are not iCalendar (vCards) are left to the DAV server; an iCalendar body the parser cannot read
    is refused (``MalformedCalendarData``, 400); every body's lines are counted first.
    Returns the body's text and parse (None for a body that is not iCalendar), which the store reads instead of
    parsing the stored text when icalendar reads both alike (:func:`caldav_bridge.converters.ical_parse.read_vevents`).

    Raises:
        InvalidCalendarData: the reason (``MalformedCalendarData`` when the body cannot be read).
    """
    _check_shape(body)
    if b"BEGIN:VCALENDAR" not in body[:4096].upper():
        return None
    text = _text(body, content_type)
    try:
        calendar = parse_calendar(text)
    except Exception as exc:
        # Refused here, not left to Radicale: vobject reads some bodies icalendar cannot (a VALARM with DTSTART
        # 00000101) and Radicale then expanded their rules unchecked (a never-occurring one: 12 s of CPU) before the
        # store, which reads with icalendar, refused them anyway.
        raise MalformedCalendarData(f"the calendar data cannot be read: {str(exc)[:200]}") from exc
    try:
        _check_calendar(calendar)
    except InvalidCalendarData:
        raise
    except Exception as exc:  # client text the checks cannot read: not stored either
        raise MalformedCalendarData(f"the calendar data cannot be read: {exc}") from exc
    return ParsedText(text, calendar)
