"""Canonical appointments for the feed tests: time zones with DST transitions, all-day and
multi-day, non-ASCII names, every status and type, and large calendars."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from caldav_bridge.converters.ical import (
    CalendarInfo,
    EventOptions,
    event_dates,
    timezone_range,
    vcalendar,
    vevent_bytes,
    vtimezones,
)
from caldav_bridge.model.appointment import Appointment
from tests.feeds.validators import Instants

__all__ = ["ZONES", "appointment", "expected_instants", "feed_of", "transition_appointments"]

#: Zones with DST both ways, none, and half-hour offsets.
ZONES = ("America/Denver", "Europe/Berlin", "Australia/Sydney", "America/Phoenix", "Asia/Kolkata", "America/St_Johns")
_NS = uuid.UUID("0b7a3c44-9a61-4a39-9d7e-3e1a5d1f0c11")
STAMP = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def appointment(
    key: str,
    start: datetime,
    end: datetime,
    *,
    status: str = "BOOKED",
    type: str = "FOLLOW_UP",
    all_day: bool = False,
    name: str = "Hörgeräte-Anpassung w/Zoë Ångström",
    **meta: Any,
) -> Appointment:
    return Appointment.model_validate(
        {
            "calendar": {"id": "cal-1", "name": "Frank Fitter"},
            "created_at": STAMP,
            "updated_at": STAMP + timedelta(minutes=len(key)),
            "date_start": start,
            "date_end": end,
            "id": str(uuid.uuid5(_NS, key)),
            "name": name,
            "description": "Notes: hard of hearing on the left; phone 555-0100; born 1941-02-03.",
            "guests": [
                {
                    "id": "cust-1",
                    "first_name": "Zoë",
                    "last_name": "Ångström",
                    "phone": "555-0100",
                    "birthdate": "1941-02-03",
                }
            ],
            "meta": {"type": type, "location": "Münchner Straße 5, Köln — 2. OG", "all_day": all_day, **meta},
            "status": status,
        }
    )


def transition_appointments(zone_name: str) -> list[Appointment]:
    """Appointments on both sides of, and across, every DST transition of 2026 in ``zone_name``,
    plus all-day, multi-day and repeated-hour cases."""
    zone = ZoneInfo(zone_name)
    out = []
    day = date(2026, 1, 1)
    previous = datetime.combine(day, time(12), zone).utcoffset()
    transitions = []
    while day < date(2027, 1, 1):
        offset = datetime.combine(day, time(12), zone).utcoffset()
        if offset != previous:
            transitions.append(day)
        previous = offset
        day += timedelta(days=1)
    for when in transitions or [date(2026, 3, 15)]:
        for hour in (-30, -2, 0, 1, 2, 3, 25):
            start = datetime.combine(when - timedelta(days=1), time(0), zone).astimezone(UTC) + timedelta(hours=hour)
            out.append(appointment(f"{zone_name}/{when}/{hour}", start, start + timedelta(minutes=90)))
    # every UTC half hour of the transition days, so the repeated local hour is covered too
    for when in transitions:
        base = datetime.combine(when, time(0), zone).astimezone(UTC) - timedelta(hours=3)
        for step in range(0, 16):
            start = base + timedelta(minutes=30 * step)
            out.append(appointment(f"{zone_name}/{when}/half/{step}", start, start + timedelta(minutes=30)))
    first = datetime.combine(date(2026, 6, 1), time(0), zone)
    out.append(appointment(f"{zone_name}/allday", first, first + timedelta(days=1), all_day=True))
    out.append(appointment(f"{zone_name}/allday3", first, first + timedelta(days=3), all_day=True))
    out.append(appointment(f"{zone_name}/multiday", first + timedelta(hours=15), first + timedelta(days=2, hours=10)))
    out.append(
        appointment(
            f"{zone_name}/cancelled", first + timedelta(hours=9), first + timedelta(hours=10), status="CANCELLED"
        )
    )
    out.append(
        appointment(
            f"{zone_name}/tentative", first + timedelta(hours=11), first + timedelta(hours=12), status="RESERVED"
        )
    )
    return out


def expected_instants(appointments: list[Appointment], zone_name: str) -> Instants:
    out: Instants = {}
    for a in appointments:
        start, end = event_dates(a, zone_name)
        if isinstance(start, datetime) and isinstance(end, datetime):
            out[str(a.id)] = (a.date_start, a.date_end)
        else:
            out[str(a.id)] = (
                datetime(start.year, start.month, start.day, tzinfo=UTC),
                datetime(end.year, end.month, end.day, tzinfo=UTC),
            )
    return out


def feed_of(appointments: list[Appointment], options: EventOptions, name: str = "Frank Fitter — Köln") -> bytes:
    """A feed as the service renders it (the same converter calls, without the database)."""
    info = CalendarInfo(uid="cal-1", name=name, description=f"Appointments of {name}", timezone=options.timezone)
    ordered = sorted(appointments, key=lambda a: (a.date_start, str(a.id)))
    zone = ZoneInfo(options.timezone)
    timezones = []
    if ordered:
        first, last = timezone_range(
            (a.date_start.astimezone(zone).date() for a in ordered),
            (a.date_end.astimezone(zone).date() for a in ordered),
        )
        timezones = vtimezones([options.timezone], first, last)
    return vcalendar(info, [vevent_bytes(a, 3, options) for a in ordered], timezones)
