"""``uow.repo(DavRows)``: the DAV feature's queries outside the CalDAV store itself.

What provisioning (a calendar's collection, made on first use), the appointment → CalDAV handlers
(items rendered, the change log), the rights plugin (who reaches which path), the storage lock and the
change-log pruning job read and write. Works in the unit of work's session; never commits.
(The CalDAV store's own queries: :class:`~caldav_bridge.dav.store_rows.DavStoreRows`.)
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.exc import IntegrityError

from caldav_bridge.dav import locks
from caldav_bridge.dav.change_log import log_changes
from caldav_bridge.dav.collections import bump, prune_all
from caldav_bridge.store.bulk_insert import insert_many
from caldav_bridge.store.dav_tables import DavCollectionRow, DavItemRow
from caldav_bridge.store.tables import AppointmentRow, CalendarRow, UserRow
from caldav_bridge.store.uow import SessionRepository

__all__ = ["ITEM_COLUMNS", "DavLocks", "DavRows"]

#: The columns of a row of :meth:`DavRows.insert_items`, in order.
ITEM_COLUMNS = (
    "collection_id",
    "href",
    "uid",
    "component",
    "text",
    "etag",
    "time_start",
    "time_end",
    "long_span",
    "appointment_id",
    "updated_at",
    "service_etag",
)
_ITEMS = cast(Table, cast(Any, DavItemRow).__table__)


class DavRows(SessionRepository):
    # ------------------------------------------------------------------ collections of calendars

    def collection_of_calendar(self, calendar_id: str, *, fresh: bool = False) -> DavCollectionRow | None:
        """The calendar's collection (``fresh``: as committed now, not the copy this transaction loaded)."""
        stmt = select(DavCollectionRow).where(DavCollectionRow.calendar_id == calendar_id)
        if fresh:
            stmt = stmt.execution_options(populate_existing=True)
        return self.session.scalars(stmt).one_or_none()

    def lock_calendar(self, calendar_id: str) -> CalendarRow | None:
        """The calendar's row, locked FOR NO KEY UPDATE until the transaction ends (None: no such calendar).

        Not FOR UPDATE: two transactions may already hold the KEY SHARE lock of an appointment's foreign
        key on it, and FOR UPDATE would deadlock them.
        """
        lock = select(CalendarRow).where(CalendarRow.id == calendar_id).with_for_update(key_share=True)
        return self.session.scalars(lock).one_or_none()

    def path_taken(self, path: str) -> bool:
        return self.session.scalar(select(DavCollectionRow.id).where(DavCollectionRow.path == path)) is not None

    def insert_collection(self, row: DavCollectionRow) -> bool:
        """Insert ``row`` in a savepoint; False (nothing inserted) when its path is taken.

        A unique violation on anything but the path (the calendar's own collection) is raised.
        """
        try:
            with self.session.begin_nested():
                self.session.add(row)
                self.session.flush()
        except IntegrityError:
            if not self.path_taken(row.path):
                raise
            return False
        return True

    def calendars_without_collection(self, *, owner_username: str | None) -> list[str]:
        """Ids of the calendars that have no collection yet: ``owner_username``'s, or (None) the teams'."""
        if owner_username is None:
            return list(self.session.scalars(_team_calendars_without_collection()))
        return list(self.session.scalars(_user_calendars_without_collection(), {"owner_username": owner_username}))

    def live_appointments_of(self, calendar_id: str) -> list[AppointmentRow]:
        stmt = select(AppointmentRow).where(
            AppointmentRow.calendar_id == calendar_id, AppointmentRow.deleted_at.is_(None)
        )
        return list(self.session.scalars(stmt).unique())

    # ------------------------------------------------------------------ items and the change log

    def insert_items(self, items: Sequence[tuple[Any, ...]]) -> None:
        """Item rows (values in :data:`ITEM_COLUMNS` order) in one many-row INSERT, past the ORM."""
        insert_many(self.session, _ITEMS, ITEM_COLUMNS, items)

    def log_changes(self, collection_id: int, hrefs: Iterable[tuple[str, bool]], now: datetime) -> int:
        """``hrefs`` (href, deleted) at the collection's next revision (one for all); returns it."""
        return log_changes(self.session, collection_id, hrefs, now)

    def bump(self, collection_id: int, hrefs: Iterable[tuple[str, bool]], now: datetime) -> None:
        """As :meth:`log_changes`, pruning the collection's old changes when its lock is free now."""
        bump(self.session, collection_id, hrefs, now)

    def prune_all(self, cutoff: datetime) -> int:
        """Prune the change logs with changes older than ``cutoff``; how many collections were pruned."""
        return prune_all(self.session, cutoff)

    # ------------------------------------------------------------------ access

    def team_ids_owned_by(self, user_id: str) -> frozenset[str]:
        """The teams of the calendars ``user_id`` owns."""
        own = select(CalendarRow.team_id).where(CalendarRow.owner_user_id == user_id, CalendarRow.team_id.is_not(None))
        return frozenset(t for t in self.session.scalars(own) if t)

    def calendar_paths_owned_by(self, user_id: str) -> frozenset[str]:
        """The DAV paths of the calendars ``user_id`` owns (those that have a collection)."""
        stmt = (
            select(DavCollectionRow.path)
            .join(CalendarRow, CalendarRow.id == DavCollectionRow.calendar_id)
            .where(CalendarRow.owner_user_id == user_id)
        )
        return frozenset(self.session.scalars(stmt))


# The look for calendars without a collection runs in every CalDAV transaction that names a path: its statements are
# built once (building one costs more than SQLAlchemy's cached compilation of it).


@functools.cache
def _team_calendars_without_collection() -> Select[str]:
    return select(CalendarRow.id).where(CalendarRow.id.not_in(_linked()), CalendarRow.owner_user_id.is_(None))


@functools.cache
def _user_calendars_without_collection() -> Select[str]:
    owner = select(UserRow.id).where(UserRow.username == bindparam("owner_username")).scalar_subquery()
    return select(CalendarRow.id).where(CalendarRow.id.not_in(_linked()), CalendarRow.owner_user_id == owner)


def _linked() -> Select[str | None]:
    return select(DavCollectionRow.calendar_id).where(DavCollectionRow.calendar_id.is_not(None))


class DavLocks(SessionRepository):
    """``uow.repo(DavLocks)``: the storage lock of :mod:`caldav_bridge.dav.locks`, in this transaction."""

    def is_postgresql(self) -> bool:
        return locks.is_postgresql(self.session)

    def lock_tree(self, mode: str) -> None:
        locks.lock_tree(self.session, mode)

    def lock_collection(self, collection_id: int, mode: str) -> None:
        locks.lock_collection(self.session, collection_id, mode)

    def lock_for_write(self, request: str | None, path: str | None, to_path: str | None = None) -> None:
        locks.lock_for_write(self.session, request, path, to_path)
