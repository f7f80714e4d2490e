"""A feed's VEVENTs of one appointment: its UID (the client's where a CalDAV client made it) and, for a
series written over CalDAV (``meta.recurrence``), the series itself, so calendar apps show every occurrence.

A series is one master VEVENT (the first occurrence, with RRULE, RDATE and EXDATE) and one VEVENT per
moved occurrence (same UID, RECURRENCE-ID; its own title, notes and place where it has them). Every VEVENT
shows what the feed's privacy level shows of the appointment (:func:`caldav_bridge.converters.disclosure.disclose`,
through :func:`.ical.vevent_text`). A
cancelled occurrence is an EXDATE, at every privacy level (a busy feed carries no STATUS, and an EXDATE is
what every calendar app reads alike). Times of the rule are written as DTSTART is written (a date for an
all-day series, else in the series' zone with TZID), so every parser expands the same occurrences.

Pure: the same appointment and options always give the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from caldav_bridge.converters.ical import EventOptions, all_day_dates, vevent_text
from caldav_bridge.converters.ical_text import fold
from caldav_bridge.model.appointment import Appointment
from caldav_bridge.model.series import ICAL_UID_META, RECURRENCE_META, Series, applied

__all__ = ["feed_event_bytes", "feed_uid", "series_of", "series_zone", "series_zones"]

_TZID = re.compile(rb";TZID=([^:;\r\n]+)")


def feed_uid(appointment: Appointment) -> str:
    """The iCalendar UID of an appointment on every channel: the client's (``meta.ical_uid``) where a CalDAV
    client made it, else the appointment id (which is also the UID of its CalDAV item)."""
    uid = getattr(appointment.meta, ICAL_UID_META, None)
    return uid if isinstance(uid, str) and uid else str(appointment.id)


def series_of(appointment: Appointment) -> Series | None:
    """The appointment's series (``meta.recurrence``), or None."""
    return Series.of_meta({RECURRENCE_META: getattr(appointment.meta, RECURRENCE_META, None)})


def series_zone(series: Series, calendar_zone: str) -> str:
    """The zone a series' rule is expanded (and written) in."""
    return series.timezone or calendar_zone


def series_zones(blobs: Iterable[bytes]) -> set[str]:
    """The zones the series among rendered VEVENTs are written in (each needs its VTIMEZONE in the feed)."""
    return {m.decode() for blob in blobs if b"\r\nRRULE:" in blob or b"\r\nRDATE" in blob for m in _TZID.findall(blob)}


def feed_event_bytes(
    appointment: Appointment, sequence: int, options: EventOptions, *, member: str | None = None
) -> bytes:
    """The VEVENT(s) of ``appointment`` in a feed (``options.timezone``: the calendar's zone; ``member``: on a
    team calendar, the member's label, :func:`.disclosure.member_labels`)."""
    uid = feed_uid(appointment)
    series = series_of(appointment)
    if series is None:
        return vevent_text(appointment, sequence, options, uid=uid, member=member).encode()
    zone = series_zone(series, options.timezone)
    all_day = all_day_dates(appointment, options.timezone) is not None
    written = options if all_day else replace(options, timezone=zone)

    def value(name: str, instant: datetime) -> str:
        if all_day:
            day = instant.astimezone(ZoneInfo(options.timezone)).date()
            return f"{name};VALUE=DATE:{_date(day)}"
        return _when(name, instant, zone)

    lines = [fold("RRULE:" + series.rrule)] if series.rrule else []
    lines += [fold(value("RDATE", d)) for d in series.rdates]
    removed = sorted({*series.exdates, *(o.recurrence_id for o in series.overrides if o.cancelled)})
    lines += [fold(value("EXDATE", d)) for d in removed]
    out = [_with_lines(vevent_text(appointment, sequence, written, uid=uid, member=member), lines)]
    for moved in series.overrides:
        if moved.cancelled or moved.recurrence_id in removed:
            continue
        instance = applied(appointment, moved.start, moved.end, moved)  # its own title, notes and place
        text = vevent_text(instance, sequence, written, uid=uid, member=member)
        out.append(_after_uid(text, fold(value("RECURRENCE-ID", moved.recurrence_id))))
    return "".join(out).encode()


def _date(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _when(name: str, instant: datetime, zone: str) -> str:
    if zone == "UTC":
        return f"{name}:{instant.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    local = instant.astimezone(ZoneInfo(zone))
    return f"{name};TZID={zone}:{local:%Y%m%dT%H%M%S}"


def _with_lines(vevent: str, lines: list[str]) -> str:
    """``lines`` added to a VEVENT's properties (before its VALARM, if any: properties come first)."""
    if not lines:
        return vevent
    at = vevent.find("BEGIN:VALARM\r\n")
    at = at if at >= 0 else vevent.rindex("END:VEVENT\r\n")
    return vevent[:at] + "".join(lines) + vevent[at:]


def _after_uid(vevent: str, line: str) -> str:
    """``line`` after the UID property (and its folded continuation lines)."""
    at = vevent.index("\r\n", vevent.index("\r\nUID:") + 2) + 2
    while vevent.startswith(" ", at):
        at = vevent.index("\r\n", at) + 2
    return vevent[:at] + line + vevent[at:]
