"""Busy time of recurring events written over CalDAV.

An appointment row holds the first occurrence of a recurring VEVENT; the DAV item keeps the
RRULE/RDATE/EXDATE and any overridden instances (RECURRENCE-ID). Availability expands them into
the requested window here, with python-dateutil (icalendar's own dependency). Recurrences are
expanded in the event's wall-clock zone, so a weekly 09:00 stays 09:00 across DST changes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from dateutil.rrule import rruleset, rrulestr  # type: ignore[import-untyped]

__all__ = ["MAX_OCCURRENCES", "occurrences"]

#: Occurrences expanded per item and window at most (a minutely rule cannot run away).
MAX_OCCURRENCES = 2000


def _aware(value: Any, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=zone)
    raise ValueError(f"not a date or date-time: {value!r}")


def _values(component: Any, name: str) -> list[Any]:
    raw = component.get(name)
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    result: list[Any] = []
    for item in items:
        dts = getattr(item, "dts", None)
        result.extend(d.dt for d in dts) if dts is not None else result.append(item)
    return result


def occurrences(text: str, default_zone: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The occurrences of the recurring VEVENT in ``text`` overlapping ``[start, end)``, in UTC.

    Cancelled instances (``STATUS:CANCELLED`` overrides, EXDATE) are left out; an unreadable item
    yields nothing (its first occurrence is still busy through its appointment row).
    """
    try:
        zone = ZoneInfo(default_zone)
        calendar = icalendar.Calendar.from_ical(text)
        events = list(calendar.walk("VEVENT"))
        master = next(e for e in events if e.get("RECURRENCE-ID") is None)
        if str(master.get("STATUS", "")).upper() == "CANCELLED":
            return []
        first = _aware(master.decoded("DTSTART"), zone)
        if master.get("DTEND") is not None:
            duration = _aware(master.decoded("DTEND"), zone) - first
        elif master.get("DURATION") is not None:
            duration = master.decoded("DURATION")
        else:
            duration = timedelta(days=1) if not isinstance(master.decoded("DTSTART"), datetime) else timedelta(0)
        rules = rruleset()
        for rule in _values(master, "RRULE"):
            text_rule = rule.to_ical().decode() if hasattr(rule, "to_ical") else str(rule)
            rules.rrule(rrulestr(text_rule, dtstart=first, ignoretz=False))
        for extra in _values(master, "RDATE"):
            rules.rdate(_aware(extra, zone))
        for excluded in _values(master, "EXDATE"):
            rules.exdate(_aware(excluded, zone))
        overridden: dict[datetime, Any] = {}
        for event in events:
            if event.get("RECURRENCE-ID") is not None:
                overridden[_aware(event.decoded("RECURRENCE-ID"), zone).astimezone(UTC)] = event
        result: list[tuple[datetime, datetime]] = []
        for n, occurrence in enumerate(rules.xafter(start - duration - timedelta(days=1), inc=True)):
            if n >= MAX_OCCURRENCES or occurrence >= end:
                break
            begin = occurrence.astimezone(UTC)
            if begin in overridden:
                continue
            if begin + duration > start:
                result.append((begin, begin + duration))
        for event in overridden.values():
            if str(event.get("STATUS", "")).upper() == "CANCELLED":
                continue
            s = _aware(event.decoded("DTSTART"), zone)
            e = _aware(event.decoded("DTEND"), zone) if event.get("DTEND") is not None else s + duration
            if s < end and e > start:
                result.append((s.astimezone(UTC), e.astimezone(UTC)))
        return result
    except Exception:  # client-written text: anything may be wrong with it
        return []
