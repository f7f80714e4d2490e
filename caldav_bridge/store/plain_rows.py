"""New appointments' values as plain data: what the create path inserts and the events carry.

No ORM instrumentation (cheap to build at import volumes); :meth:`PlainRow.as_row` types one as the
:class:`AppointmentRow` it stands for, for the helpers that read rows (mapping, rendering).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, cast

from caldav_bridge.store.tables import AppointmentRow

__all__ = ["CalendarLike", "PlainGuest", "PlainRow"]


class CalendarLike(Protocol):
    """What a new appointment needs of its calendar: the canonical JSON's name, the CalDAV item's zone."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def timezone(self) -> str: ...


@dataclass
class PlainGuest:
    """The attributes of an :class:`AppointmentGuestRow` (no ORM instrumentation: cheap to build)."""

    position: int
    person_id: str | None
    first_name: str | None
    last_name: str | None
    timezone: str | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PlainRow:
    """A new appointment's values: the attributes of an :class:`AppointmentRow` the renderer and the
    appointment mapping read (``services.mapping.appointment_from_row`` takes it as a row)."""

    id: str
    calendar_id: str
    calendar: CalendarLike
    name: str
    description: str | None
    type: str
    status: str
    date_start: datetime
    date_end: datetime
    created_at: datetime
    updated_at: datetime
    sequence: int = 0
    deleted_at: datetime | None = None
    version: int = 1
    meta_extra: dict[str, Any] = field(default_factory=dict)
    sf_appointment_gid: str | None = None
    sf_opportunity_gid: str | None = None
    sf_customer_gid: str | None = None
    guests: list[PlainGuest] = field(default_factory=list)

    def as_row(self) -> AppointmentRow:
        """This, typed as the ORM row it stands for (for the helpers that take one)."""
        return cast(AppointmentRow, self)
