"""Appointment → CalDAV: the event handlers that keep appointments' DAV items and change logs in step.

Registered on the bus by :func:`caldav_bridge.events.wiring.build_bus`; they run in the change's
transaction. A change whose actor came over CalDAV (channel ``caldav``) is left alone: the DAV store
writes that item itself (the client's text). Every other change, including the consequences of a
CalDAV change (channel ``scheduling``), re-renders its appointment's item here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from caldav_bridge.clock import utcnow
from caldav_bridge.dav import provisioning
from caldav_bridge.dav.collections import DISPLAYNAME
from caldav_bridge.dav.items import is_long, item_for, new_item
from caldav_bridge.dav.repository import DavRows
from caldav_bridge.events.model import AppointmentDeleted, AppointmentEvent, AppointmentsCreated, CalendarRenamed
from caldav_bridge.services.actor import CALDAV_CHANNEL
from caldav_bridge.services.mapping import appointment_from_row
from caldav_bridge.store.dav_tables import DavCollectionRow, DavItemRow
from caldav_bridge.store.plain_rows import PlainRow
from caldav_bridge.store.tables import AppointmentRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["on_appointment_changed", "on_appointments_created", "on_calendar_renamed"]


def on_appointments_created(uow: UnitOfWork, event: AppointmentsCreated) -> None:
    """New appointments' items (the renderer's fresh text), one change-log revision per collection.

    A calendar's collection is made on first use (rendering all its appointments, these included),
    except for an import chunk (``bulk``), which fills only collections that exist.
    """
    if event.actor.channel == CALDAV_CHANNEL:
        return
    rows = event.appointments
    calendar_ids = list(dict.fromkeys(r.calendar_id for r in rows))
    existing = uow.dav_items.collections_of(calendar_ids)
    now = rows[0].updated_at
    if not event.bulk:
        for calendar_id in calendar_ids:
            if calendar_id in existing:
                continue
            made = provisioning.collection_for_calendar(uow, calendar_id)  # renders these appointments too
            if made is not None:  # their items are logged as for an existing collection
                hrefs = [(f"{r.id}.ics", False) for r in rows if r.calendar_id == calendar_id]
                uow.repo(DavRows).log_changes(made.id, hrefs, now)
    if existing:
        _insert_items(uow, [r for r in rows if r.calendar_id in existing], existing, now)


def _insert_items(
    uow: UnitOfWork, rows: list[PlainRow], collections: dict[str, DavCollectionRow], now: datetime
) -> None:
    by_collection: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        collection = collections[row.calendar_id]
        item = new_item(row.as_row(), appointment_from_row(row.as_row()))
        by_collection.setdefault(collection.id, []).append(
            (
                collection.id,
                f"{row.id}.ics",
                item.uid,
                item.component,
                item.text,
                item.etag,
                item.time_start,
                item.time_end,
                is_long(item.time_start, item.time_end),
                row.id,
                now,
                item.etag,  # written whole by the service
            )
        )
    dav_rows = uow.repo(DavRows)
    for collection_id, items in by_collection.items():
        dav_rows.insert_items(items)
        dav_rows.log_changes(collection_id, [(item[1], False) for item in items], now)  # one revision for all


def on_appointment_changed(uow: UnitOfWork, event: AppointmentEvent) -> None:
    """Bring the appointment's item in line with it: re-rendered, removed when deleted, moved with it."""
    if event.actor.channel == CALDAV_CHANNEL:
        return
    row = uow.appointments.including_deleted(event.appointment_id)
    if row is None:
        return
    now = utcnow()
    if event.moved and event.old_calendar_id is not None:
        _remove_item(uow, event.old_calendar_id, row.id, now)
    if isinstance(event, AppointmentDeleted) or row.deleted_at is not None:
        _remove_item(uow, row.calendar_id, row.id, now)
        return
    _render_item(uow, row, now)


def on_calendar_renamed(uow: UnitOfWork, event: CalendarRenamed) -> None:
    """The calendar's collection takes the new name as its DAV:displayname (a PROPPATCH wrote it already)."""
    if event.actor.channel == CALDAV_CHANNEL:
        return
    collection = provisioning.collection_for_calendar(uow, event.calendar_id)
    if collection is None:
        return
    collection.props = {**(collection.props or {}), DISPLAYNAME: event.name}
    collection.revision += 1  # the collection's ETag and CTag change: clients read its properties again
    collection.updated_at = utcnow()
    uow.flush()


def _remove_item(uow: UnitOfWork, calendar_id: str, appointment_id: str, now: datetime) -> None:
    collection = provisioning.collection_for_calendar(uow, calendar_id)
    if collection is None:
        return
    base = uow.dav_items.item_of(collection.id, appointment_id)
    if base is not None:
        uow.dav_items.remove(base)
        uow.repo(DavRows).bump(collection.id, [(base.href, True)], now)


def _render_item(uow: UnitOfWork, row: AppointmentRow, now: datetime) -> None:
    collection = provisioning.collection_for_calendar(uow, row.calendar_id)
    if collection is None:
        return
    base = uow.dav_items.item_of(collection.id, row.id)
    new = item_for(row, base)
    if base is not None and base.text == new.text:
        return
    if base is None:
        base = DavItemRow(collection_id=collection.id, href=f"{row.id}.ics", appointment_id=row.id)
        uow.dav_items.add(base)
    base.uid, base.component, base.text, base.etag = new.uid, new.component, new.text, new.etag
    base.time_start, base.time_end = new.time_start, new.time_end
    base.long_span = is_long(new.time_start, new.time_end)
    base.service_etag = new.etag if new.service_written else None
    base.updated_at = now
    uow.flush()
    uow.repo(DavRows).bump(collection.id, [(base.href, False)], now)
