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

from sqlalchemy import (
    JSON,
    Connection,
    Select,
    String,
    Text,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from caldav_bridge.store.plain_rows import PlainGuest, PlainRow
from caldav_bridge.store.tables import AppointmentGuestRow, AppointmentRow, CalendarRow
from caldav_bridge.store.types import UtcDateTime

__all__ = ["PAGE", "PlainCalendar", "page_select", "plain_row", "plain_rows"]

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


def _sqlite_value(column: Any) -> Any:
    """``column`` inside a SQLite ``json_array``: a JSON column as its JSON (not a string of it)."""
    return func.json(column) if isinstance(column.type, JSON) else column


#: SQLite: a guest as a JSON array (the columns of :data:`_GUEST_COLUMNS`), and an appointment's guests as one
#: JSON array of those (in no particular order: :func:`_sqlite_rows` sorts them by position).
_SQLITE_GUESTS = func.json(
    literal_column("'['")
    .concat(
        func.coalesce(
            select(func.group_concat(func.json_array(*(_sqlite_value(c) for c in _GUEST_COLUMNS)), ","))
            .where(_APPOINTMENT.c.id == _GUEST_OF)
            .scalar_subquery(),
            literal_column("''"),
        )
    )
    .concat(literal_column("']'"))
)
#: SQLite: an appointment as one JSON array: its columns, its calendar's name and zone, its guests.
_SQLITE_ROW = func.json_array(
    *(_sqlite_value(c) for c in _COLUMNS), _CALENDARS.c.name, _CALENDARS.c.timezone, _SQLITE_GUESTS
).label("j")
_SQLITE_PAGE: Select[Any] = select(_SQLITE_ROW).join_from(
    AppointmentRow, CalendarRow, CalendarRow.id == AppointmentRow.calendar_id
)
#: SQLite: the rows of a statement selecting ``j`` (:data:`_SQLITE_ROW`) as one JSON array of them.
_SQLITE_DOCUMENT = (
    literal_column("'['").concat(func.group_concat(literal_column("j"), ",")).concat(literal_column("']'"))
)


def _as_document(stmt: Select[Any]) -> Select[Any]:
    return select(_SQLITE_DOCUMENT).select_from(stmt.subquery())


_SQLITE_ONE = _as_document(
    _SQLITE_PAGE.where(_APPOINTMENT.c.id == bindparam("id"), _APPOINTMENT.c.deleted_at.is_(None))
)


def page_select(session: Session) -> Select[Any]:
    """What a page of appointments selects on the session's database, for the caller's filters (then
    :func:`plain_rows`): :data:`PAGE`, or on SQLite each appointment as one JSON array (:data:`_SQLITE_PAGE`)."""
    return _SQLITE_PAGE if session.get_bind().dialect.name == "sqlite" else PAGE


def plain_rows(session: Session, stmt: Select[Any], limit: int) -> list[PlainRow]:
    """The first ``limit`` appointments ``stmt`` (:func:`page_select` with filters) selects in (date_start, id)
    order, with their guests: on SQLite one statement answering one JSON document (:func:`_sqlite_rows`),
    elsewhere two queries (the rows, then all their guests)."""
    connection = session.connection()  # Core execution: no ORM statement handling
    stmt = stmt.order_by(_APPOINTMENT.c.date_start, _APPOINTMENT.c.id).limit(limit)
    if connection.dialect.name == "sqlite":
        rows = _sqlite_rows(connection, _as_document(stmt))
        rows.sort(key=_page_order)  # the document's order is SQLite's choice; the page's is (date_start, id)
        return rows
    calendars: dict[str, PlainCalendar] = {}
    rows = [_plain_row(record, calendars) for record in connection.execute(stmt).all()]
    if rows:
        by_id = {row.id: row for row in rows}
        for appointment_id, *guest in connection.execute(_PAGE_GUESTS, {"ids": list(by_id)}).all():
            by_id[appointment_id].guests.append(_plain_guest(guest))
    return rows


def plain_row(session: Session, appointment_id: str) -> PlainRow | None:
    """The live appointment ``appointment_id`` with its guests (one query), or None."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        found = _sqlite_rows(connection, _SQLITE_ONE, {"id": appointment_id})
        return found[0] if found else None
    row: PlainRow | None = None
    for record in connection.execute(_ONE, {"id": appointment_id}).all():
        if row is None:
            row = _plain_row(record, {})
        if record[_WIDTH + 2] is not None:  # a guest's position: the outer join found one
            row.guests.append(_plain_guest(record[_WIDTH + 2 :]))
    return row


def _sqlite_rows(
    connection: Connection, document: Select[Any], parameters: dict[str, Any] | None = None
) -> list[PlainRow]:
    """The appointments of a :func:`_as_document` statement's one JSON document, guests included.

    pysqlite releases the GIL for every row it steps; with a server's threads waiting for it, every release
    is a thread switch (a page of 50 and its 75 guests as rows cost ~100 switches a request under load). One
    row holding the whole page as JSON is one step, and json's C scanner reads it back."""
    text = connection.execute(document, parameters).scalar()
    if not text:
        return []
    calendars: dict[str, PlainCalendar] = {}
    rows = []
    for record in _scan(text, 0)[0]:
        row = _plain_row(record, calendars)
        guests = record[_WIDTH + 2]
        guests.sort(key=_first)
        row.guests.extend(_plain_guest(guest) for guest in guests)
        rows.append(row)
    return rows


def _first(values: list[Any]) -> Any:
    return values[0]


def _page_order(row: PlainRow) -> tuple[datetime, str]:
    return row.date_start, row.id


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
