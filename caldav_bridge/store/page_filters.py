"""A listing's filters as one statement per shape: which filters are set decides the statement, their values are
its parameters.

A page read builds no statement: the statement of a shape (the calendars given or not, which columns are matched,
the kind, a guest, a time window, a cursor) is built once per database and base select and reused, so the driver
prepares it once (PostgreSQL) and the hot reads can send it without SQLAlchemy's per-statement work
(``store/driver.py``). Lists are one parameter each (PostgreSQL ``= ANY(array)``, SQLite ``IN (SELECT value FROM
json_each(...))``), not one per element, so a page's statement does not change with the number of calendars.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    BindParameter,
    ColumnElement,
    Select,
    String,
    and_,
    any_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

from caldav_bridge.model.appointment import MAX_DURATION
from caldav_bridge.model.queries import AppointmentFilters, ListedKind
from caldav_bridge.store import planner_stats
from caldav_bridge.store.tables import AppointmentGuestRow, AppointmentRow

__all__ = ["ROWS", "Filtered", "filtered"]

#: The rows themselves (ORM entities), the base of :func:`filtered` when the caller wants ``AppointmentRow``.
ROWS: Select[Any] = select(AppointmentRow)

#: The filters matching one column to one value: (parameter name, column).
_EQUAL = (
    ("opportunity_gid", AppointmentRow.sf_opportunity_gid),
    ("customer_gid", AppointmentRow.sf_customer_gid),
    ("appointment_gid", AppointmentRow.sf_appointment_gid),
    ("type", AppointmentRow.type),
    ("status", AppointmentRow.status),
)
#: ``meta.kind`` per database: on PostgreSQL the very text its planner statistics are on (``planner_stats``).
_META_KIND: dict[str, ColumnElement[Any]] = {
    "postgresql": literal_column(planner_stats.META_KIND_SQL, String),
    "sqlite": AppointmentRow.meta_extra["kind"].as_string(),
}


class Filtered(NamedTuple):
    """A filtered select (built once for its shape: never change it, build on it) and its parameters."""

    statement: Select[Any]
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Shape:
    """Which filters a listing sets, apart from their values."""

    dialect: str
    calendars: bool
    equal: tuple[str, ...]
    kind: ListedKind
    guest: bool
    end: bool
    start: bool
    earlier: bool
    updated_since: bool
    after: bool


def filtered(
    dialect: str,
    base: Select[Any],
    q: AppointmentFilters,
    *,
    calendar_ids: Sequence[str] | None,
    after: tuple[datetime, str] | None,
    earlier: Sequence[str] = (),
) -> Filtered:
    """``base`` (a select from ``appointments``, one of a few constants) narrowed to the live appointments ``q``
    selects in ``calendar_ids`` (None: any calendar) after the cursor ``after`` (the previous page's last
    (date_start, id)); ``earlier``: the series begun before ``q.start`` reaching into it (``dav_ranges``)."""
    values: dict[str, Any] = {}
    if calendar_ids is not None:
        values["calendar_ids"] = list(calendar_ids)
    equal = tuple(name for name, _column in _EQUAL if getattr(q, name) is not None)
    values.update((name, getattr(q, name)) for name in equal)
    if q.guest_id is not None:
        values["guest_id"] = q.guest_id
    if q.end is not None:
        values["end"] = q.end
    if q.start is not None:
        values["start"] = q.start
        values["start_floor"] = q.start - MAX_DURATION
    if q.start is not None and earlier:
        values["earlier"] = list(earlier)
    if q.updated_since is not None:
        values["updated_since"] = q.updated_since
    if after is not None:
        values["after_start"], values["after_id"] = after
    shape = _Shape(
        dialect=dialect,
        calendars=calendar_ids is not None,
        equal=equal,
        kind=q.kind,
        guest=q.guest_id is not None,
        end=q.end is not None,
        start=q.start is not None,
        earlier="earlier" in values,
        updated_since=q.updated_since is not None,
        after=after is not None,
    )
    return Filtered(_statement(shape, base), values)


@lru_cache(maxsize=512)
def _statement(shape: _Shape, base: Select[Any]) -> Select[Any]:
    row = AppointmentRow
    stmt = base.where(row.deleted_at.is_(None))
    if shape.calendars:
        stmt = stmt.where(_in_list(shape.dialect, row.calendar_id, "calendar_ids"))
    equal = dict(_EQUAL)
    for name in shape.equal:
        stmt = stmt.where(equal[name] == bindparam(name))
    if shape.kind is not ListedKind.ALL:
        stmt = stmt.where(_kind_is(shape.kind, _META_KIND["postgresql" if shape.dialect == "postgresql" else "sqlite"]))
    if shape.guest:
        guests = select(AppointmentGuestRow.appointment_id).where(
            AppointmentGuestRow.person_id == bindparam("guest_id")
        )
        stmt = stmt.where(row.id.in_(guests))
    if shape.end:
        stmt = stmt.where(row.date_start < bindparam("end"))
    if shape.start:
        # The lower bound on date_start is implied by MAX_DURATION; it bounds the index scan on both sides.
        overlap = and_(row.date_end > bindparam("start"), row.date_start > bindparam("start_floor"))
        # ... and series begun earlier whose occurrences reach into the window (their CalDAV items say so)
        stmt = stmt.where(or_(overlap, _in_list(shape.dialect, row.id, "earlier")) if shape.earlier else overlap)
    if shape.updated_since:
        stmt = stmt.where(row.updated_at >= bindparam("updated_since"))
    if shape.after:
        start: BindParameter[datetime] = bindparam("after_start")
        stmt = stmt.where(or_(row.date_start > start, and_(row.date_start == start, row.id > bindparam("after_id"))))
    return stmt


def _kind_is(kind: ListedKind, meta_kind: ColumnElement[Any]) -> ColumnElement[bool]:
    """``meta.kind`` is ``kind``: busy blocks say so; customer appointments say "appointment" or nothing."""
    wanted = bindparam("kind", kind.value, String)
    if kind is ListedKind.BUSY:
        return meta_kind == wanted
    return or_(meta_kind.is_(None), meta_kind == wanted)


def _in_list(dialect: str, column: Any, name: str) -> ColumnElement[bool]:
    """``column`` is one of the list parameter ``name``: one parameter, whatever the list's length."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(String)))
    values = func.json_each(bindparam(name, type_=JSON)).table_valued("value")
    return column.in_(select(values.c.value))
