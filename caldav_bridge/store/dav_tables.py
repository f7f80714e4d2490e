"""Tables of the CalDAV store: collections, items, the RFC 6578 change log.

A DAV collection is a path (``fitter.denver/appointments``) with Radicale's flat property dict.
An appointment calendar links to a :class:`~caldav_bridge.store.tables.CalendarRow`; its VEVENT
items link to appointments. Every other item (VTODO, VJOURNAL, calendars users make themselves,
address books) is stored as plain text. ``time_start``/``time_end`` are Radicale's
``Item.time_range`` (POSIX seconds; open ranges use Radicale's TIMESTAMP_MIN/MAX sentinels);
``long_span`` marks items longer than :data:`SHORT_SPAN` (recurring and open-ended ones too), so a
time-range query reads only a bounded slice of the short ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from caldav_bridge.store.base import Base

__all__ = ["SHORT_SPAN", "DavChangeRow", "DavCollectionRow", "DavItemRow"]

#: Items spanning at most this many seconds are "short": found by a bounded range on time_start.
SHORT_SPAN = 7 * 24 * 3600


class DavCollectionRow(Base):
    """A DAV collection (principal folder, calendar, address book or plain folder)."""

    __tablename__ = "dav_collections"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    parent_path: Mapped[str] = mapped_column(String(1024), index=True)
    tag: Mapped[str] = mapped_column(String(16), default="")
    props: Mapped[dict[str, Any]] = mapped_column(default=dict)
    calendar_id: Mapped[str | None] = mapped_column(
        ForeignKey("calendars.id", ondelete="SET NULL"), unique=True, nullable=True
    )
    #: Random per creation: tokens of a deleted and re-created collection are invalid.
    epoch: Mapped[str] = mapped_column(String(16))
    #: Grows with every change of an item or a property (the sync token and collection ETag).
    revision: Mapped[int] = mapped_column(Integer, default=0)
    #: The oldest revision a sync token may name: the change log holds every change after it (the
    #: changes up to it were pruned after ``[storage] max_sync_token_age``).
    log_start: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DavItemRow(Base):
    """One calendar object or vCard, as the client wrote it (or as rendered from an appointment)."""

    __tablename__ = "dav_items"
    __table_args__ = (
        UniqueConstraint("collection_id", "href"),
        Index("ix_dav_items_collection_uid", "collection_id", "uid"),
        Index("ix_dav_items_collection_span_start", "collection_id", "long_span", "time_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("dav_collections.id", ondelete="CASCADE"))
    href: Mapped[str] = mapped_column(String(512))
    uid: Mapped[str] = mapped_column(String(512))
    component: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    etag: Mapped[str] = mapped_column(String(80))
    time_start: Mapped[int] = mapped_column(BigInteger)
    time_end: Mapped[int] = mapped_column(BigInteger)
    long_span: Mapped[bool] = mapped_column(default=False)
    appointment_id: Mapped[str | None] = mapped_column(String(36), index=True)
    updated_at: Mapped[datetime]
    #: The ETag of the text when the service last wrote it whole from its appointment (no client's text merged
    #: in); while ``etag`` still equals it, no client has written the item since, and the next rendering needs
    #: nothing of the stored text (``dav.items.item_for``). NULL: a client wrote it, or the service merged into it.
    service_etag: Mapped[str | None] = mapped_column(String(80), default=None)


class DavChangeRow(Base):
    """A change of one href at one revision of its collection; ``deleted`` rows are tombstones."""

    __tablename__ = "dav_changes"
    __table_args__ = (
        Index("ix_dav_changes_collection_revision", "collection_id", "revision"),
        Index("ix_dav_changes_at", "at"),  # pruning finds the old changes of every collection
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("dav_collections.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    href: Mapped[str] = mapped_column(String(512))
    deleted: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime]
