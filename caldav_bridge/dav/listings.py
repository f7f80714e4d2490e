"""What a CalDAV listing reads, straight from indexed queries: no item objects, no texts unless asked.

The streamed answers of ``storage_plugin.listings`` (PROPFIND Depth:1, sync-collection, calendar-multiget
on one collection) read through :class:`DavListingRows` (``uow.repo``) inside one read-only unit of work.
Rows come out in href order as plain tuples; a collection's whole listing is iterated, never held (on
PostgreSQL through a server-side cursor, ``yield_per``), so a 100k-item calendar costs a few rows of memory at a time.

Every stored item is listed and served whatever its size: ``max_resource_size`` bounds incoming bodies (PUT)
only (``storage_plugin.precheck``), not what the store already holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import null, select

from caldav_bridge.dav.errors import SyncTokenInvalid
from caldav_bridge.dav.records import CollectionInfo
from caldav_bridge.services.actor import Actor
from caldav_bridge.services.creates import reads_of
from caldav_bridge.store.dav_tables import DavChangeRow, DavItemRow
from caldav_bridge.store.read_audit import Reads
from caldav_bridge.store.uow import SessionRepository

__all__ = [
    "BATCH",
    "SYNC_PREFIX",
    "DavListingRows",
    "ListedItem",
    "ServedItem",
    "items_read",
    "token_revision",
]

SYNC_PREFIX = "http://radicale.org/ns/sync/"
#: Rows fetched per round trip (PostgreSQL: the server-side cursor's batch).
BATCH = 2000
#: Hrefs per ``IN (...)`` lookup.
_IN_CHUNK = 500


class ListedItem(NamedTuple):
    """An item as a listing shows it: no text."""

    href: str
    etag: str
    component: str
    updated_at: datetime | None


class ServedItem(NamedTuple):
    """An item with its text, for an answer carrying calendar data."""

    href: str
    etag: str
    component: str
    updated_at: datetime
    text: str
    appointment_id: str | None


def _listing_columns(with_modified: bool) -> tuple[Any, ...]:
    c = DavItemRow
    modified = c.updated_at if with_modified else null()
    return (c.href, c.etag, c.component, modified)


class DavListingRows(SessionRepository):
    """``uow.repo(DavListingRows)``: the queries of a listing, in the unit of work's (read-only) transaction."""

    def item_listing(self, collection_id: int, *, with_modified: bool = True) -> Iterator[ListedItem]:
        """Every item of the collection by href, streamed (``BATCH`` rows at a time; PostgreSQL: a server-side
        cursor). Read through the session's connection as plain rows (the ORM's result handling cost more than
        the query); ``with_modified=False`` leaves ``updated_at`` None (not read, not converted)."""
        stmt = (
            select(*_listing_columns(with_modified))
            .where(DavItemRow.collection_id == collection_id)
            .order_by(DavItemRow.href)
            .execution_options(yield_per=BATCH)
        )
        result = self.session.connection().execute(stmt)
        try:
            for rows in result.partitions():
                for row in rows:
                    yield ListedItem(row[0], row[1], row[2], row[3])
        finally:
            result.close()

    def items_at(self, collection_id: int, hrefs: Sequence[str]) -> dict[str, ListedItem]:
        """The items at ``hrefs`` that exist (looked up ``_IN_CHUNK`` hrefs at a time)."""
        found: dict[str, ListedItem] = {}
        for i in range(0, len(hrefs), _IN_CHUNK):
            stmt = select(*_listing_columns(True)).where(
                DavItemRow.collection_id == collection_id, DavItemRow.href.in_(hrefs[i : i + _IN_CHUNK])
            )
            for row in self.session.execute(stmt):
                found[row[0]] = ListedItem(row[0], row[1], row[2], row[3])
        return found

    def served_items(self, collection_id: int, hrefs: Sequence[str]) -> dict[str, ServedItem]:
        """The items at ``hrefs`` that exist, with their texts."""
        c = DavItemRow
        found: dict[str, ServedItem] = {}
        for i in range(0, len(hrefs), _IN_CHUNK):
            stmt = select(c.href, c.etag, c.component, c.updated_at, c.text, c.appointment_id).where(
                c.collection_id == collection_id, c.href.in_(hrefs[i : i + _IN_CHUNK])
            )
            for row in self.session.execute(stmt):
                found[row[0]] = ServedItem(*row)
        return found

    def changed_hrefs(self, collection_id: int, revision: int) -> list[str]:
        """The hrefs changed (or deleted) after ``revision``, sorted (one index range of the change log)."""
        c = DavChangeRow
        stmt = select(c.href).where(c.collection_id == collection_id, c.revision > revision).distinct()
        return sorted(self.session.scalars(stmt))


def token_revision(collection: CollectionInfo, old_token: str) -> int | None:
    """The revision ``old_token`` names (None: no token, an initial sync).

    Raises:
        SyncTokenInvalid: malformed, of another collection (or an earlier one at this path), in the
            future, or older than the change log kept (RFC 6578 3.2: ``DAV:valid-sync-token``).
    """
    if not old_token:
        return None
    if not old_token.startswith(SYNC_PREFIX):
        raise SyncTokenInvalid(f"malformed sync token {old_token!r}")
    epoch, _, rev = old_token[len(SYNC_PREFIX) :].partition("-")
    if epoch != collection.epoch or not rev.isdigit() or int(rev) > collection.revision:
        raise SyncTokenInvalid(f"unknown sync token {old_token!r}")
    if int(rev) < collection.log_start:
        raise SyncTokenInvalid(f"sync token {old_token!r} has expired")
    return int(rev)


def items_read(actor: Actor, calendar_id: str, appointment_ids: Iterable[str]) -> Reads:
    """A read of appointments' items over CalDAV, for its audit (``UnitOfWork.audit_reads``)."""
    return reads_of(actor, "read", [(appointment_id, calendar_id) for appointment_id in appointment_ids])
