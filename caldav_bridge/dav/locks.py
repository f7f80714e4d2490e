"""Radicale's storage lock on PostgreSQL: a tree lock plus one lock per collection.

Every transaction-scoped advisory lock here ends with its transaction. Two kinds:

- the **tree lock** (one key): shared by every DAV request that touches single collections,
  exclusive for what changes the tree itself (creating, replacing or deleting collections, a write
  whose collections cannot be named before it runs). An exclusive holder is alone, as with the
  single lock this replaced.
- a **collection lock** (a key per collection id): exclusive for a write in that collection (an
  item PUT, DELETE or PROPPATCH; a MOVE takes its two collections' locks in id order), shared for
  a read of it, taken when the read first looks the collection up (:class:`DavStore` calls
  :func:`lock_collection` through its ``on_first_read`` hook). Pruning a collection's change log
  takes it exclusively, so no sync REPORT sees the log shrink under it.

So writes to different calendars no longer wait for one another; two writes to one calendar, or a
write and a read of it, are serialised as before. A write classifies its request before locking
(:func:`plan_write`) and again once it holds the tree lock shared (no collection can be created or
deleted meanwhile); if the answer changed it starts over with the tree lock exclusive.

SQLite needs none of this: every transaction begins with ``BEGIN IMMEDIATE`` (one writer at a time).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from caldav_bridge.store.dav_tables import DavCollectionRow

__all__ = [
    "COLLECTION_SPACE",
    "TREE_KEY",
    "is_postgresql",
    "lock_collection",
    "lock_for_write",
    "lock_tree",
    "plan_write",
    "try_lock_collection",
]

#: Key of the tree lock (the key the single storage lock had, so a mixed-version pair of processes still excludes).
TREE_KEY = 0x43414C444156  # "CALDAV"
#: First half of a collection lock's two-part key (the second is the collection id).
COLLECTION_SPACE = 0x43414C44  # "CALD"

#: Requests that write inside existing collections (Radicale passes ``request=`` to ``acquire_lock``).
_ITEM_REQUESTS = frozenset({"PUT", "DELETE", "MOVE", "PROPPATCH"})


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_tree(session: Session, mode: str) -> None:
    """The tree lock, shared for ``"r"``, exclusive for ``"w"`` (PostgreSQL only)."""
    if not is_postgresql(session):
        return
    fn = "pg_advisory_xact_lock" if mode == "w" else "pg_advisory_xact_lock_shared"
    session.execute(text(f"SELECT {fn}(:key)"), {"key": TREE_KEY})


def lock_collection(session: Session, collection_id: int, mode: str) -> None:
    """The collection's lock, shared for ``"r"``, exclusive for ``"w"`` (PostgreSQL only)."""
    if not is_postgresql(session):
        return
    fn = "pg_advisory_xact_lock" if mode == "w" else "pg_advisory_xact_lock_shared"
    session.execute(text(f"SELECT {fn}(:space, :id)"), {"space": COLLECTION_SPACE, "id": collection_id})


def try_lock_collection(session: Session, collection_id: int) -> bool:
    """The collection's lock exclusively if nobody holds it now (True), without waiting; SQLite: True."""
    if not is_postgresql(session):
        return True
    got = session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:space, :id)"), {"space": COLLECTION_SPACE, "id": collection_id}
    )
    return bool(got)


def _parent(path: str) -> str:
    return path.rpartition("/")[0] if "/" in path else ""


def _ids(session: Session, paths: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(paths))
    stmt = select(DavCollectionRow.path, DavCollectionRow.id).where(DavCollectionRow.path.in_(wanted))
    return {path: int(id_) for path, id_ in session.execute(stmt)}


def plan_write(
    session: Session, request: str | None, path: str | None, to_path: str | None = None
) -> tuple[int, ...] | None:
    """The collections a write request works in (ids, ascending), or None when it needs the whole tree.

    ``path``/``to_path`` are Radicale's request paths. An item write (PUT, DELETE, MOVE of an
    item; PROPPATCH of a collection) names its collections; a PUT or DELETE of a whole collection,
    MKCOL/MKCALENDAR, a write into a collection that does not exist yet (it may be provisioned) and
    anything unnamed need the tree.
    """
    if request not in _ITEM_REQUESTS or path is None or (request == "MOVE" and to_path is None):
        return None
    source = path.strip("/")
    target = (to_path or "").strip("/")
    ids = _ids(
        session, [source, _parent(source), target, _parent(target)] if request == "MOVE" else [source, _parent(source)]
    )
    if request == "PROPPATCH":
        return (ids[source],) if source in ids else None
    if source in ids:  # the request names a collection: it is replaced or deleted with what is below it
        return None
    if request != "MOVE":
        parent = ids.get(_parent(source))
        return (parent,) if parent is not None else None
    if target in ids or _parent(source) not in ids or _parent(target) not in ids:
        return None
    return tuple(sorted({ids[_parent(source)], ids[_parent(target)]}))


def lock_for_write(
    session: Session, request: str | None, path: str | None, to_path: str | None = None
) -> tuple[int, ...] | None:
    """Take the locks a write request needs; returns the collections locked (None: the whole tree).

    PostgreSQL only (SQLite: returns None and takes nothing). The collections' locks are taken in
    ascending id order, so two writers never wait for each other in a cycle.
    """
    if not is_postgresql(session):
        return None
    planned = plan_write(session, request, path, to_path)
    if planned is not None:
        lock_tree(session, "r")
        for collection_id in planned:
            lock_collection(session, collection_id, "w")
        if plan_write(session, request, path, to_path) == planned:
            return planned
        # The tree changed between the look and the lock (a collection made or deleted): start over
        # holding nothing, then take the whole tree.
        session.rollback()
    lock_tree(session, "w")
    return None
