"""A series made here (``meta.recurrence``) as Salesforce sees it: **one** record at the series' own first
occurrence (DTSTART, never an overridden occurrence's time), its rule and its moved or cancelled occurrences
named in a last line of the Description, which the mirror drops again when it reads the record
(docs/salesforce.md, "Series made here").

The line: ``[Series: RRULE:FREQ=WEEKLY;COUNT=4; this record is its first occurrence]``, and for a series with
changed occurrences ``…; this record is its first occurrence; changed occurrences (Europe/Berlin): 2026-12-15
09:00 moved to 2026-12-15 11:00-12:00, 2026-12-22 09:00 cancelled]``: local times of the series' zone (the one
its rule is expanded in; dates in the calendar's zone for an all-day series), by original start, at most
:data:`MAX_NOTED` of them (the rest counted). An occurrence retitled only keeps its time and is not named; one
a CalDAV client deleted (an EXDATE) is named cancelled. The record's own times stay the series' first occurrence
even when that one is moved: a Salesforce edit of the record comes back through the mirror with its times, which
are the series' times here, so a moved occurrence's time written there would move the whole series.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from caldav_bridge.model.appointment import Appointment
from caldav_bridge.model.series import Override, Series, day_span

__all__ = ["MAX_NOTED", "SERIES_NOTE", "series_description", "without_series_note"]

#: The last line of a series' Description (``changes``: empty, or ``; changed occurrences: …``).
SERIES_NOTE = "[Series: RRULE:{rule}; this record is its first occurrence{changes}]"
_SERIES_NOTE = re.compile(r"\n*\[Series: RRULE:[^\]\n]*; this record is its first occurrence(?:; [^\]\n]*)?\]\Z")
#: At most this many changed occurrences are named (the Description stays short; the rest are counted).
MAX_NOTED = 20


def without_series_note(description: str) -> str:
    """A Description read from Salesforce without the series line this service wrote."""
    return _SERIES_NOTE.sub("", description)


def series_description(appointment: Appointment, zone: str) -> str | None:
    """The Description written for ``appointment``: its own, with the series line last for a series
    (``zone``: the calendar's, the local times the line names)."""
    recurrence = (appointment.meta.model_extra or {}).get("recurrence")
    rule = recurrence.get("rrule") if isinstance(recurrence, dict) else None
    if not isinstance(rule, str) or not rule:
        return appointment.description
    note = SERIES_NOTE.format(rule=rule.replace("]", "")[:500], changes=_changes(appointment, zone))
    return f"{appointment.description}\n\n{note}" if appointment.description else note


def _is_all_day(appointment: Appointment) -> bool:
    return (appointment.meta.model_extra or {}).get("all_day") is True


def _changes(appointment: Appointment, zone: str) -> str:
    """``; changed occurrences (zone): …`` for the series' moved and cancelled occurrences (empty: none)."""
    series = Series.of_meta(appointment.meta.model_extra)
    if series is None:
        return ""
    all_day = _is_all_day(appointment)
    name = zone if all_day or not series.timezone else series.timezone
    try:
        tz = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        name, tz = "UTC", ZoneInfo("UTC")
    duration = appointment.date_end - appointment.date_start
    removed = {d.astimezone(UTC) for d in series.exdates}  # a client's deleted occurrence: cancelled
    changed = sorted(
        [
            *(o for o in series.overrides if o.recurrence_id.astimezone(UTC) not in removed),
            *(Override(d, d, d + duration, cancelled=True) for d in removed),
        ],
        key=lambda o: o.recurrence_id,
    )
    changed = [o for o in changed if _changed(o, duration, tz if all_day else None)]
    if not changed:
        return ""
    named = [_change(o, tz, all_day) for o in changed[:MAX_NOTED]]
    if len(changed) > MAX_NOTED:
        named.append(f"and {len(changed) - MAX_NOTED} more")
    return f"; changed occurrences ({name}): " + ", ".join(named)


def _changed(override: Override, duration: timedelta, all_day_zone: ZoneInfo | None) -> bool:
    """Whether ``override`` is cancelled or not at its original time (an all-day one: not on its dates)."""
    if override.cancelled or override.timed:
        return True
    rid = override.recurrence_id
    if all_day_zone is not None:
        return day_span(override.start, override.end, all_day_zone) != day_span(rid, rid + duration, all_day_zone)
    return (override.start, override.end) != (rid, rid + duration)


def _change(override: Override, tz: ZoneInfo, all_day: bool) -> str:
    original = _local(override.recurrence_id, tz, all_day)
    if override.cancelled:
        return f"{original} cancelled"
    timed = not all_day or override.timed
    start, end = override.start.astimezone(tz), override.end.astimezone(tz)
    if not timed:
        return f"{original} moved to {start:%Y-%m-%d}"
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{original} moved to {start:%Y-%m-%d %H:%M}-{until}"


def _local(instant: datetime, tz: ZoneInfo, all_day: bool) -> str:
    local = instant.astimezone(tz)
    return f"{local:%Y-%m-%d}" if all_day else f"{local:%Y-%m-%d %H:%M}"
