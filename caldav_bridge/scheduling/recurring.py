"""Busy time of recurring events written over CalDAV.

An appointment row holds the first occurrence of a recurring VEVENT; the DAV item keeps the
RRULE/RDATE/EXDATE and any overridden instances (RECURRENCE-ID). Availability expands them into
the requested window here. Recurrences are expanded in the event's wall-clock zone, so a weekly
09:00 stays 09:00 across DST changes.

The cost of a window does not grow with the age of the event or with what its rule says: each
rule is restarted at its period containing the window (:func:`caldav_bridge.model.recurrence.moved_to`),
its scan is metered and stops once past the window, and an event with more than
:data:`MAX_OCCURRENCES` occurrences in the window makes the whole window busy (never free).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from caldav_bridge.model.recurrence import Exhausted, Meter, metered, moved_to, parse_rule

__all__ = ["MAX_OCCURRENCES", "occurrences"]

#: Occurrences expanded per item and window at most; beyond, the window is busy as a whole.
MAX_OCCURRENCES = 2000

Interval = tuple[datetime, datetime]


class _TooMany(Exception):
    """More occurrences in the window than :data:`MAX_OCCURRENCES`."""


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


def _cancelled(component: Any) -> bool:
    return str(component.get("STATUS", "")).upper() == "CANCELLED"


@dataclass
class _Series:
    """The master VEVENT of a recurring item, read for expansion."""

    zone: ZoneInfo
    first: datetime
    duration: timedelta
    rules: list[str]
    extra: list[datetime]
    excluded: set[datetime]
    overrides: list[Any]
    overridden: set[datetime]

    @classmethod
    def read(cls, text: str, zone: ZoneInfo) -> _Series | None:
        events = list(icalendar.Calendar.from_ical(text).walk("VEVENT"))
        master = next(e for e in events if e.get("RECURRENCE-ID") is None)
        if _cancelled(master):
            return None
        start = master.decoded("DTSTART")
        first = _aware(start, zone)
        if master.get("DTEND") is not None:
            duration = _aware(master.decoded("DTEND"), zone) - first
        elif master.get("DURATION") is not None:
            duration = master.decoded("DURATION")
        else:
            duration = timedelta(days=1) if not isinstance(start, datetime) else timedelta(0)
        overrides = [e for e in events if e.get("RECURRENCE-ID") is not None]
        return cls(
            zone=zone,
            first=first,
            duration=duration,
            rules=[r.to_ical().decode() if hasattr(r, "to_ical") else str(r) for r in _values(master, "RRULE")],
            extra=[_aware(v, zone) for v in _values(master, "RDATE")],
            excluded={_aware(v, zone).astimezone(UTC) for v in _values(master, "EXDATE")},
            overrides=overrides,
            overridden={_aware(e.decoded("RECURRENCE-ID"), zone).astimezone(UTC) for e in overrides},
        )


def _rule_starts(text: str, first: datetime, low: datetime, end: datetime) -> list[datetime]:
    """Starts of ``text``'s occurrences in ``[low, end)``, from its period containing ``low``.

    Raises:
        _TooMany: more than MAX_OCCURRENCES were scanned before ``end``.
    """
    rule = parse_rule(text, first)
    begin = moved_to(rule, low) or first
    # Every year the scan enters costs one unit (BYWEEKNO rules: up to four); the scan stops a
    # year past the window, whatever the rule says.
    meter = Meter(left=4 * (end.year - begin.year + 2))
    found: list[datetime] = []
    scanned = 0
    try:
        for occurrence in metered(rule, meter, begin):
            if occurrence >= end:
                break
            scanned += 1
            if scanned > MAX_OCCURRENCES:
                raise _TooMany
            if occurrence >= low:
                found.append(occurrence)
    except Exhausted:
        pass
    return found


def _series_intervals(series: _Series, start: datetime, end: datetime) -> list[Interval]:
    low = start - series.duration - timedelta(days=1)
    starts: set[datetime] = set()
    for rule in series.rules:
        starts.update(s.astimezone(UTC) for s in _rule_starts(rule, series.first, low, end))
    starts.update(s.astimezone(UTC) for s in series.extra if low <= s < end)
    if len(starts) > MAX_OCCURRENCES:
        raise _TooMany
    result = [
        (begin, begin + series.duration)
        for begin in sorted(starts - series.excluded - series.overridden)
        if begin + series.duration > start
    ]
    for event in series.overrides:
        if _cancelled(event):
            continue
        s = _aware(event.decoded("DTSTART"), series.zone)
        e = _aware(event.decoded("DTEND"), series.zone) if event.get("DTEND") is not None else s + series.duration
        if s < end and e > start:
            result.append((s.astimezone(UTC), e.astimezone(UTC)))
    return result


def occurrences(text: str, default_zone: str, start: datetime, end: datetime) -> list[Interval]:
    """The occurrences of the recurring VEVENT in ``text`` overlapping ``[start, end)``, in UTC.

    Cancelled instances (``STATUS:CANCELLED`` overrides, EXDATE) are left out; an unreadable item
    yields nothing (its first occurrence is still busy through its appointment row); an item with
    more than :data:`MAX_OCCURRENCES` occurrences in the window yields the whole window.
    """
    try:
        series = _Series.read(text, ZoneInfo(default_zone))
        if series is None:
            return []
        return _series_intervals(series, start, end)
    except _TooMany:
        return [(start, end)]
    except Exception:  # client-written text: anything may be wrong with it
        return []
