"""The DAV change log (sync tokens): one revision for a list of changed hrefs.

Used for every appointment change (``dav.collections.bump``) and for a batch of new appointments
(``services.creates``): the log rows go in with one many-row INSERT, past the ORM (a thousand ORM
objects per imported chunk or mirrored page cost a quarter of the mirror's time).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, update
from sqlalchemy.orm import Session

from caldav_bridge.store.bulk_insert import insert_many
from caldav_bridge.store.dav_tables import DavChangeRow, DavCollectionRow

__all__ = ["log_changes"]

_COLUMNS = ("collection_id", "revision", "href", "deleted", "at")


def log_changes(session: Session, collection_id: int, hrefs: Iterable[tuple[str, bool]], now: datetime) -> int:
    """Log ``hrefs`` (href, deleted) at the collection's next revision; returns that revision."""
    revision = session.scalar(
        update(DavCollectionRow)
        .where(DavCollectionRow.id == collection_id)
        .values(revision=DavCollectionRow.revision + 1, updated_at=now)
        .returning(DavCollectionRow.revision)
    )
    assert revision is not None
    table = cast(Table, cast(Any, DavChangeRow).__table__)
    insert_many(session, table, _COLUMNS, [(collection_id, revision, href, deleted, now) for href, deleted in hrefs])
    return int(revision)
