"""The import's own queries (``uow.repo(ImportQueries)``): calendars an import may use, external refs, the
appointments a chunk updates, the events that already hold an iCalendar UID. In the unit of work's transaction;
never commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, Select, String, Table, bindparam, func, or_, select, update

from caldav_bridge.store.bulk_insert import insert_many
from caldav_bridge.store.dav_tables import DavCollectionRow, DavItemRow
from caldav_bridge.store.tables import AppointmentRow, CalendarRow, ExternalRefRow, UserRow
from caldav_bridge.store.uow import SessionRepository

__all__ = ["ImportQueries"]


def _table(row_class: type[Any]) -> Table:
    """The Core table of a mapped class, for bulk statements that skip the ORM's per-object work."""
    table: Table = row_class.__table__
    return table


class ImportQueries(SessionRepository):
    def calendars(self, reachable: Sequence[str] | None) -> list[tuple[str, str, str, str | None, str | None]]:
        """(id, name, zone, owner's username, owner's display name) of the calendars ``reachable`` (None: all)."""
        stmt = select(
            CalendarRow.id, CalendarRow.name, CalendarRow.timezone, UserRow.username, UserRow.display_name
        ).outerjoin(UserRow, UserRow.id == CalendarRow.owner_user_id)
        if reachable is not None:
            stmt = stmt.where(CalendarRow.id.in_(reachable))
        return [tuple(row) for row in self.session.execute(stmt)]  # type: ignore[misc]

    def refs_of(self, format_name: str, source_ids: list[str]) -> list[tuple[int, str, str]]:
        """The external refs of ``source_ids``: ``(id, source_id, appointment_id)``.

        On PostgreSQL the ids are one array parameter joined through ``unnest``, so that each is looked up in the
        ``(format, source_id)`` index: ``source_id IN (1,000 parameters)`` was planned, on a table filled by
        the import itself (no statistics yet), as a scan of every ref of the format, 0.6 s per chunk at 100k
        (two thirds of a 100k Blueprint import's wall time; bench/README.md).
        """
        columns = (ExternalRefRow.id, ExternalRefRow.source_id, ExternalRefRow.appointment_id)
        stmt: Select[int, str, str]
        if self.session.get_bind().dialect.name != "postgresql":
            stmt = select(*columns).where(
                ExternalRefRow.format == format_name, ExternalRefRow.source_id.in_(source_ids)
            )
        else:
            ids = bindparam("source_ids", source_ids, type_=ARRAY(String))
            wanted = func.unnest(ids).table_valued("source_id").render_derived()
            stmt = (
                select(*columns)
                .join(wanted, ExternalRefRow.source_id == wanted.c.source_id)
                .where(ExternalRefRow.format == format_name)
            )
        return [(ref_id, source_id, appointment_id) for ref_id, source_id, appointment_id in self.session.execute(stmt)]

    def uid_holders(
        self, calendar_ids: Iterable[str], uids: Iterable[str]
    ) -> list[tuple[str, str, str | None, str | None]]:
        """``(calendar_id, uid, appointment_id, href)`` of every event on ``calendar_ids`` whose iCalendar UID is one
        of ``uids``: a live appointment's (its ``meta.ical_uid``, else its id; no href) and a CalDAV item's (its
        appointment's id, None for an item that is no appointment, and its href)."""
        wanted, calendars = set(uids), sorted(set(calendar_ids))
        if not wanted or not calendars:
            return []
        ical_uid = AppointmentRow.meta_extra["ical_uid"].as_string()
        appointments = select(AppointmentRow.calendar_id, ical_uid, AppointmentRow.id).where(
            AppointmentRow.calendar_id.in_(calendars),
            AppointmentRow.deleted_at.is_(None),
            or_(ical_uid.in_(sorted(wanted)), AppointmentRow.id.in_(sorted(wanted))),
        )
        found: list[tuple[str, str, str | None, str | None]] = [
            (calendar_id, uid or appointment_id, appointment_id, None)
            for calendar_id, uid, appointment_id in self.session.execute(appointments)
            if (uid or appointment_id) in wanted
        ]
        items = (
            select(DavCollectionRow.calendar_id, DavItemRow.uid, DavItemRow.appointment_id, DavItemRow.href)
            .join(DavCollectionRow, DavCollectionRow.id == DavItemRow.collection_id)
            .where(DavCollectionRow.calendar_id.in_(calendars), DavItemRow.uid.in_(sorted(wanted)))
        )
        found.extend((c, uid, a, href) for c, uid, a, href in self.session.execute(items) if c is not None)
        return found

    def lock_appointments(self, ids: Iterable[str]) -> dict[str, AppointmentRow]:
        """The appointments of ``ids`` (tombstones too), locked for update, by id."""
        stmt = select(AppointmentRow).where(AppointmentRow.id.in_(set(ids))).with_for_update(of=AppointmentRow)
        return {row.id: row for row in self.session.scalars(stmt).unique()}

    def add_refs(self, rows: list[dict[str, Any]]) -> None:
        """New external refs (dicts with the same keys) in one many-row INSERT."""
        if rows:
            insert_many(self.session, _table(ExternalRefRow), tuple(rows[0]), [tuple(r.values()) for r in rows])

    def touch_refs(self, ref_ids: list[int], now: datetime) -> None:
        if ref_ids:
            stmt = update(_table(ExternalRefRow)).where(ExternalRefRow.id.in_(ref_ids)).values(updated_at=now)
            self.session.execute(stmt)
