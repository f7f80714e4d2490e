"""Radicale ``Storage``/``Collection`` over :class:`caldav_bridge.dav.collections.DavStore`.

A Radicale storage lock is one database transaction: ``acquire_lock`` opens a unit of work, every
storage call in the request uses it, and releasing the lock commits. PostgreSQL adds advisory locks
(:mod:`caldav_bridge.dav.locks`): a write locks the collections its request names (Radicale passes
``path``, ``request`` and, for MOVE, ``to_path``) or, when it changes the tree, everything; a read
locks each collection it looks up, shared. Nested ``acquire_lock`` calls in one thread reuse the
open transaction.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, overload

from radicale import config as radicale_config
from radicale import item as radicale_item
from radicale import pathutils, storage, types
from radicale.item import filter as radicale_filter

from caldav_bridge.converters.ical_parse import ParsedText
from caldav_bridge.dav import provisioning
from caldav_bridge.dav.collections import DavStore
from caldav_bridge.dav.errors import SyncTokenInvalid
from caldav_bridge.dav.records import CollectionInfo, ItemHead, ItemInfo, NewItem
from caldav_bridge.dav.repository import DavLocks
from caldav_bridge.errors import DomainError
from caldav_bridge.runtime import Runtime
from caldav_bridge.services.actor import Actor
from caldav_bridge.store.uow import UnitOfWork
from storage_plugin import request_state
from storage_plugin._runtime import runtime_from_config, schema_ready
from storage_plugin.dav_errors import VALID_CALENDAR_DATA, DavError, dav_error

__all__ = ["PLUGIN_CONFIG_SCHEMA", "Collection", "Storage"]

PLUGIN_CONFIG_SCHEMA: dict[str, Any] = {
    "storage": {
        "url": {"value": "", "help": "SQLAlchemy database URL (default: the service's settings)", "type": str},
        "auto_migrate": {
            "value": "True",
            "help": "migrate the schema on start",
            "type": radicale_config._convert_to_bool,
        },
    }
}


def _http_date(value: datetime) -> str:
    return email.utils.formatdate(value.timestamp(), usegmt=True)


@dataclass
class _Txn:
    uow: UnitOfWork
    store: DavStore
    mode: str
    depth: int = 1


class Storage(storage.BaseStorage):
    _supports_unicode = True
    _supports_trailing_whitespace = True
    _supports_problematic_chars = True
    _is_collision_free = True

    def __init__(self, configuration: radicale_config.Configuration, runtime: Runtime | None = None) -> None:
        """``runtime`` is the service's own (``feeds.dav``); without one (Radicale on its own) it comes from the
        configuration's ``[storage] url``, and the schema is brought up to date unless ``auto_migrate`` is off."""
        super().__init__(configuration.copy(PLUGIN_CONFIG_SCHEMA))
        cfg = self.configuration
        if runtime is None:
            runtime = runtime_from_config(cfg)
            if cfg.get("storage", "auto_migrate"):
                schema_ready(runtime)
        self.runtime = runtime
        self._max_sync_token_age = int(cfg.get("storage", "max_sync_token_age"))
        #: The bound on an incoming calendar object (a PUT's body; advertised as ``C:max-resource-size``). Stored
        #: items are served whatever their size: unlike Radicale's file storage, which skips files above it on
        #: every read, so that an item stored before the bound was lowered, or written by REST, Salesforce or an
        #: import, would drop out of a client's sync.
        self.max_resource_size = int(cfg.get("server", "max_resource_size"))

    # ---------------------------------------------------------------- transactions

    def _txn(self) -> _Txn | None:
        txn: _Txn | None = getattr(request_state.local, "txn", None)
        return txn

    @types.contextmanager
    def acquire_lock(self, mode: str, user: str = "", *args: Any, **kwargs: Any) -> Iterator[None]:
        txn = self._txn()
        if txn is not None:
            txn.depth += 1
            try:
                yield
            finally:
                txn.depth -= 1
            return
        uow = self.runtime.uow()
        with uow:
            dav_locks = uow.repo(DavLocks)
            on_first_read = None
            if mode == "w":
                dav_locks.lock_for_write(kwargs.get("request"), kwargs.get("path"), kwargs.get("to_path"))
            else:
                dav_locks.lock_tree("r")
                if dav_locks.is_postgresql():
                    on_first_read = functools.partial(dav_locks.lock_collection, mode="r")
            store = DavStore(
                uow,
                dav_actor(user or ""),
                max_token_age=self._max_sync_token_age or None,
                on_first_read=on_first_read,
            )
            txn = _Txn(uow, store, mode)
            request_state.local.txn = txn
            try:
                yield
                uow.commit()
            finally:
                request_state.local.txn = None

    @contextlib.contextmanager
    def _store(self) -> Iterator[DavStore]:
        """The store of the open transaction, or a short one of its own (calls outside a lock).

        Radicale writes only inside its lock, but reads after it: a PROPFIND's answer is built once
        the lock is released (a collection's ETag, last modified, its items for getcontentlength).
        Those reads get a short read transaction: on PostgreSQL the tree lock shared, which no write
        to a single collection waits for (a write lock here made every PROPFIND wait for every write).
        """
        txn = self._txn()
        if txn is not None:
            yield txn.store
            return
        with self.acquire_lock("r"):
            txn = self._txn()
            assert txn is not None
            yield txn.store

    def _call(self, fn: Callable[[DavStore], Any]) -> Any:
        with self._store() as store:
            try:
                return fn(store)
            except DomainError as exc:  # the core's refusal: answered as DAV (storage_plugin.dav_errors)
                raise request_state.set_error(dav_error(exc)) from exc

    # ---------------------------------------------------------------- API

    def discover(
        self,
        path: str,
        depth: str = "0",
        child_context_manager: Callable[[str, str | None], ContextManager[None]] | None = None,
        user_groups: set[str] = set(),  # noqa: B006 - Radicale's signature
    ) -> Iterable[types.CollectionOrItem]:
        sane = pathutils.strip_path(path)
        ccm = child_context_manager or _null_ccm
        txn = self._txn()
        if txn is None:
            with self._store() as store:
                return list(self._discover(store, sane, depth, ccm))
        found = self._discover(txn.store, sane, depth, ccm)
        first = next(found, None)
        if first is None:
            return []
        return _Found(first, found, lambda: self._txn() is txn, lambda: self.discover(path, depth, ccm))

    def _discover(
        self, store: DavStore, sane: str, depth: str, ccm: Callable[[str, str | None], ContextManager[None]]
    ) -> Iterator[types.CollectionOrItem]:
        if sane:
            provisioning.ensure_for_path(store, sane)
        info = store.collection(sane)
        if sane and info is None:
            parent, _, href = sane.rpartition("/")
            pinfo = store.collection(parent) if parent else None
            if pinfo is None:
                return
            item = store.item(pinfo, href)
            if item is not None:
                coll = Collection(self, pinfo)
                coll._audit_read([item])
                yield coll._item(item)
            return
        collection = Collection(self, info, sane)
        yield collection
        if depth == "0":
            return
        if info is not None and not request_state.request_info().get("texts_needed", True):
            # Depth 1 is a PROPFIND, or Radicale's look at the principal before every request (it
            # drops the items): no text is read unless something asks for it. feeds.dav marks the
            # PROPFINDs that will (allprop, getcontentlength): their texts are read here, in the
            # request's transaction, as Radicale builds the answer after releasing the lock.
            # Without feeds.dav (standalone Radicale) nobody says, so texts are read here too:
            # read lazily after the lock, an item deleted meanwhile would fail the answer.
            heads = store.item_heads(info)
            texts = _Texts(collection, [h.href for h in heads])
            for head in heads:
                with ccm(sane, head.href):
                    yield collection._lazy_item(head, texts)
        elif info is not None:
            for item in store.items(info):
                with ccm(sane, item.href):
                    yield collection._item(item)
        for child in store.children(sane):
            with ccm(child.path, None):
                yield Collection(self, child)

    def move(self, item: radicale_item.Item, to_collection: storage.BaseCollection, to_href: str) -> None:
        if not pathutils.is_safe_path_component(to_href):
            raise pathutils.UnsafePathError(to_href)
        assert isinstance(item.collection, Collection) and isinstance(to_collection, Collection)
        assert item.href and item.collection.info and to_collection.info
        src, dst = item.collection.info, to_collection.info
        self._call(lambda s: s.move(src, str(item.href), dst, to_href))

    def create_collection(
        self,
        href: str,
        items: Iterable[radicale_item.Item] | None = None,
        props: Mapping[str, str] | None = None,
    ) -> tuple[storage.BaseCollection, dict[str, radicale_item.Item], list[str]]:
        sane = pathutils.strip_path(href)
        if not props:
            info = self._call(lambda s: s.ensure_collection(sane))
            return Collection(self, info), {}, []
        tag = props.get("tag", "")
        suffix = ".vcf" if tag == "VADDRESSBOOK" else ".ics"
        new: list[tuple[str, NewItem]] = []
        taken: set[str] = set()
        for item in items or ():
            href_ = _free_href(item.uid, suffix, taken)
            taken.add(href_)
            new.append((href_, new_item(item)))
        info, replaced, new_hrefs = self._call(lambda s: s.create_collection(sane, dict(props), new))
        coll = Collection(self, info)
        return coll, {h: coll._item(i) for h, i in replaced.items()}, new_hrefs

    def verify(self) -> bool:
        return True


class _Found:
    """What :meth:`Storage.discover` found in a transaction: the first entry (the path's own) at once, the rest
    (a listing's members) read when something iterates past it. Radicale looks at the principal (Depth 1) before
    every request and takes only its first entry: its children and items were read for nothing. Asked for after
    the transaction ended, the rest is read again in a short one of its own."""

    def __init__(
        self,
        first: types.CollectionOrItem,
        rest: Iterator[types.CollectionOrItem],
        same_transaction: Callable[[], bool],
        again: Callable[[], Iterable[types.CollectionOrItem]],
    ) -> None:
        self._first = first
        self._rest = rest
        self._same_transaction = same_transaction
        self._again = again
        self._read: list[types.CollectionOrItem] | None = None

    def __iter__(self) -> Iterator[types.CollectionOrItem]:
        yield self._first
        if self._read is None:
            if self._same_transaction():
                self._read = list(self._rest)
            else:
                self._read = list(self._again())[1:]
        yield from self._read


class _Texts:
    """The texts of a batch of lazy items, read in one query the first time any of them is needed."""

    def __init__(self, collection: Collection, hrefs: list[str]) -> None:
        self.collection = collection
        self.hrefs = hrefs
        self._texts: dict[str, str] | None = None

    def text(self, href: str) -> str:
        if self._texts is None:
            info = self.collection.info
            assert info is not None
            self._texts = self.collection._storage._call(lambda s: s.texts(info, self.hrefs))
        text_ = self._texts.get(href)
        if text_ is None:  # only if read after the request's transaction, and deleted meanwhile
            raise RuntimeError(f"item {href!r} was deleted while it was being read")
        return text_


class LazyItem(radicale_item.Item):
    """A Radicale item whose text is read only if something asks for it (see :class:`_Texts`).

    Everything a PROPFIND or a sync answer reads (href, ETag, last modified, content type, UID,
    time range) is passed in; ``serialize``/``vobject_item`` load the text of the whole batch.
    """

    def __init__(self, texts: _Texts, **kwargs: Any) -> None:
        super().__init__(text="", **kwargs)
        self._text = None
        self._texts = texts

    def serialize(self) -> str:
        if self._text is None and self._vobject_item is None:
            assert self.href is not None
            self._text = self._texts.text(self.href)
        return super().serialize()

    @property
    def vobject_item(self) -> Any:
        self.serialize()
        return super().vobject_item


def _null_ccm(path: str, href: str | None) -> ContextManager[None]:
    return contextlib.nullcontext()


def _free_href(uid: str, suffix: str, taken: set[str]) -> str:
    for candidate in (
        uid if uid.lower().endswith(suffix) else uid + suffix,
        radicale_item.get_etag(uid).strip('"') + suffix,
    ):
        if candidate not in taken and pathutils.is_safe_path_component(candidate) and not candidate.startswith("."):
            return candidate
    return radicale_item.find_available_uid(lambda h: h in taken, suffix)


def _check_times(item: radicale_item.Item) -> None:
    """DTEND (or DUE) before DTSTART is invalid calendar data (RFC 5545 3.6.1, RFC 4791 5.3.2.1)."""
    if item.component_name not in ("VEVENT", "VTODO"):
        return
    end_name = "dtend" if item.component_name == "VEVENT" else "due"
    for component in item.vobject_item.components():
        if component.name != item.component_name:
            continue
        start = getattr(component, "dtstart", None)
        end = getattr(component, end_name, None)
        if start is None or end is None:
            continue
        a, b = start.value, end.value
        if isinstance(a, datetime) != isinstance(b, datetime):
            continue
        if isinstance(a, datetime) and (a.tzinfo is None) != (b.tzinfo is None):
            continue
        if b < a:
            raise request_state.set_error(DavError(403, f"{end_name.upper()} is before DTSTART", VALID_CALENDAR_DATA))


def new_item(item: radicale_item.Item, body: ParsedText | None = None) -> NewItem:
    """What the store keeps of a parsed item: text plus the values Radicale computed (``body``: the request body
    the item was read from, as the pre-parse check parsed it)."""
    _check_times(item)
    start, end = item.time_range
    return NewItem(
        uid=item.uid,
        component=item.component_name,
        text=item.serialize(),
        etag=item.etag,
        time_start=int(start),
        time_end=int(end),
        body=body,
    )


def dav_actor(user: str) -> Actor:
    """Who acts over CalDAV: rights were checked by the rights plugin, so every calendar is reachable."""
    return Actor(
        user_id=None,
        username=user or "anonymous",
        role="service",
        scopes=frozenset({"write"}),
        channel="caldav",
        calendar_ids=None,
        request_id=request_state.request_info().get("request_id"),
    )


class Collection(storage.BaseCollection):
    def __init__(self, storage_: Storage, info: CollectionInfo | None, path: str | None = None) -> None:
        self._storage = storage_
        self.info = info
        self._path = info.path if info else (path or "")

    @property
    def path(self) -> str:
        return self._path

    def _refresh(self, info: CollectionInfo) -> None:
        self.info = info

    def _current(self) -> CollectionInfo | None:
        if self.info is None:
            return None
        info = self._storage._call(lambda s: s.collection_by_id(self.info.id))  # type: ignore[union-attr]
        if info is not None:
            self.info = info
        return self.info

    def _item(self, info: ItemInfo) -> radicale_item.Item:
        return radicale_item.Item(
            collection=self,
            href=info.href,
            last_modified=_http_date(info.updated_at),
            text=info.text,
            etag=info.etag,
            uid=info.uid,
            name="VCARD" if self.tag == "VADDRESSBOOK" else "VCALENDAR",
            component_name=info.component,
            time_range=(info.time_start, info.time_end),
        )

    def _lazy_item(self, head: ItemHead, texts: _Texts) -> radicale_item.Item:
        return LazyItem(
            texts,
            collection=self,
            href=head.href,
            last_modified=_http_date(head.updated_at),
            etag=head.etag,
            uid=head.uid,
            name="VCARD" if self.tag == "VADDRESSBOOK" else "VCALENDAR",
            component_name=head.component,
            time_range=(head.time_start, head.time_end),
        )

    def _audit_read(self, items: list[ItemInfo] | list[ItemHead]) -> None:
        ids = [i.appointment_id for i in items if i.appointment_id]
        if ids and self.info is not None and self.info.calendar_id:
            calendar_id = self.info.calendar_id
            self._storage._call(lambda s: provisioning.audit_reads(s, calendar_id, ids))

    @property
    def etag(self) -> str:
        info = self._current()
        return info.etag if info else '"root"'

    @property
    def tag(self) -> str:
        return self.info.tag if self.info else ""

    @property
    def last_modified(self) -> str:
        info = self._current()
        return _http_date(info.updated_at) if info else email.utils.formatdate(0, usegmt=True)

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        info = self._current()
        if info is None:
            raise ValueError("no sync on the root collection")
        try:
            token, hrefs = self._storage._call(lambda s: s.sync(info, old_token))
            return token, hrefs
        except SyncTokenInvalid as exc:
            raise ValueError(str(exc)) from exc

    def get_multi(self, hrefs: Iterable[str]) -> Iterable[tuple[str, radicale_item.Item | None]]:
        wanted = list(hrefs)
        if self.info is None:
            return [(h, None) for h in wanted]
        info = self.info
        found: dict[str, ItemInfo] = self._storage._call(lambda s: s.items_by_href(info, wanted))
        self._audit_read(list(found.values()))
        return [(h, self._item(found[h]) if h in found else None) for h in dict.fromkeys(wanted)]

    def get_all(self) -> Iterable[radicale_item.Item]:
        if self.info is None:
            return []
        info = self.info
        items: list[ItemInfo] = self._storage._call(lambda s: s.items(info))
        self._audit_read(items)
        return [self._item(i) for i in items]

    def get_filtered(self, filters: Iterable[ET.Element]) -> Iterable[tuple[radicale_item.Item, bool]]:
        if not self.tag or self.info is None:
            return []
        info = self.info
        tag, start, end, simple = radicale_filter.simplify_prefilters(filters, self.tag)
        found: list[ItemInfo] = self._storage._call(lambda s: s.items_in_range(info, tag, start, end))
        self._audit_read(found)
        out = []
        for i in found:
            if i.time_start >= end or i.time_end <= start:
                continue
            out.append((self._item(i), simple and (start <= i.time_start or i.time_end <= end)))
        return out

    def has_uid(self, uid: str) -> bool:
        if self.info is None:
            return False
        info = self.info
        return bool(self._storage._call(lambda s: s.has_uid(info, uid)))

    def upload(self, href: str, item: radicale_item.Item) -> tuple[radicale_item.Item, radicale_item.Item | None]:
        if not pathutils.is_safe_path_component(href):
            raise pathutils.UnsafePathError(href)
        assert self.info is not None
        info = self.info
        new = new_item(item, request_state.put_body())
        if_match, if_none_match = request_state.preconditions()
        stored, old = self._storage._call(
            lambda s: s.upload(info, href, new, if_match=if_match, if_none_match=if_none_match)
        )
        self._current()
        return self._item(stored), self._item(old) if old else None

    def delete(self, href: str | None = None) -> None:
        if self.info is None or not self._path:  # the root: everything goes
            self._storage._call(lambda s: s.delete_all())
            return
        info = self.info
        if href is None:
            self._storage._call(lambda s: s.delete_collection(info.path))
            return
        if_match = request_state.preconditions()[0]
        try:
            self._storage._call(lambda s: s.delete_item(info, href, if_match=if_match))
        except request_state.DavRefused as exc:
            if exc.error.status == 404:
                request_state.pop_error()
                raise storage.ComponentNotFoundError(href) from exc
            raise
        self._current()

    @overload
    def get_meta(self, key: None = None) -> Mapping[str, str]: ...

    @overload
    def get_meta(self, key: str) -> str | None: ...

    def get_meta(self, key: str | None = None) -> Mapping[str, str] | str | None:
        props = self.info.props if self.info else {}
        if key is None:
            return dict(props)
        return props.get(key)

    def set_meta(self, props: Mapping[str, str]) -> None:
        if self.info is None:  # the root: its properties live in a row of its own, made on demand
            self.info = self._storage._call(lambda s: s.ensure_collection(self._path))
        info = self.info
        assert info is not None
        self.info = self._storage._call(lambda s: s.set_props(info, dict(props)))
