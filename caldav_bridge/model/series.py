"""A recurring appointment's series (RFC 5545 RRULE, EXDATE, RDATE, overridden instances) and its
occurrences in a window, at a bounded cost.

A series written over CalDAV is kept on its appointment as ``meta.recurrence`` (:meth:`Series.to_json`):

    {"rrule": "FREQ=DAILY;COUNT=3", "timezone": "America/Denver", "exdates": ["2026-12-03T16:00:00.000Z"], "rdates": [],
     "overrides": [{"recurrence_id": "2026-12-02T16:00:00.000Z", "date_start": "…", "date_end": "…",
                    "cancelled": false, "name": "Fitting (at the shop)", "location": "Main St 1"}]}

An override's ``name``, ``description`` and ``location`` are its own SUMMARY, DESCRIPTION and LOCATION where its
VEVENT has them (absent: the series' own); :func:`applied` gives the occurrence as an appointment, with them.
An occurrence of an all-day series (``meta.all_day``) stays all-day (dates) when moved, unless it was given times
of its own (``"timed": true``: its VEVENT's DTSTART is a DATE-TIME, its RECURRENCE-ID still a DATE).

Times are UTC instants; the appointment's own ``date_start``/``date_end`` are the first occurrence
(DTSTART/DTEND of the series), and the rule is expanded in the wall-clock time of DTSTART's zone
(``timezone``; for floating times and dates the calendar's), so a weekly 09:00 stays 09:00 across DST changes.

:func:`expand` restarts the rule at its period containing the window
(:func:`caldav_bridge.model.recurrence.moved_to`) and meters the scan, so its cost depends on the window,
never on the series' age; more than ``limit`` occurrences in a window raise :class:`TooManyOccurrences`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from caldav_bridge.model.appointment import Appointment
from caldav_bridge.model.recurrence import Exhausted, Meter, metered, moved_to, parse_rule
from caldav_bridge.model.timestamps import format_timestamp, parse_timestamp

__all__ = [
    "ATTENDEES_META",
    "CALDAV_META",
    "ICAL_UID_META",
    "MAX_OCCURRENCES",
    "ORGANIZER_META",
    "RECURRENCE_META",
    "Occurrence",
    "Override",
    "Series",
    "TooManyOccurrences",
    "UnknownOccurrence",
    "applied",
    "day_span",
    "expand",
    "occurrence_at",
    "occurrences_of",
    "rule_starts",
    "with_override",
]

#: ``meta`` key of a series (:meth:`Series.to_json`).
RECURRENCE_META = "recurrence"
#: ``meta`` key of the iCalendar UID a CalDAV client gave an appointment it created (absent: the UID is the id).
ICAL_UID_META = "ical_uid"
#: ``meta`` keys of a CalDAV client's ORGANIZER and e-mail ATTENDEEs (``converters.ical_parse.client_meta``).
ORGANIZER_META = "organizer"
ATTENDEES_META = "attendees"
#: ``meta`` keys only the CalDAV store writes (from what the client wrote); other channels read them.
CALDAV_META = frozenset({RECURRENCE_META, ICAL_UID_META, ORGANIZER_META, ATTENDEES_META})

#: Occurrences of one series in one window at most (beyond: :class:`TooManyOccurrences`).
MAX_OCCURRENCES = 2000


class TooManyOccurrences(Exception):
    """More occurrences of a series in a window than the limit."""


class UnknownOccurrence(LookupError):
    """No occurrence of the series starts (before any override) at the given ``RECURRENCE-ID``."""


@dataclass(frozen=True)
class Override:
    """An overridden instance (RECURRENCE-ID): moved to ``start``-``end``, or cancelled; with its own title,
    notes and place where its VEVENT gives them (None: the series'). ``timed``: an occurrence of an all-day
    series given times of its own (otherwise it is all-day like its series, on the dates ``start``-``end`` touch)."""

    recurrence_id: datetime
    start: datetime
    end: datetime
    cancelled: bool = False
    name: str | None = None
    description: str | None = None
    location: str | None = None
    timed: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "recurrence_id": format_timestamp(self.recurrence_id),
            "date_start": format_timestamp(self.start),
            "date_end": format_timestamp(self.end),
            "cancelled": self.cancelled,
        }
        for key in _OWN:
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.timed:
            out["timed"] = True
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Override:
        own = {k: data[k] for k in _OWN if isinstance(data.get(k), str)}
        return cls(
            parse_timestamp(data["recurrence_id"]),
            parse_timestamp(data["date_start"]),
            parse_timestamp(data["date_end"]),
            bool(data.get("cancelled")),
            **own,
            timed=data.get("timed") is True,
        )


#: An override's own texts (``Override.to_json`` keys, absent when the override has none of its own).
_OWN = ("name", "description", "location")


@dataclass(frozen=True)
class Series:
    """What makes an appointment recurring; every time a UTC instant."""

    rrule: str | None = None
    exdates: tuple[datetime, ...] = ()
    rdates: tuple[datetime, ...] = ()
    overrides: tuple[Override, ...] = field(default=())
    #: The zone the rule is expanded in: DTSTART's TZID, ``UTC`` for a UTC DTSTART, None for floating times and
    #: dates (read in the calendar's zone).
    timezone: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rrule": self.rrule,
            "timezone": self.timezone,
            "exdates": [format_timestamp(d) for d in self.exdates],
            "rdates": [format_timestamp(d) for d in self.rdates],
            "overrides": [o.to_json() for o in self.overrides],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Series:
        """The series of a stored ``meta.recurrence`` (``ValueError`` for one that cannot be read)."""
        overrides = tuple(Override.from_json(o) for o in data.get("overrides") or ())
        return cls(
            rrule=data.get("rrule") or None,
            exdates=tuple(parse_timestamp(d) for d in data.get("exdates") or ()),
            rdates=tuple(parse_timestamp(d) for d in data.get("rdates") or ()),
            overrides=overrides,
            timezone=data.get("timezone") or None,
        )

    @classmethod
    def of_meta(cls, meta: Mapping[str, Any] | None) -> Series | None:
        """The series in an appointment's ``meta`` (``meta.recurrence``), or None for a single appointment."""
        data = (meta or {}).get(RECURRENCE_META)
        if not isinstance(data, Mapping):
            return None
        try:
            return cls.from_json(data)
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Occurrence:
    """One occurrence: ``recurrence_id`` is its start as the series gives it (before any override);
    ``override`` the overridden instance it is, if any."""

    recurrence_id: datetime
    start: datetime
    end: datetime
    override: Override | None = None


def day_span(start: datetime, end: datetime, zone: Any) -> tuple[date, date]:
    """The local dates (first, day after the last) of an all-day event from ``start`` to ``end`` in ``zone``: its
    DTSTART and DTEND, at least one day. Its days are counted by the length rounded to whole days, so an
    occurrence whose end is its start plus the series' duration is as many days long across a DST change."""
    first = start.astimezone(zone).date()
    days = round((end - start) / timedelta(days=1))
    return first, first + timedelta(days=max(days, 1))


def applied(appointment: Appointment, start: datetime, end: datetime, override: Override | None = None) -> Appointment:
    """``appointment`` as one occurrence: its times ``start``-``end`` and, for an overridden one, the override's
    own title (``name``), ``description`` and ``meta.location`` where it has them; an occurrence of an all-day
    series given times of its own (``timed``) is no longer all-day (``meta.all_day`` false)."""
    update: dict[str, Any] = {"date_start": start, "date_end": end}
    if override is None:
        return appointment.model_copy(update=update)
    if override.name is not None:
        update["name"] = override.name
    if override.description is not None:
        update["description"] = override.description
    meta: dict[str, Any] = {}
    if override.location is not None:
        meta["location"] = override.location
    if override.timed:
        meta["all_day"] = False
    if meta:
        update["meta"] = appointment.meta.model_copy(update=meta)
    return appointment.model_copy(update=update)


#: Seconds between occurrences of the rules whose step is fixed (without BY parts, which only thin them out).
_FIXED_STEP = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600}
#: Real time and wall-clock time differ by the window's DST changes: never more than this.
_DST_SLACK = timedelta(hours=2)


def _dense_beyond(text: str, first: datetime, low: datetime, end: datetime, limit: int) -> bool:
    """True when the endless fixed-step rule ``text`` (SECONDLY/MINUTELY/HOURLY, no BY parts, COUNT or UNTIL)
    certainly has more than ``limit`` starts in ``[low, end)``: known by arithmetic, without the scan that
    would find out after ``limit`` of them (a FREQ=SECONDLY event costs each availability window that much)."""
    parts = dict(part.partition("=")[::2] for part in text.upper().split(";"))
    step = _FIXED_STEP.get(parts.get("FREQ", ""))
    if step is None or any(name.startswith("BY") or name in ("COUNT", "UNTIL") for name in parts):
        return False
    interval = parts.get("INTERVAL", "1")
    if not interval.isdigit() or int(interval) < 1:
        return False
    span = end - max(low, first) - _DST_SLACK
    return span.total_seconds() // (step * int(interval)) > limit


def rule_starts(
    text: str, first: datetime, low: datetime, end: datetime, limit: int = MAX_OCCURRENCES
) -> list[datetime]:
    """Starts of the rule ``text`` (from ``first``, an aware wall-clock time) in ``[low, end)``.

    The rule restarts at its period containing ``low``; every calendar year the scan enters is metered
    and the scan stops a year past the window, whatever the rule says.

    Raises:
        TooManyOccurrences: more than ``limit`` starts were scanned before ``end``.
        ValueError: the rule cannot be read.
    """
    rule = parse_rule(text, first)
    if _dense_beyond(text, first, low, end, limit):
        raise TooManyOccurrences(f"more than {limit} occurrences in the window")
    begin = moved_to(rule, low) or first
    meter = Meter(left=4 * (end.year - begin.year + 2))
    found: list[datetime] = []
    scanned = 0
    try:
        for occurrence in metered(rule, meter, begin):
            if occurrence >= end:
                break
            scanned += 1
            if scanned > limit:
                raise TooManyOccurrences(f"more than {limit} occurrences in the window")
            if occurrence >= low:
                found.append(occurrence)
    except Exhausted:
        pass
    return found


def expand(
    series: Series,
    first_start: datetime,
    first_end: datetime,
    zone: str,
    start: datetime,
    end: datetime,
    *,
    limit: int = MAX_OCCURRENCES,
) -> list[Occurrence]:
    """The occurrences of ``series`` overlapping ``[start, end)``, by start (UTC).

    ``first_start``/``first_end``: the series' first occurrence (DTSTART/DTEND); ``zone``: the zone to expand
    in when the series names none. EXDATEs and cancelled overrides are left out, moved overrides are where
    they were moved to.

    Raises:
        TooManyOccurrences: more than ``limit`` occurrences in the window.
    """
    tz = ZoneInfo(series.timezone or zone)
    duration = first_end - first_start
    low = start - duration - timedelta(days=1)
    starts: set[datetime] = set()
    first = first_start.astimezone(tz)
    if series.rrule:
        starts.update(s.astimezone(UTC) for s in rule_starts(series.rrule, first, low, end, limit))
    else:
        starts.add(first_start.astimezone(UTC))
    starts.update(_in(series.rdates, low, end))
    if len(starts) > limit:
        raise TooManyOccurrences(f"more than {limit} occurrences in the window")
    overridden = {o.recurrence_id.astimezone(UTC): o for o in series.overrides}
    excluded = {d.astimezone(UTC) for d in series.exdates}
    found = [
        Occurrence(s, s, s + duration)
        for s in starts - excluded - overridden.keys()
        if s + duration > start and s < end
    ]
    found.extend(
        Occurrence(rid, o.start.astimezone(UTC), o.end.astimezone(UTC), o)
        for rid, o in overridden.items()
        if not o.cancelled and rid not in excluded and o.start < end and o.end > start
    )
    return sorted(found, key=lambda o: (o.start, o.recurrence_id))


def _in(values: Iterable[datetime], low: datetime, end: datetime) -> list[datetime]:
    return [v.astimezone(UTC) for v in values if low <= v < end]


def occurrences_of(
    appointment: Appointment, calendar_zone: str, start: datetime, end: datetime, *, limit: int = MAX_OCCURRENCES
) -> list[tuple[datetime | None, Appointment]]:
    """``appointment`` once per occurrence overlapping ``[start, end)`` (its times those of the occurrence),
    each with its ``recurrence_id``; a single appointment is itself, with ``None``.

    Raises:
        TooManyOccurrences: more than ``limit`` occurrences of the series in the window.
    """
    series = Series.of_meta(appointment.meta.model_dump())
    if series is None:
        return [(None, appointment)]
    found = expand(series, appointment.date_start, appointment.date_end, calendar_zone, start, end, limit=limit)
    return [(o.recurrence_id, applied(appointment, o.start, o.end, o.override)) for o in found]


def _is_occurrence(series: Series, first_start: datetime, zone: str, recurrence_id: datetime) -> bool:
    """Whether the series (before EXDATEs and overrides) has an occurrence whose original start is
    ``recurrence_id`` (UTC): its first start, an RDATE or a start of its rule (one second scanned)."""
    if recurrence_id == first_start.astimezone(UTC) or recurrence_id in {d.astimezone(UTC) for d in series.rdates}:
        return True
    if not series.rrule or recurrence_id < first_start:
        return False
    first = first_start.astimezone(ZoneInfo(series.timezone or zone))
    try:
        starts = rule_starts(series.rrule, first, recurrence_id, recurrence_id + timedelta(seconds=1))
    except TooManyOccurrences:  # a rule denser than any appointment series: none of its starts is given out
        return False
    return any(s.astimezone(UTC) == recurrence_id for s in starts)


def with_override(series: Series, first_start: datetime, zone: str, changed: Override) -> Series:
    """``series`` with ``changed`` as the override of its occurrence ``changed.recurrence_id`` (replacing an
    override there). ``zone``: the calendar's, for a series that names none.

    Raises:
        UnknownOccurrence: the series has no such occurrence, or an EXDATE removed it.
        ValueError: the rule cannot be read.
    """
    rid = changed.recurrence_id.astimezone(UTC)
    known = any(o.recurrence_id.astimezone(UTC) == rid for o in series.overrides)
    removed = rid in {d.astimezone(UTC) for d in series.exdates}
    if removed or not (known or _is_occurrence(series, first_start, zone, rid)):
        raise UnknownOccurrence(rid)
    others = [o for o in series.overrides if o.recurrence_id.astimezone(UTC) != rid]
    overrides = tuple(sorted([*others, changed], key=lambda o: o.recurrence_id))
    return Series(series.rrule, series.exdates, series.rdates, overrides, series.timezone)


def occurrence_at(series: Series, first_start: datetime, first_end: datetime, recurrence_id: datetime) -> Override:
    """The occurrence ``recurrence_id`` as an override: the one the series has there, else unchanged (the
    series' duration from its original start, no texts of its own)."""
    rid = recurrence_id.astimezone(UTC)
    for override in series.overrides:
        if override.recurrence_id.astimezone(UTC) == rid:
            return override
    return Override(rid, rid, rid + (first_end - first_start))
