"""A calendar's appointments as one ``.ics`` file (RFC 5545), for moving them to another calendar program.

Read path only: the appointments are listed as :func:`caldav_bridge.services.appointments.list_appointments`
lists them (the actor's reach, audited as reads) and rendered at full detail by
:mod:`caldav_bridge.converters.ical` as the feeds render them
(:func:`~caldav_bridge.converters.ical_series.feed_event_bytes`: the UID the feeds and CalDAV show, the client's
where a CalDAV client made the event; a series with its rule), times in the calendar's zone with its VTIMEZONE
(and a series' own zone's).
"""

from __future__ import annotations

from datetime import datetime

from caldav_bridge.converters.ical import (
    CalendarInfo,
    EventOptions,
    Privacy,
    event_dates,
    timezone_range,
    vcalendar,
    vtimezones,
)
from caldav_bridge.converters.ical_series import feed_event_bytes, series_zones
from caldav_bridge.model.queries import AppointmentFilters
from caldav_bridge.services import appointments, calendars
from caldav_bridge.services.actor import Actor
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["calendar_ics"]

PAGE = 500


def calendar_ics(
    uow: UnitOfWork, actor: Actor, calendar_id: str, *, start: datetime | None = None, end: datetime | None = None
) -> bytes:
    """Every appointment of ``calendar_id`` (overlapping ``[start, end)`` when given) as a VCALENDAR."""
    calendar = calendars.get(uow, actor, calendar_id)  # NotFound unless the actor reaches it
    options = EventOptions(privacy=Privacy.FULL, timezone=calendar.timezone)
    filters = AppointmentFilters(calendar_id=calendar_id, start=start, end=end)
    events: list[bytes] = []
    days = []
    cursor: str | None = None
    while True:
        page = appointments.list_appointments(uow, actor, filters, limit=PAGE, cursor=cursor)
        for stored in page.items:
            events.append(feed_event_bytes(stored.appointment, 0, options))
            first, last = event_dates(stored.appointment, calendar.timezone)
            days += [first if not isinstance(first, datetime) else first.date()]
            days += [last if not isinstance(last, datetime) else last.date()]
        cursor = page.next_cursor
        if cursor is None:
            break
    zones = vtimezones([calendar.timezone, *series_zones(events)], *timezone_range(days, days)) if days else []
    info = CalendarInfo(uid=calendar.id, name=calendar.name, description=f"Appointments of {calendar.name}",
                        timezone=calendar.timezone)  # fmt: skip
    return vcalendar(info, events, zones)
