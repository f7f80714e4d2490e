"""``uow.repo(DavStoreRows)``: the queries of the CalDAV store (:class:`~caldav_bridge.dav.collections.DavStore`).

Collections by path and id, their items (whole rows, heads, texts, by time range), the rows a write
locks and the change log's pruning. Works in the unit of work's session; never commits.
The WebDAV rules over these rows stay in the store.
"""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import Select, bindparam, delete, func, select
from sqlalchemy.orm import Session

from caldav_bridge.dav.records import ItemHead
from caldav_bridge.store.dav_tables import SHORT_SPAN, DavChangeRow, DavCollectionRow, DavItemRow
from caldav_bridge.store.tables import AppointmentRow
from caldav_bridge.store.uow import SessionRepository

__all__ = ["PRUNE_BATCH", "DavStoreRows", "prune_log"]

#: At most this many of a collection's oldest change rows are looked at per prune (one write).
PRUNE_BATCH = 1000
#: Hrefs per ``IN (...)`` lookup.
_IN_CHUNK = 500


class DavStoreRows(SessionRepository):
    # ------------------------------------------------------------------ rows of this transaction

    def add(self, row: DavCollectionRow | DavItemRow | DavChangeRow) -> None:
        self.session.add(row)

    def remove(self, row: DavCollectionRow | DavItemRow) -> None:
        self.session.delete(row)

    def flush(self) -> None:
        self.session.flush()

    # ------------------------------------------------------------------ collections

    def collection_with_id(self, collection_id: int) -> DavCollectionRow | None:
        return self.session.get(DavCollectionRow, collection_id)

    def collection_at(self, path: str, *, fresh: bool = False) -> DavCollectionRow | None:
        """The collection at ``path`` (``fresh``: as committed now, not the copy this transaction loaded)."""
        stmt = _collection_at()
        if fresh:
            stmt = stmt.execution_options(populate_existing=True)
        return self.session.scalars(stmt, {"path": path}).one_or_none()

    def children_of(self, path: str) -> list[DavCollectionRow]:
        """The collections directly under ``path``, by path."""
        stmt = (
            select(DavCollectionRow)
            .where(DavCollectionRow.parent_path == path, DavCollectionRow.path != "")  # the root is no child
            .order_by(DavCollectionRow.path)
        )
        return list(self.session.scalars(stmt))

    def descendants_of(self, path: str) -> list[DavCollectionRow]:
        """Every collection below ``path``, at any depth."""
        prefix = path + "/"
        stmt = select(DavCollectionRow).where(func.substr(DavCollectionRow.path, 1, len(prefix)) == prefix)
        return list(self.session.scalars(stmt))

    def lock_collection(self, collection_id: int) -> DavCollectionRow | None:
        """The collection's row, locked FOR UPDATE until the transaction ends."""
        stmt = select(DavCollectionRow).where(DavCollectionRow.id == collection_id).with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def any_appointment_calendar(self) -> bool:
        """Whether some collection is an appointment calendar's."""
        stmt = select(DavCollectionRow.id).where(DavCollectionRow.calendar_id.is_not(None)).limit(1)
        return bool(self.session.scalar(stmt))

    def delete_every_collection(self) -> None:
        self.session.execute(delete(DavCollectionRow))

    # ------------------------------------------------------------------ items

    def items_of(self, collection_id: int) -> list[DavItemRow]:
        """The collection's items, by href."""
        stmt = select(DavItemRow).where(DavItemRow.collection_id == collection_id).order_by(DavItemRow.href)
        return list(self.session.scalars(stmt))

    def delete_items_of(self, collection_id: int) -> None:
        self.session.execute(delete(DavItemRow).where(DavItemRow.collection_id == collection_id))

    def item_heads_of(self, collection_id: int) -> list[ItemHead]:
        """The collection's items without their text, by href: one query."""
        c = DavItemRow
        columns = (
            c.href,
            c.uid,
            c.component,
            c.etag,
            c.time_start,
            c.time_end,
            c.updated_at,
            c.appointment_id,
        )
        stmt = select(*columns).where(c.collection_id == collection_id).order_by(c.href)
        return [ItemHead(*row) for row in self.session.execute(stmt)]

    def hrefs_of(self, collection_id: int) -> list[str]:
        """The hrefs of the collection's items, in order."""
        stmt = select(DavItemRow.href).where(DavItemRow.collection_id == collection_id).order_by(DavItemRow.href)
        return list(self.session.scalars(stmt))

    def texts_at(self, collection_id: int, hrefs: list[str]) -> dict[str, str]:
        """The texts of the items at ``hrefs`` (distinct; missing ones are left out)."""
        found: dict[str, str] = {}
        for i in range(0, len(hrefs), _IN_CHUNK):
            stmt = select(DavItemRow.href, DavItemRow.text).where(
                DavItemRow.collection_id == collection_id, DavItemRow.href.in_(hrefs[i : i + _IN_CHUNK])
            )
            found.update((href, text_) for href, text_ in self.session.execute(stmt))
        return found

    def items_at(self, collection_id: int, hrefs: list[str]) -> list[DavItemRow]:
        """The items at ``hrefs`` (distinct; missing ones are left out)."""
        found: list[DavItemRow] = []
        for i in range(0, len(hrefs), _IN_CHUNK):
            chunk = hrefs[i : i + _IN_CHUNK]
            stmt = select(DavItemRow).where(DavItemRow.collection_id == collection_id, DavItemRow.href.in_(chunk))
            found.extend(self.session.scalars(stmt))
        return found

    def item_at(self, collection_id: int, href: str, *, fresh: bool = False, lock: bool = False) -> DavItemRow | None:
        """The item at ``href`` (``fresh``: re-read as committed now; ``lock``: FOR UPDATE)."""
        stmt = _item_at()
        if fresh:
            stmt = stmt.execution_options(populate_existing=True)
        if lock:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt, {"collection_id": collection_id, "href": href}).one_or_none()

    def items_overlapping(self, collection_id: int, component: str | None, start: int, end: int) -> list[DavItemRow]:
        """Items whose stored time range overlaps ``[start, end)``: a superset, read from the index, unordered.

        Short items (at most SHORT_SPAN long) are found by a bounded range on ``time_start``;
        long, recurring and open-ended ones by their flag.
        """
        c = DavItemRow
        # Two queries, not one OR: each is a range scan of (collection_id, long_span, time_start);
        # SQLite scans the whole collection for the OR of the two.
        short = select(c).where(
            c.collection_id == collection_id,
            c.long_span.is_(False),
            c.time_start >= start - SHORT_SPAN,
            c.time_start < end,
            c.time_end > start,
        )
        long_ = select(c).where(
            c.collection_id == collection_id, c.long_span.is_(True), c.time_start < end, c.time_end > start
        )
        found: list[DavItemRow] = []
        for stmt in (short, long_):
            if component:
                stmt = stmt.where(c.component == component)
            found.extend(self.session.scalars(stmt))
        return found

    def has_uid(self, collection_id: int, uid: str) -> bool:
        stmt = select(DavItemRow.id).where(DavItemRow.collection_id == collection_id, DavItemRow.uid == uid).limit(1)
        return self.session.scalar(stmt) is not None

    def lock_appointment(self, appointment_id: str) -> AppointmentRow | None:
        """The appointment's row (a tombstone too) as committed now, locked FOR UPDATE."""
        lock = (
            select(AppointmentRow)
            .where(AppointmentRow.id == appointment_id)
            .with_for_update(of=AppointmentRow)
            .execution_options(populate_existing=True)
        )
        return self.session.scalars(lock).unique().one_or_none()

    # ------------------------------------------------------------------ the change log

    def prune_log(self, collection_id: int, cutoff: datetime) -> int | None:
        """:func:`prune_log` in this transaction."""
        return prune_log(self.session, collection_id, cutoff)


# The statements of the lookups every request makes, built once (building one costs more than SQLAlchemy's cached
# compilation of it); the values are bound per call.


@functools.cache
def _collection_at() -> Select[DavCollectionRow]:
    return select(DavCollectionRow).where(DavCollectionRow.path == bindparam("path"))


@functools.cache
def _item_at() -> Select[DavItemRow]:
    return select(DavItemRow).where(
        DavItemRow.collection_id == bindparam("collection_id"), DavItemRow.href == bindparam("href")
    )


def prune_log(session: Session, collection_id: int, cutoff: datetime, limit: int = PRUNE_BATCH) -> int | None:
    """Drop the collection's oldest changes logged before ``cutoff`` (looking at ``limit`` rows at most).

    Returns the new horizon (the highest pruned revision; the caller stores it as ``log_start`` so
    that tokens before it are refused), or None when nothing was old enough. One index lookup when
    nothing is: the oldest row first.
    """
    c = DavChangeRow
    oldest = session.scalar(select(c.at).where(c.collection_id == collection_id).order_by(c.revision).limit(1))
    if oldest is None or oldest >= cutoff:
        return None
    window = (
        select(c.revision, c.at).where(c.collection_id == collection_id).order_by(c.revision).limit(limit).subquery()
    )
    horizon = session.scalar(select(func.max(window.c.revision)).where(window.c.at < cutoff))
    if horizon is None:
        return None
    session.execute(
        delete(c).where(c.collection_id == collection_id, c.revision <= horizon),
        execution_options={"synchronize_session": False},
    )
    return int(horizon)
