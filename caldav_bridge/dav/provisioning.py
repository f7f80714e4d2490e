"""Which DAV collection each calendar is, created on demand with the calendar's appointments.

Paths: a calendar owned by a user is ``<username>/appointments`` (further calendars of the same
user: ``<username>/<calendar id>``); calendars without an owner (teams) are
``_calendars/<calendar id>``. A collection is made when the user is created
(:func:`calendar_created`), else the first time anything touches it (a PROPFIND under the
owner's principal, or a change of one of its appointments); existing appointments are rendered
into it then.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from caldav_bridge.clock import utcnow
from caldav_bridge.dav.collections import DavStore, parent_of
from caldav_bridge.dav.items import is_long, item_for
from caldav_bridge.dav.repository import DavRows
from caldav_bridge.services.creates import reads_of
from caldav_bridge.store.dav_tables import DavCollectionRow, DavItemRow
from caldav_bridge.store.tables import CalendarRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = [
    "SHARED_ROOT",
    "audit_reads",
    "calendar_created",
    "collection_for_calendar",
    "ensure_folder",
    "ensure_for_path",
    "path_for_calendar",
]

#: First path segment of calendars that belong to no user (team calendars).
SHARED_ROOT = "_calendars"
COMPONENTS = "VEVENT,VTODO,VJOURNAL"


def path_for_calendar(uow: UnitOfWork, calendar: CalendarRow) -> str:
    if calendar.owner_user_id:
        owner = uow.users.get(calendar.owner_user_id)
        if owner is not None:
            path = f"{owner.username}/appointments"
            return f"{owner.username}/{calendar.id}" if uow.repo(DavRows).path_taken(path) else path
    return f"{SHARED_ROOT}/{calendar.id}"


def collection_for_calendar(uow: UnitOfWork, calendar_id: str) -> DavCollectionRow | None:
    """The DAV collection of ``calendar_id``, created (and filled) if it does not exist yet."""
    rows = uow.repo(DavRows)
    row = rows.collection_of_calendar(calendar_id)
    if row is not None:
        return row
    # Two transactions may both find no collection; the calendar's row lock lets one create it and the
    # other see it (SQLite's BEGIN IMMEDIATE already serialises writers).
    calendar = rows.lock_calendar(calendar_id)
    if calendar is None:
        return None
    row = rows.collection_of_calendar(calendar_id, fresh=True)
    return row if row is not None else calendar_created(uow, calendar)


def calendar_created(uow: UnitOfWork, calendar: CalendarRow) -> DavCollectionRow:
    """Provision the DAV collection of a calendar and render its existing appointments into it."""

    rows = uow.repo(DavRows)
    now = utcnow()
    path = path_for_calendar(uow, calendar)
    parent = parent_of(path)
    ensure_folder(uow, parent)
    props = {
        "tag": "VCALENDAR",
        "D:displayname": calendar.name,
        "C:supported-calendar-component-set": COMPONENTS,
        "C:calendar-description": f"Appointments ({calendar.kind}, {calendar.timezone})",
    }
    row = _calendar_collection(calendar, path, props, now)
    if not rows.insert_collection(row):
        # Another transaction gave a second calendar of the same owner ``<user>/appointments`` at
        # this moment (each holds only its own calendar's lock): this one takes its id path.
        path = f"{parent}/{calendar.id}"
        row = _calendar_collection(calendar, path, props, now)
        if not rows.insert_collection(row):
            raise RuntimeError(f"the DAV path {path!r} is taken")
    for appointment in rows.live_appointments_of(calendar.id):
        new = item_for(appointment, None)
        uow.dav_items.add(
            DavItemRow(
                collection_id=row.id,
                href=f"{appointment.id}.ics",
                uid=new.uid,
                component="VEVENT",
                text=new.text,
                etag=new.etag,
                time_start=new.time_start,
                time_end=new.time_end,
                long_span=is_long(new.time_start, new.time_end),
                appointment_id=appointment.id,
                updated_at=now,
                service_etag=new.etag,  # a new item: the service's text, whole
            )
        )
    uow.flush()
    return row


def _calendar_collection(calendar: CalendarRow, path: str, props: dict[str, str], now: datetime) -> DavCollectionRow:
    """The (new) collection of ``calendar`` at ``path``."""
    return DavCollectionRow(
        path=path,
        parent_path=parent_of(path),
        tag="VCALENDAR",
        props=props,
        calendar_id=calendar.id,
        epoch=secrets.token_hex(4),
        revision=1,
        created_at=now,
        updated_at=now,
    )


def ensure_folder(uow: UnitOfWork, path: str) -> None:
    """Make sure the plain collection at ``path`` (a principal or ``_calendars``) exists.

    Idempotent under concurrency: two transactions provisioning calendars under the same folder
    (two team calendars at once; REST writes do not take the storage lock) may both find it missing;
    the insert runs in a savepoint, and the one that loses the race on the unique path (PostgreSQL
    waits for the winner's commit) rolls back only that savepoint and uses the winner's row.
    """
    rows = uow.repo(DavRows)
    if rows.path_taken(path):
        return
    now = utcnow()
    rows.insert_collection(
        DavCollectionRow(
            path=path,
            parent_path=parent_of(path),
            tag="",
            props={},
            epoch=secrets.token_hex(4),
            revision=0,
            created_at=now,
            updated_at=now,
        )
    )


def ensure_for_path(store: DavStore, path: str) -> None:
    """Make sure the calendars under ``path``'s first segment have their collections."""
    uow = store.uow
    first = path.split("/", 1)[0]
    if first in store.ensured:
        return
    store.ensured.add(first)
    # Through collection_for_calendar: it takes the calendar's row lock and looks again, so a REST
    # write provisioning the same calendar at this moment (it does not take the storage lock) is
    # waited for and its collection used, not inserted a second time.
    missing = uow.repo(DavRows).calendars_without_collection(owner_username=None if first == SHARED_ROOT else first)
    created = [collection_for_calendar(uow, calendar_id) for calendar_id in missing]
    if created:
        store.forget_collections()


def audit_reads(store: DavStore, calendar_id: str, appointment_ids: Iterable[str]) -> None:
    """One audit row per appointment read over CalDAV (one bulk INSERT for all of them)."""
    rows = reads_of(store.actor, "read", [(appointment_id, calendar_id) for appointment_id in appointment_ids]).rows()
    if rows:
        store.uow.audit.insert_many(rows)
