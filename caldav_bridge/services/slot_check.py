"""Whether a calendar is free for a new appointment: the check the follow-up endpoint makes before it
books (as the booking flows do), answered with the appointment that is in the way."""

from __future__ import annotations

from datetime import datetime

from caldav_bridge.errors import Conflict
from caldav_bridge.store.tables import AppointmentRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["SlotTaken", "ensure_free"]


class SlotTaken(Conflict):
    """The time overlaps a live appointment on that calendar; ``members`` name it (problem extension members)."""

    title = "Slot unavailable"

    def __init__(self, other: AppointmentRow) -> None:
        super().__init__(
            f"the slot overlaps appointment {other.id} "
            f"({other.date_start.isoformat()} to {other.date_end.isoformat()}); "
            "send allow_overlap true to book it anyway"
        )
        self.members = {
            "conflicting_appointment": {
                "id": other.id,
                "date_start": other.date_start.isoformat(),
                "date_end": other.date_end.isoformat(),
            }
        }


def ensure_free(uow: UnitOfWork, calendar_id: str, start: datetime, end: datetime) -> None:
    """Raise :class:`SlotTaken` when a live, not cancelled appointment on ``calendar_id`` overlaps [start, end).

    The calendar row is locked first (PostgreSQL; SQLite writers are serialised anyway), so two requests for
    one slot cannot both pass the check before either has written.
    """
    uow.calendars.lock(calendar_id)
    other = uow.appointments.first_overlapping(calendar_id, start, end)
    if other is not None:
        raise SlotTaken(other)
