"""Plain records the CalDAV store hands out (no ORM objects leave the store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from caldav_bridge.converters.ical_parse import ParsedText

__all__ = ["CollectionInfo", "ItemHead", "ItemInfo", "NewItem"]


@dataclass(frozen=True)
class CollectionInfo:
    id: int
    path: str
    tag: str
    props: dict[str, str]
    revision: int
    epoch: str
    calendar_id: str | None
    updated_at: datetime
    #: The oldest revision a sync token may name (the change log before it was pruned).
    log_start: int = 0

    @property
    def etag(self) -> str:
        return f'"{self.epoch}-{self.revision}"'

    @property
    def sync_token(self) -> str:
        return f"http://radicale.org/ns/sync/{self.epoch}-{self.revision}"


@dataclass(frozen=True)
class ItemInfo:
    href: str
    uid: str
    component: str
    text: str
    etag: str
    time_start: int
    time_end: int
    updated_at: datetime
    appointment_id: str | None = None


@dataclass(frozen=True)
class ItemHead:
    """An item without its text: what a PROPFIND or a sync answer needs."""

    href: str
    uid: str
    component: str
    etag: str
    time_start: int
    time_end: int
    updated_at: datetime
    appointment_id: str | None = None


@dataclass(frozen=True)
class NewItem:
    """An item as the client sent it, with what Radicale computed from it (never re-parsed)."""

    uid: str
    component: str
    text: str
    etag: str
    time_start: int
    time_end: int
    extra: dict[str, Any] = field(default_factory=dict)
    #: Whether the service wrote ``text`` whole from an appointment (no client's text merged in): stored as the
    #: item's ``service_etag``.
    service_written: bool = False
    #: The request body the text came from, as the pre-parse check parsed it: the store reads that parse instead
    #: of parsing ``text`` when icalendar reads both alike (None: parse ``text``).
    body: ParsedText | None = field(default=None, compare=False, repr=False)
