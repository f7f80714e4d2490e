"""The CalDAV store service: collections, items, properties, sync tokens (the storage lock: ``dav.locks``).

One :class:`DavStore` works inside one open unit of work (one transaction) that its caller
commits: the Radicale storage plugin opens it when Radicale takes its storage lock and commits
when the lock is released, so each DAV request is one transaction.

Appointment calendars (collections linked to a calendar) hand their VEVENTs to
:mod:`caldav_bridge.dav.appointment_sync`, which writes the canonical appointment, its outbox,
history and audit rows in the same transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caldav_bridge.clock import utcnow
from caldav_bridge.dav import appointment_sync
from caldav_bridge.dav.change_log import log_changes
from caldav_bridge.dav.errors import (
    InvalidPropertyValue,
    ItemChanged,
    MalformedCalendarData,
    ResourceNotFound,
    UnsupportedComponent,
)
from caldav_bridge.dav.items import is_long
from caldav_bridge.dav.listings import SYNC_PREFIX, DavListingRows, token_revision
from caldav_bridge.dav.locks import try_lock_collection
from caldav_bridge.dav.records import CollectionInfo, ItemHead, ItemInfo, NewItem
from caldav_bridge.dav.render import etag_of_text
from caldav_bridge.dav.store_rows import DavStoreRows, prune_log
from caldav_bridge.errors import Forbidden, ValidationFailed
from caldav_bridge.services import calendars
from caldav_bridge.services.actor import Actor
from caldav_bridge.store.dav_tables import DavChangeRow, DavCollectionRow, DavItemRow
from caldav_bridge.store.tables import AppointmentRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["SYNC_PREFIX", "DavStore", "parent_of", "prune_all", "prune_log"]

#: The collection property holding its name (RFC 4918 15.2); an appointment calendar's is the calendar's name.
DISPLAYNAME = "D:displayname"
#: Radicale's ``[storage] max_sync_token_age`` default (30 days).
DEFAULT_MAX_TOKEN_AGE = 2_592_000


def parent_of(path: str) -> str:
    return path.rpartition("/")[0] if "/" in path else ""


def _info(row: DavCollectionRow) -> CollectionInfo:
    return CollectionInfo(
        id=row.id,
        path=row.path,
        tag=row.tag,
        props=dict(row.props or {}),
        revision=row.revision,
        epoch=row.epoch,
        calendar_id=row.calendar_id,
        updated_at=row.updated_at,
        log_start=row.log_start or 0,
    )


def _item(row: DavItemRow) -> ItemInfo:
    return ItemInfo(
        href=row.href,
        uid=row.uid,
        component=row.component,
        text=row.text,
        etag=row.etag,
        time_start=row.time_start,
        time_end=row.time_end,
        updated_at=row.updated_at,
        appointment_id=row.appointment_id,
    )


class DavStore:
    """Operations on the DAV tables within ``uow`` (already entered); the caller commits."""

    def __init__(
        self,
        uow: UnitOfWork,
        actor: Actor,
        *,
        max_token_age: int | None = DEFAULT_MAX_TOKEN_AGE,
        on_first_read: Callable[[int], None] | None = None,
    ) -> None:
        self.uow = uow
        self.actor = actor
        #: Seconds a change stays in the log (``[storage] max_sync_token_age``); None: never pruned.
        self.max_token_age = max_token_age
        #: First path segments whose calendars were provisioned in this transaction already.
        self.ensured: set[str] = set()
        #: Collections read in this transaction, by path (a request asks for the same ones often);
        #: emptied by every write.
        self._seen: dict[str, CollectionInfo | None] = {}
        #: Called with a collection's id the first time this transaction looks it up by path, before
        #: its row is read (the storage plugin takes the collection's shared lock there: ``dav.locks``).
        self.on_first_read = on_first_read
        self._first_read_done: set[int] = set()

    @property
    def rows(self) -> DavStoreRows:
        """The store's queries, in this unit of work."""
        return self.uow.repo(DavStoreRows)

    # ------------------------------------------------------------------ collections

    def collection(self, path: str) -> CollectionInfo | None:
        if path not in self._seen:
            row = self._collection_row(path)
            if row is not None and self.on_first_read is not None and row.id not in self._first_read_done:
                self._first_read_done.add(row.id)
                self.on_first_read(row.id)
                row = self._collection_row(path, fresh=True)  # as committed once the lock is held
            self._seen[path] = _info(row) if row else None
        return self._seen[path]

    def forget_collections(self) -> None:
        """Drop the collections read in this transaction (after a write made elsewhere, e.g. provisioning)."""
        self._seen.clear()

    def collection_by_id(self, collection_id: int) -> CollectionInfo | None:
        row = self.rows.collection_with_id(collection_id)
        return _info(row) if row else None

    def _collection_row(self, path: str, *, fresh: bool = False) -> DavCollectionRow | None:
        return self.rows.collection_at(path, fresh=fresh)

    def children(self, path: str) -> list[CollectionInfo]:
        return [_info(r) for r in self.rows.children_of(path)]

    def ensure_collection(
        self, path: str, *, calendar_id: str | None = None, props: dict[str, str] | None = None
    ) -> CollectionInfo:
        """The collection at ``path``, created (with its missing ancestors) if absent.

        Idempotent under concurrency: a path another transaction inserted meanwhile (REST
        provisioning does not take the storage lock) is read back, not a unique violation.
        """
        for attempt in range(3):
            row = self._collection_row(path)
            if row is not None:
                return _info(row)
            try:
                with self.uow.savepoint():
                    return _info(self._insert_collection(path, props or {}, calendar_id))
            except IntegrityError:
                self.forget_collections()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _insert_collection(self, path: str, props: dict[str, str], calendar_id: str | None) -> DavCollectionRow:
        parent = parent_of(path)
        if parent and self._collection_row(parent) is None:
            self._insert_collection(parent, {}, None)
        self.forget_collections()
        now = utcnow()
        row = DavCollectionRow(
            path=path,
            parent_path=parent,
            tag=props.get("tag", ""),
            props=dict(props),
            calendar_id=calendar_id,
            epoch=secrets.token_hex(4),
            revision=0,
            created_at=now,
            updated_at=now,
        )
        self.rows.add(row)
        self.rows.flush()
        return row

    def create_collection(
        self, path: str, props: dict[str, str], items: Sequence[tuple[str, NewItem]] | None = None
    ) -> tuple[CollectionInfo, dict[str, ItemInfo], list[str]]:
        """Create or replace the collection at ``path`` with ``props`` and ``items`` (href, item).

        Returns the collection, the replaced items by href and the hrefs that are new.
        """
        with self.uow.savepoint():
            row = self._collection_row(path)
            replaced: dict[str, ItemInfo] = {}
            old: dict[str, ItemInfo] = {}
            if row is None:
                row = self._insert_collection(path, props, None)
            else:
                if row.calendar_id is not None:
                    raise Forbidden("an appointment calendar cannot be replaced")
                old = {i.href: i for i in self._items(row.id)}
                for child in self.rows.descendants_of(path):
                    self.rows.remove(child)
                self.rows.delete_items_of(row.id)
                row.tag = props.get("tag", "")
                row.props = dict(props)
                for href in old:
                    self._log(row, href, deleted=True)
            new_hrefs: list[str] = []
            if items and row.tag:
                for href, item in items:
                    self._insert_item(row, href, item)
                    if href in old:
                        replaced[href] = old[href]
                    else:
                        new_hrefs.append(href)
                    self._log(row, href)
            self._touch(row)
            self.rows.flush()
            return _info(row), replaced, new_hrefs

    def delete_collection(self, path: str) -> None:
        row = self._collection_row(path)
        if row is None:
            raise ResourceNotFound("collection", path)
        rows = [row, *self.rows.descendants_of(path)]
        if any(r.calendar_id for r in rows):
            raise Forbidden("an appointment calendar cannot be deleted over CalDAV")
        for r in rows:
            self.rows.remove(r)
        self.rows.flush()
        self.forget_collections()

    def delete_all(self) -> None:
        """DELETE on the root: every collection goes (appointment calendars refuse, as one by one)."""
        if self.rows.any_appointment_calendar():
            raise Forbidden("appointment calendars cannot be deleted over CalDAV")
        self.rows.delete_every_collection()
        self.forget_collections()

    def set_props(self, collection: CollectionInfo, props: dict[str, str]) -> CollectionInfo:
        """Replace the collection's properties (a PROPPATCH). On an appointment calendar a changed
        ``D:displayname`` renames the calendar itself (:func:`calendars.rename_in`: REST, pages and feeds
        show the new name); a name it refuses (empty, too long, a team's) leaves everything as it was."""
        props = dict(props)
        name = props.get(DISPLAYNAME)
        if collection.calendar_id is not None and name != collection.props.get(DISPLAYNAME):
            try:
                renamed = calendars.rename_in(self.uow, self.actor, collection.calendar_id, name or "")
            except ValidationFailed as exc:
                raise InvalidPropertyValue(DISPLAYNAME, "; ".join(e.message for e in exc.errors)) from exc
            props[DISPLAYNAME] = renamed.name
        row = self._lock_collection(collection.id)
        row.props = props
        row.tag = props.get("tag", "")
        self._touch(row)
        return _info(row)

    # ------------------------------------------------------------------ items

    def _items(self, collection_id: int) -> list[ItemInfo]:
        return [_item(r) for r in self.rows.items_of(collection_id)]

    def items(self, collection: CollectionInfo) -> list[ItemInfo]:
        return self._items(collection.id)

    def item_heads(self, collection: CollectionInfo) -> list[ItemHead]:
        """The collection's items without their text, by href: one narrow query.

        What a PROPFIND or a sync answer reads (href, ETag, content type, size); the texts follow
        with :meth:`texts` only if something asks for them.
        """
        return self.rows.item_heads_of(collection.id)

    def texts(self, collection: CollectionInfo, hrefs: Iterable[str]) -> dict[str, str]:
        """The texts of the items at ``hrefs`` (missing ones are left out)."""
        return self.rows.texts_at(collection.id, list(dict.fromkeys(hrefs)))

    def item(self, collection: CollectionInfo, href: str) -> ItemInfo | None:
        row = self._item_row(collection.id, href)
        return _item(row) if row else None

    def _item_row(self, collection_id: int, href: str) -> DavItemRow | None:
        return self.rows.item_at(collection_id, href)

    def _locked_item_row(self, collection_id: int, href: str) -> tuple[DavItemRow | None, AppointmentRow | None]:
        """The item row as committed now, locked for this transaction (re-read, never the cached copy),
        and its appointment's row (a tombstone too), read and locked as committed now.

        An appointment's row is locked first, as every REST write does (appointment, then its DAV
        item, then the collection), so the two cannot deadlock.
        """
        row = self.rows.item_at(collection_id, href, fresh=True)
        if row is None:
            return None, None
        appointment = self.rows.lock_appointment(row.appointment_id) if row.appointment_id is not None else None
        locked = self.rows.item_at(collection_id, href, fresh=True, lock=True)
        if locked is None or locked.appointment_id is None:
            return locked, None
        if appointment is None or appointment.id != locked.appointment_id:  # changed before the item's lock
            appointment = self.rows.lock_appointment(locked.appointment_id)
        return locked, appointment

    def items_by_href(self, collection: CollectionInfo, hrefs: Iterable[str]) -> dict[str, ItemInfo]:
        return {r.href: _item(r) for r in self.rows.items_at(collection.id, list(dict.fromkeys(hrefs)))}

    def items_in_range(self, collection: CollectionInfo, component: str | None, start: int, end: int) -> list[ItemInfo]:
        """Items whose stored time range overlaps ``[start, end)``: a superset, read from the index, by href."""
        found = [_item(r) for r in self.rows.items_overlapping(collection.id, component, start, end)]
        return sorted(found, key=lambda i: i.href)

    def has_uid(self, collection: CollectionInfo, uid: str) -> bool:
        return self.rows.has_uid(collection.id, uid)

    def upload(
        self,
        collection: CollectionInfo,
        href: str,
        item: NewItem,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> tuple[ItemInfo, ItemInfo | None]:
        """Store ``item`` at ``href`` (new or replacing); returns the stored and the replaced item.

        ``if_match``/``if_none_match`` are the request's preconditions: Radicale checked them on
        what it read before calling; they are checked again here on the row locked for the write,
        because a REST edit (which does not take the storage lock) may have committed in between.

        Raises:
            ItemChanged: the item is no longer the one the preconditions matched.
        """
        with self.uow.savepoint():
            old_row, appointment = self._locked_item_row(collection.id, href)
            _check_preconditions(href, old_row, if_match, if_none_match)
            old = _item(old_row) if old_row else None
            if collection.tag == "VCALENDAR" and not item.component:
                raise MalformedCalendarData("the calendar object has no VEVENT, VTODO or VJOURNAL")
            self._check_component(collection, item.component)
            text_, appointment_id = item.text, old.appointment_id if old else None
            if collection.calendar_id is not None and item.component == "VEVENT":
                # the appointment as locked above: item_written does not read it again
                text_, appointment_id = appointment_sync.item_written(
                    self.uow, self.actor, collection.calendar_id, item, appointment, old.text if old else None
                )
            elif appointment_id is not None:
                # A VEVENT that was an appointment became something else: the appointment ends.
                appointment_sync.item_deleted(self.uow, self.actor, appointment_id)
                appointment_id = None
            stored = item if text_ == item.text else _rehash(item, text_)
            row = self._lock_collection(collection.id)
            if old_row is None:
                new_row = self._insert_item(row, href, stored, appointment_id)
            else:
                new_row = old_row
                self._fill(new_row, stored, appointment_id)
            self._log(row, href)
            self._touch(row)
            self.rows.flush()
            return _item(new_row), old

    def delete_item(self, collection: CollectionInfo, href: str, *, if_match: str | None = None) -> None:
        """Delete the item at ``href`` (``if_match``: as in :meth:`upload`, checked on the locked row)."""
        with self.uow.savepoint():
            old, _ = self._locked_item_row(collection.id, href)
            if old is None:
                if if_match is not None:
                    raise ItemChanged(href, f"item {href!r} was deleted meanwhile")
                raise ResourceNotFound("item", href)
            _check_preconditions(href, old, if_match, None)
            if old.appointment_id:
                appointment_sync.item_deleted(self.uow, self.actor, old.appointment_id)
            self.rows.remove(old)
            row = self._lock_collection(collection.id)
            self._log(row, href, deleted=True)
            self._touch(row)
            self.rows.flush()

    def move(self, source: CollectionInfo, href: str, target: CollectionInfo, to_href: str) -> None:
        """Move an item (overwriting ``to_href``); both collections log the change."""
        with self.uow.savepoint():
            row = self._item_row(source.id, href)
            if row is None:
                raise ResourceNotFound("item", href)
            if source.id == target.id and href == to_href:
                return
            # An appointment's VEVENT moved to another appointment calendar: the appointment moves.
            between_calendars = (
                row.appointment_id is not None
                and row.component == "VEVENT"
                and source.calendar_id is not None
                and target.calendar_id is not None
                and source.calendar_id != target.calendar_id
            )
            moving_appointment = row.appointment_id is not None or target.calendar_id is not None
            if moving_appointment and source.calendar_id != target.calendar_id and not between_calendars:
                # Into or out of an appointment calendar: the appointment is created or ends.
                item = NewItem(row.uid, row.component, row.text, row.etag, row.time_start, row.time_end)
                self.delete_item(source, href)
                self.upload(target, to_href, item)
                return
            existing = self._item_row(target.id, to_href)
            if existing is not None:
                if existing.appointment_id and existing.appointment_id != row.appointment_id:
                    appointment_sync.item_deleted(self.uow, self.actor, existing.appointment_id)
                self.rows.remove(existing)
                self.rows.flush()
            if between_calendars:
                assert row.appointment_id is not None and target.calendar_id is not None
                appointment_sync.item_moved(self.uow, self.actor, row.appointment_id, target.calendar_id)
            row.collection_id = target.id
            row.href = to_href
            row.updated_at = utcnow()
            src = self._lock_collection(source.id)
            dst = src if target.id == source.id else self._lock_collection(target.id)
            self._log(src, href, deleted=True)
            self._log(dst, to_href)
            self._touch(src)
            if dst is not src:
                self._touch(dst)
            self.rows.flush()

    def _check_component(self, collection: CollectionInfo, component: str) -> None:
        allowed = collection.props.get("C:supported-calendar-component-set")
        if (
            collection.tag == "VCALENDAR"
            and allowed
            and component
            and component not in {c.strip() for c in allowed.split(",")}
        ):
            raise UnsupportedComponent(component)

    def _insert_item(
        self, collection: DavCollectionRow, href: str, item: NewItem, appointment_id: str | None = None
    ) -> DavItemRow:
        row = DavItemRow(collection_id=collection.id, href=href)
        self._fill(row, item, appointment_id)
        self.rows.add(row)
        return row

    @staticmethod
    def _fill(row: DavItemRow, item: NewItem, appointment_id: str | None) -> None:
        row.uid = item.uid
        row.component = item.component
        row.text = item.text
        row.etag = item.etag
        row.time_start = item.time_start
        row.time_end = item.time_end
        row.long_span = is_long(item.time_start, item.time_end)
        row.appointment_id = appointment_id
        row.updated_at = utcnow()
        row.service_etag = None  # a client's text: the next rendering merges into it

    # ------------------------------------------------------------------ sync

    def sync(self, collection: CollectionInfo, old_token: str = "") -> tuple[str, list[str]]:
        """RFC 6578: the current token and the hrefs changed (or deleted) since ``old_token``."""
        token = collection.sync_token
        rev = token_revision(collection, old_token)
        if rev is None:
            return token, self.rows.hrefs_of(collection.id)
        if rev == collection.revision:
            return token, []
        return token, self.uow.repo(DavListingRows).changed_hrefs(collection.id, rev)

    # ------------------------------------------------------------------ helpers

    def _lock_collection(self, collection_id: int) -> DavCollectionRow:
        row = self.rows.lock_collection(collection_id)
        if row is None:
            raise ResourceNotFound("collection", str(collection_id))
        return row

    def _log(self, collection: DavCollectionRow, href: str, *, deleted: bool = False) -> None:
        """Record a change at the collection's next revision (taken once per operation, in _touch)."""
        self.rows.add(
            DavChangeRow(
                collection_id=collection.id, revision=collection.revision + 1, href=href, deleted=deleted, at=utcnow()
            )
        )

    def _touch(self, collection: DavCollectionRow) -> None:
        self.forget_collections()
        collection.revision += 1
        collection.updated_at = utcnow()
        if self.max_token_age is not None:
            horizon = self.rows.prune_log(collection.id, collection.updated_at - timedelta(seconds=self.max_token_age))
            if horizon is not None and horizon > (collection.log_start or 0):
                collection.log_start = horizon


def _check_preconditions(href: str, row: DavItemRow | None, if_match: str | None, if_none_match: str | None) -> None:
    """RFC 7232 If-Match / If-None-Match: * on the current (locked) row; 412 when they fail."""
    if if_match is not None and if_match.strip():
        tags = {t.strip() for t in if_match.split(",")}
        if row is None or ("*" not in tags and row.etag not in tags):
            raise ItemChanged(href, f"item {href!r} was changed by another request after its ETag was checked")
    if if_none_match is not None and if_none_match.strip() == "*" and row is not None:
        raise ItemChanged(href, f"item {href!r} was created by another request meanwhile")


def _rehash(item: NewItem, text_: str) -> NewItem:
    return NewItem(item.uid, item.component, text_, etag_of_text(text_), item.time_start, item.time_end, item.extra)


def bump(session: Session, collection_id: int, hrefs: Iterable[tuple[str, bool]], now: datetime) -> None:
    """Log changes of ``hrefs`` (href, deleted) at the collection's next revision (used by sync hooks).

    Also prunes the collection's changes older than :data:`DEFAULT_MAX_TOKEN_AGE`, when the storage
    lock is free at this moment (see :func:`_prune_if_unlocked`).
    """
    log_changes(session, collection_id, hrefs, now)
    _prune_if_unlocked(session, collection_id, now - timedelta(seconds=DEFAULT_MAX_TOKEN_AGE))


def _prune_if_unlocked(session: Session, collection_id: int, cutoff: datetime) -> None:
    """Prune a collection's change log from a write that does not hold the storage lock (REST, OLS...).

    A sync REPORT must not see the log shrink under it, so pruning needs the collection's exclusive
    lock (``dav.locks``); such a write may not wait for it (a CalDAV PUT holding it may wait for this
    transaction's appointment row), so it only tries: when the collection is busy over CalDAV, the
    next write or the job prunes. One index lookup when nothing is old enough. SQLite: writers are
    serialised already.
    """
    c = DavChangeRow
    oldest = session.scalar(select(c.at).where(c.collection_id == collection_id).order_by(c.revision).limit(1))
    if oldest is None or oldest >= cutoff:
        return
    if not try_lock_collection(session, collection_id):
        return
    horizon = prune_log(session, collection_id, cutoff)
    if horizon is not None:
        session.execute(
            update(DavCollectionRow)
            .where(DavCollectionRow.id == collection_id, DavCollectionRow.log_start < horizon)
            .values(log_start=horizon)
        )


def prune_all(session: Session, cutoff: datetime, *, collections: int = 500) -> int:
    """Prune the change logs of up to ``collections`` collections with changes older than ``cutoff``.

    For a periodic job (collections that only REST or Salesforce change are pruned there; CalDAV
    writes prune their own collection). Each collection's exclusive lock is tried first (``dav.locks``),
    so no sync REPORT reads a log while it shrinks; one in use over CalDAV now is left for the next run
    (CalDAV is never kept waiting by the job). Returns the number of collections pruned; the caller commits.
    """
    ids = list(
        session.scalars(
            select(DavChangeRow.collection_id).where(DavChangeRow.at < cutoff).distinct().limit(collections)
        )
    )
    done = 0
    for collection_id in sorted(ids):
        if not try_lock_collection(session, collection_id):
            continue
        row = session.scalars(
            select(DavCollectionRow).where(DavCollectionRow.id == collection_id).with_for_update()
        ).one_or_none()
        if row is None:
            continue
        horizon = prune_log(session, collection_id, cutoff)
        if horizon is not None:
            row.log_start = max(row.log_start or 0, horizon)
            done += 1
    session.flush()
    return done
