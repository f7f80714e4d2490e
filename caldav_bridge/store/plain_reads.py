"""Appointments read as plain data (:class:`PlainRow`), not ORM objects: what the read paths map to JSON.

A page is two queries: the appointments with their calendar's name and zone, then all their guests; one
appointment is one query (its guests outer-joined, a result row per guest), built once. The columns are read as the
driver gives them (``type_coerce`` to a type without result processing, JSON columns as text on both databases)
and converted here with C-level calls: ``datetime.fromisoformat`` for SQLite's text timestamps (PostgreSQL's driver
hands over aware datetimes), json's C scanner for the JSON text. No identity map, no instrumentation, no lazy
loads, no per-value SQLAlchemy processors. ``tests/integration/test_api_reads.py`` holds the JSON
built from these byte-equal to the models' dump of the ORM rows.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Select, String, Text, bindparam, cast, select, type_coerce
from sqlalchemy.orm import Session

from caldav_bridge.store.plain_rows import PlainGuest, PlainRow
from caldav_bridge.store.tables import AppointmentGuestRow, AppointmentRow, CalendarRow
from caldav_bridge.store.types import UtcDateTime

__all__ = ["PAGE", "PlainCalendar", "plain_row", "plain_rows"]

_APPOINTMENT = AppointmentRow.__table__
_GUESTS = AppointmentGuestRow.__table__
_CALENDARS = CalendarRow.__table__
_COLUMNS = [_APPOINTMENT.c[f.name] for f in fields(PlainRow) if f.name in _APPOINTMENT.c]
_NAMES = tuple(c.key for c in _COLUMNS)
_WIDTH = len(_NAMES)
_GUEST_COLUMNS = (
    _GUESTS.c.position,
    _GUESTS.c.person_id,
    _GUESTS.c.first_name,
    _GUESTS.c.last_name,
    _GUESTS.c.timezone,
    _GUESTS.c.extra,
)
_RAW = String()  # no result processor on either dialect: values come as the driver gives them


def _raw(column: Any) -> Any:
    """``column`` as the driver gives it; a JSON column as its text on both databases (PostgreSQL's driver would
    decode it with ``json.loads`` over bytes, three times the cost of :func:`_document`)."""
    if isinstance(column.type, JSON):
        return type_coerce(cast(column, Text), _RAW)
    return type_coerce(column, _RAW)


def _utc(value: datetime | str | None) -> datetime | None:
    """What :class:`UtcDateTime` gives for a stored value (SQLite: naive UTC text; PostgreSQL: aware)."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


#: The C scanner ``json.loads`` ends in, without its three Python frames per call (127 calls in a page of 50).
_scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def _document(value: Any) -> dict[str, Any]:
    """A JSON column's value as a dict (SQLite: JSON text; PostgreSQL: decoded), ``{}`` for none."""
    if isinstance(value, str):
        if value == "{}" or value == "null":
            return {}
        try:
            found, end = _scan(value, 0)
        except StopIteration:
            found, end = None, -1
        value = found if end == len(value) else json.loads(value)  # anything unusual: the full parser decides
    return value or {}


def _converter(column: Any) -> Callable[[Any], Any] | None:
    if isinstance(column.type, UtcDateTime):
        return _utc
    if isinstance(column.type, JSON):
        return _document
    return None


#: (position in the appointment columns, converter) of every column whose raw value needs converting.
_CONVERTED = tuple((i, f) for i, f in ((i, _converter(c)) for i, c in enumerate(_COLUMNS)) if f is not None)


class PlainCalendar:
    __slots__ = ("id", "name", "timezone")

    def __init__(self, calendar_id: str, name: str, timezone: str) -> None:
        self.id, self.name, self.timezone = calendar_id, name, timezone


#: The appointment's columns as the driver gives them, then its calendar's name and zone.
_ROW_COLUMNS = (*(_raw(c) for c in _COLUMNS), _CALENDARS.c.name, _CALENDARS.c.timezone)
_GUEST_OF = _GUESTS.c.appointment_id
#: A page's guests: every guest of the appointments whose ids are bound as ``ids``, in (appointment, position)
#: order. Built once: the expanding parameter keeps one compiled statement for any number of ids.
_PAGE_GUESTS = (
    select(_GUEST_OF, *(_raw(c) for c in _GUEST_COLUMNS))
    .where(_GUEST_OF.in_(bindparam("ids", expanding=True)))
    .order_by(_GUEST_OF, _GUESTS.c.position)
)
#: One live appointment (bound as ``id``) with its calendar and, outer-joined, its guests: one statement, built once.
_ONE = (
    select(*_ROW_COLUMNS, *(_raw(c) for c in _GUEST_COLUMNS))
    .join_from(_APPOINTMENT, _CALENDARS, _CALENDARS.c.id == _APPOINTMENT.c.calendar_id)
    .outerjoin(_GUESTS, _APPOINTMENT.c.id == _GUEST_OF)
    .where(_APPOINTMENT.c.id == bindparam("id"), _APPOINTMENT.c.deleted_at.is_(None))
    .order_by(_GUESTS.c.position)
)


#: What a page of appointments selects (``AppointmentRepository`` adds the filters, order and limit): the
#: appointment's columns as the driver gives them and its calendar's name and zone. Built once.
PAGE: Select[Any] = select(*_ROW_COLUMNS).join_from(
    AppointmentRow, CalendarRow, CalendarRow.id == AppointmentRow.calendar_id
)


def plain_rows(session: Session, stmt: Select[Any]) -> list[PlainRow]:
    """The appointments ``stmt`` (:data:`PAGE`, filtered, ordered, limited) selects, with their guests (one more
    query)."""
    calendars: dict[str, PlainCalendar] = {}
    connection = session.connection()  # Core execution: no ORM statement handling
    rows = [_plain_row(record, calendars) for record in connection.execute(stmt).all()]
    if rows:
        by_id = {row.id: row for row in rows}
        for appointment_id, *guest in connection.execute(_PAGE_GUESTS, {"ids": list(by_id)}).all():
            by_id[appointment_id].guests.append(_plain_guest(guest))
    return rows


def plain_row(session: Session, appointment_id: str) -> PlainRow | None:
    """The live appointment ``appointment_id`` with its guests (one query), or None."""
    row: PlainRow | None = None
    for record in session.connection().execute(_ONE, {"id": appointment_id}).all():
        if row is None:
            row = _plain_row(record, {})
        if record[_WIDTH + 2] is not None:  # a guest's position: the outer join found one
            row.guests.append(_plain_guest(record[_WIDTH + 2 :]))
    return row


def _plain_row(record: Any, calendars: dict[str, PlainCalendar]) -> PlainRow:
    values = list(record[:_WIDTH])
    for i, convert in _CONVERTED:
        values[i] = convert(values[i])
    data = dict(zip(_NAMES, values, strict=True))
    calendar_id = data["calendar_id"]
    calendar = calendars.get(calendar_id)
    if calendar is None:
        calendar = calendars[calendar_id] = PlainCalendar(calendar_id, record[_WIDTH], record[_WIDTH + 1])
    return PlainRow(calendar=calendar, guests=[], **data)


def _plain_guest(values: Any) -> PlainGuest:
    position, person_id, first, last, zone, extra = values
    return PlainGuest(position, person_id, first, last, zone, _document(extra))
