"""A series' overridden occurrences in its CalDAV item: :func:`merge_overrides` writes ``meta.recurrence``'s
overrides as RECURRENCE-ID VEVENTs into the item's text (:func:`caldav_bridge.dav.render.render_event`'s part
for a series).

An override the stored text already says as it is stays as the client wrote it; one a REST change made or
changed is written (a new one as a copy of the master without its recurrence). The times follow the master:
in its zone (or UTC); for an all-day series (DTSTART ``VALUE=DATE``) as dates, RECURRENCE-ID ``VALUE=DATE`` too
(RFC 5545 §3.8.4.4: the same value type as the master's DTSTART), and an occurrence given times of its own
(``timed``) has DATE-TIME DTSTART/DTEND in the series' zone, as Apple Calendar writes one.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any

import icalendar

from caldav_bridge.converters.disclosure import location_text
from caldav_bridge.converters.ical import ical_status
from caldav_bridge.converters.ical_parse import (
    IcalParseError,
    description_of,
    event_location,
    read_vevents,
    series_in,
    summary_name,
)
from caldav_bridge.converters.ical_read import parse_component
from caldav_bridge.model.appointment import Appointment
from caldav_bridge.model.series import Override, Series, day_span

__all__ = ["Written", "merge_overrides"]


@dataclass(frozen=True)
class Written:
    """How an item's times are written: in ``zone`` (the master DTSTART's zone, or UTC), as dates in it for an
    all-day series; and its SEQUENCE."""

    zone: Any
    sequence: int
    all_day: bool = False

    def when(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone)

    def add_times(self, event: Any, start: datetime, end: datetime, *, as_dates: bool) -> None:
        """DTSTART and DTEND of ``event``: the days ``start`` to ``end`` span in ``zone`` (``as_dates``: all-day),
        else the times in ``zone``."""
        if as_dates:
            first, after = day_span(start, end, self.zone)
            event.add("DTSTART", first)
            event.add("DTEND", after)
        else:
            event.add("DTSTART", self.when(start))
            event.add("DTEND", self.when(end))

    def recurrence_id(self, instant: datetime) -> date | datetime:
        return instant.astimezone(self.zone).date() if self.all_day else self.when(instant)

    def instant(self, value: Any) -> datetime:
        """A RECURRENCE-ID read back as a UTC instant (a date: its midnight in ``zone``)."""
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        if isinstance(value, date):
            return datetime.combine(value, time(), self.zone).astimezone(UTC)
        return datetime(1, 1, 1, tzinfo=UTC)


def merge_overrides(
    calendar: icalendar.Calendar,
    master: Any,
    appointment: Appointment,
    written: Written,
    base: tuple[str, str],
) -> None:
    """The series' exceptions (``meta.recurrence``) in ``calendar``: the master's RRULE, EXDATE and RDATE where they
    differ from the stored text's, and the overrides as RECURRENCE-ID VEVENTs; ``base``: the stored text and the
    zone its floating times and dates are read in.

    An override VEVENT whose RECURRENCE-ID no override has any more (a REST move of the whole series shifted it) is
    given the one it now has, kept as the client wrote it otherwise; one left over is removed (it would show an
    occurrence the series no longer has)."""
    series = Series.of_meta(appointment.meta.model_dump(mode="json"))
    if series is None:
        return
    base_text, zone = base
    try:
        parsed = series_in(read_vevents(base_text), zone)
    except IcalParseError:
        parsed = None
    if parsed is not None:
        _merge_master(master, series, parsed, written)
    said = {o.recurrence_id: o for o in (parsed.overrides if parsed is not None else ())}
    events: dict[datetime, Any] = {}
    for component in calendar.walk("VEVENT"):
        with contextlib.suppress(Exception):  # an unreadable RECURRENCE-ID: that VEVENT is left alone
            if component.get("RECURRENCE-ID") is not None:
                events[written.instant(component.decoded("RECURRENCE-ID"))] = component
    rekeyed = _rekey(calendar, events, said, series, written)
    for override in series.overrides:
        rid = override.recurrence_id.astimezone(UTC)
        if (said.get(rid) == override or rid in rekeyed) and rid in events:
            continue
        event = events.get(rid)
        if event is None:
            event = parse_component(master.to_ical())
            for name in ("RRULE", "RDATE", "EXDATE", "EXRULE", "RECURRENCE-ID"):
                event.pop(name, None)
            event.add("RECURRENCE-ID", written.recurrence_id(rid))
            calendar.add_component(event)
        _write_override(event, override, appointment, written)


def _merge_master(master: Any, series: Series, stored: Series, written: Written) -> None:
    """The master's RRULE, EXDATE and RDATE as ``series`` has them, each rewritten only where the stored text's
    (``stored``) says otherwise (a client's own lines and parameters stay), in the master's zone (dates for an
    all-day series)."""
    if series.rrule and series.rrule != stored.rrule:
        master.pop("RRULE", None)
        master.add("RRULE", icalendar.vRecur.from_ical(series.rrule))
    for name, wanted, had in (("EXDATE", series.exdates, stored.exdates), ("RDATE", series.rdates, stored.rdates)):
        if {d.astimezone(UTC) for d in wanted} != {d.astimezone(UTC) for d in had}:
            master.pop(name, None)
            if wanted:
                master.add(name, [written.recurrence_id(d) for d in sorted(wanted)])


def _rekey(
    calendar: icalendar.Calendar,
    events: dict[datetime, Any],
    said: dict[datetime, Override],
    series: Series,
    written: Written,
) -> set[datetime]:
    """Override VEVENTs whose RECURRENCE-ID (key of ``events``) no override of ``series`` has: each given the
    RECURRENCE-ID of the override it says in all else (``said``: the stored text's overrides), the rest removed.
    ``events`` is updated to match; the RECURRENCE-IDs given are returned (those VEVENTs say their override)."""
    wanted = {o.recurrence_id.astimezone(UTC): o for o in series.overrides}
    stale = [rid for rid in events if rid not in wanted]
    rekeyed: set[datetime] = set()
    if not stale:
        return rekeyed
    for rid, override in wanted.items():
        if rid in events:
            continue
        match = next((old for old in stale if old in said and replace(said[old], recurrence_id=rid) == override), None)
        if match is None:
            continue
        stale.remove(match)
        event = events.pop(match)
        event.pop("RECURRENCE-ID", None)
        event.add("RECURRENCE-ID", written.recurrence_id(rid))
        events[rid] = event
        rekeyed.add(rid)
    gone = {id(events.pop(rid)) for rid in stale}
    calendar.subcomponents = [c for c in calendar.subcomponents if id(c) not in gone]
    return rekeyed


def _write_override(event: Any, override: Override, appointment: Appointment, written: Written) -> None:
    for name in ("DTSTAMP", "LAST-MODIFIED", "DTSTART", "DTEND", "DURATION", "STATUS"):
        event.pop(name, None)
    event.pop("SEQUENCE", None)
    event.add("DTSTAMP", appointment.updated_at.astimezone(UTC))
    event.add("LAST-MODIFIED", appointment.updated_at.astimezone(UTC))
    written.add_times(event, override.start, override.end, as_dates=written.all_day and not override.timed)
    write_texts(
        event,
        override.name if override.name is not None else appointment.name,
        override.description if override.description is not None else appointment.description,
    )
    event.add("STATUS", "CANCELLED" if override.cancelled else ical_status(appointment.status))
    event.add("SEQUENCE", written.sequence)
    place = (
        override.location
        if override.location is not None
        else location_text(getattr(appointment.meta, "location", None))
    )
    if place != event_location(event):
        event.pop("LOCATION", None)
        if place:
            event.add("LOCATION", place)


def write_texts(event: Any, name: str, description: str | None) -> None:
    """SUMMARY ``name`` and DESCRIPTION ``description`` (none when empty), each rewritten only where the event's
    own reads otherwise as an appointment reads it (``ical_parse.summary_name``, ``description_of``): a client's
    SUMMARY or DESCRIPTION longer than the canonical model keeps (255, 8,000 characters), or with blanks around
    it, stays whole through a REST change of another field, and so do its parameters (LANGUAGE, ALTREP)."""
    if summary_name(_first_text(event.get("SUMMARY"))) != name:
        event.pop("SUMMARY", None)
        event.add("SUMMARY", name)
    if description_of(_first_text(event.get("DESCRIPTION"))) != (description or None):
        event.pop("DESCRIPTION", None)
        if description:
            event.add("DESCRIPTION", description)


def _first_text(value: Any) -> str | None:
    """A text property's value (the first, if the event repeats it), or None."""
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value)
