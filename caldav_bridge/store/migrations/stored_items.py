"""Steps the data migrations in ``versions/`` share: read the stored CalDAV event items of appointments, write an
appointment's meta back with its version counted up.

This module is for migrations only, and it is part of their history: a migration that calls a function here runs
that function every time a database is upgraded through it, so what a function does must never change once a
migration calls it. A new migration that needs something else gets a new function (or its own code), never a
changed one. Plain ``sa.table`` constructs only, never the ORM tables: those follow the newest schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["appointments", "event_items", "save_meta"]

#: The ``appointments`` columns the data migrations read and write.
appointments = sa.table(
    "appointments",
    sa.column("id", sa.String),
    sa.column("meta_extra", sa.JSON),
    sa.column("version", sa.Integer),
    sa.column("status", sa.String),
    sa.column("deleted_at", sa.DateTime),
)
_items = sa.table(
    "dav_items",
    sa.column("appointment_id", sa.String),
    sa.column("text", sa.Text),
    sa.column("component", sa.String),
    sa.column("collection_id", sa.Integer),
)
_collections = sa.table("dav_collections", sa.column("id", sa.Integer), sa.column("calendar_id", sa.String))
_calendars = sa.table("calendars", sa.column("id", sa.String), sa.column("timezone", sa.String))


def event_items(bind: Connection, *markers: str) -> list[tuple[str, str, str]]:
    """``(appointment id, text, calendar zone)`` of every stored VEVENT item of an appointment whose text holds
    at least one of ``markers``."""
    found = bind.execute(
        sa.select(_items.c.appointment_id, _items.c.text, _calendars.c.timezone)
        .join(_collections, _collections.c.id == _items.c.collection_id)
        .join(_calendars, _calendars.c.id == _collections.c.calendar_id)
        .where(
            _items.c.appointment_id.is_not(None),
            _items.c.component == "VEVENT",
            sa.or_(*(_items.c.text.contains(marker) for marker in markers)),
        )
    ).all()
    return [(appointment_id, text, zone) for appointment_id, text, zone in found]


def save_meta(bind: Connection, appointment_id: str, meta: dict[str, object]) -> None:
    """Write ``meta`` as the appointment's ``meta_extra`` and count its version up (feed caches and ETags
    follow)."""
    bind.execute(
        appointments.update()
        .where(appointments.c.id == appointment_id)
        .values(meta_extra=meta, version=appointments.c.version + 1)
    )
