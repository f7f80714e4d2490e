"""The domain-event handler of self-booking: a self-booked appointment's change queues its customer's message
in the change's own transaction, whichever channel made it (the page, the staff API, CalDAV, the mirror)."""

from __future__ import annotations

from typing import Any

from caldav_bridge.clock import utcnow
from caldav_bridge.events.model import AppointmentDeleted, AppointmentEvent
from caldav_bridge.selfbooking.outbox import Change, sync_messages
from caldav_bridge.selfbooking.repository import SelfBookingRows

__all__ = ["on_appointment_changed"]


def on_appointment_changed(uow: Any, event: AppointmentEvent) -> None:
    change = Change(
        event.appointment_id,
        event.new_status,
        event.new_start,
        event.new_end,
        deleted=isinstance(event, AppointmentDeleted),
    )
    sync_messages(uow.repo(SelfBookingRows), change, utcnow())
