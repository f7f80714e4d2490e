"""Appointments read as plain data (:class:`PlainRow`), not ORM objects: what the read paths map to JSON.

One query for the appointments with their calendar's name and zone, one for all their guests: no
identity map, no instrumentation, no lazy loads. ``tests/integration/test_api_reads.py`` holds the
JSON built from these byte-equal to the models' dump of the ORM rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from caldav_bridge.store.plain_rows import PlainGuest, PlainRow
from caldav_bridge.store.tables import AppointmentGuestRow, AppointmentRow, CalendarRow

__all__ = ["PlainCalendar", "plain_rows", "with_calendar_columns"]

_APPOINTMENT = AppointmentRow.__table__
_GUESTS = AppointmentGuestRow.__table__
_COLUMNS = [_APPOINTMENT.c[f.name] for f in fields(PlainRow) if f.name in _APPOINTMENT.c]
_GUEST_COLUMNS = (
    _GUESTS.c.appointment_id,
    _GUESTS.c.position,
    _GUESTS.c.person_id,
    _GUESTS.c.first_name,
    _GUESTS.c.last_name,
    _GUESTS.c.timezone,
    _GUESTS.c.extra,
)


class PlainCalendar:
    __slots__ = ("id", "name", "timezone")

    def __init__(self, calendar_id: str, name: str, timezone: str) -> None:
        self.id, self.name, self.timezone = calendar_id, name, timezone


def with_calendar_columns(stmt: Select[Any]) -> Select[Any]:
    """``stmt`` (a select of appointments, filtered and ordered) narrowed to the columns :func:`plain_rows` reads."""
    return stmt.with_only_columns(
        *_COLUMNS, CalendarRow.name.label("_calendar_name"), CalendarRow.timezone.label("_calendar_zone")
    ).join_from(AppointmentRow, CalendarRow, CalendarRow.id == AppointmentRow.calendar_id)


def plain_rows(session: Session, stmt: Select[Any]) -> list[PlainRow]:
    """The appointments ``stmt`` (from :func:`with_calendar_columns`) selects, with their guests (one query)."""
    rows: list[PlainRow] = []
    calendars: dict[str, PlainCalendar] = {}
    names = [c.key for c in _COLUMNS]
    connection = session.connection()  # Core execution: no ORM statement handling
    for *values, calendar_name, calendar_zone in connection.execute(stmt):
        data = dict(zip(names, values, strict=True))
        calendar_id = data["calendar_id"]
        calendar = calendars.get(calendar_id)
        if calendar is None:
            calendar = calendars[calendar_id] = PlainCalendar(calendar_id, calendar_name, calendar_zone)
        data["meta_extra"] = data["meta_extra"] or {}
        rows.append(PlainRow(calendar=calendar, guests=[], **data))
    _add_guests(session, rows)
    return rows


def _add_guests(session: Session, rows: Sequence[PlainRow]) -> None:
    if not rows:
        return
    by_id = {row.id: row for row in rows}
    stmt = (
        select(*_GUEST_COLUMNS)
        .where(_GUESTS.c.appointment_id.in_(list(by_id)))
        .order_by(_GUESTS.c.appointment_id, _GUESTS.c.position)
    )
    for appointment_id, position, person_id, first, last, zone, extra in session.connection().execute(stmt):
        by_id[appointment_id].guests.append(PlainGuest(position, person_id, first, last, zone, extra or {}))
