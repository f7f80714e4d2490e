"""The DAV items and collections the appointment → CalDAV handlers read and write (one session, never commits)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from caldav_bridge.store.dav_tables import DavCollectionRow, DavItemRow

__all__ = ["DavItemRepository"]


class DavItemRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def collections_of(self, calendar_ids: Sequence[str]) -> dict[str, DavCollectionRow]:
        """Calendar id → its DAV collection, for the calendars that have one."""
        stmt = select(DavCollectionRow).where(DavCollectionRow.calendar_id.in_(list(calendar_ids)))
        return {c.calendar_id: c for c in self.session.scalars(stmt) if c.calendar_id is not None}

    def item_of(self, collection_id: int, appointment_id: str) -> DavItemRow | None:
        """The appointment's item in the collection, if it has one."""
        stmt = select(DavItemRow).where(
            DavItemRow.collection_id == collection_id, DavItemRow.appointment_id == appointment_id
        )
        return self.session.scalars(stmt).first()

    def add(self, item: DavItemRow) -> None:
        self.session.add(item)

    def remove(self, item: DavItemRow) -> None:
        self.session.delete(item)
