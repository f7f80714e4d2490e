"""No-shows: staff mark an appointment the customer did not come to.

Kept on the appointment (``meta.no_show``, ``meta.no_show_at``; and on the customer booking when it was
self-booked), in its history and audit (reason ``no-show``), counted (:func:`count`), and pushed to
Salesforce with the appointment (the ``sf_no_show_field`` checkbox, when configured).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from caldav_bridge.clock import utcnow
from caldav_bridge.errors import FieldError, InvalidTransition, NotFound, ValidationFailed
from caldav_bridge.model.appointment import AppointmentStatus
from caldav_bridge.model.requests import AppointmentPatch
from caldav_bridge.model.timestamps import format_timestamp
from caldav_bridge.selfbooking.repository import SelfBookingRows
from caldav_bridge.services import appointments
from caldav_bridge.services.actor import Actor
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["NoShow", "count", "mark_no_show"]


@dataclass(frozen=True)
class NoShow:
    appointment_id: str
    marked_at: datetime
    self_booked: bool


def mark_no_show(uow: UnitOfWork, actor: Actor, appointment_id: str, *, now: datetime | None = None) -> NoShow:
    """Mark a started, not cancelled appointment as a no-show (idempotent)."""
    actor.require("write")
    now = now or utcnow()
    with uow:
        row = uow.appointments.get(appointment_id, for_update=True)
        if row is None or not actor.reaches(row.calendar_id):
            raise NotFound("appointment", appointment_id)
        if row.status == AppointmentStatus.CANCELLED:
            raise InvalidTransition(row.status, "mark a no-show for")
        if row.date_start > now:
            raise ValidationFailed([FieldError("id", "the appointment has not started yet")])
        marked = (row.meta_extra or {}).get("no_show_at")
        if not (row.meta_extra or {}).get("no_show"):
            marked = format_timestamp(now)
            patch = AppointmentPatch(meta={"no_show": True, "no_show_at": marked})
            appointments.update_in(uow, actor, row.id, patch, reason="no-show")
        booking = uow.repo(SelfBookingRows).booking_of(row.id)
        if booking is not None and booking.no_show_at is None:
            booking.no_show_at = now
        uow.commit()
        return NoShow(row.id, datetime.fromisoformat(str(marked).replace("Z", "+00:00")), booking is not None)


def count(uow: UnitOfWork) -> int:
    """No-shows kept on appointments (not deleted)."""
    with uow:
        return uow.appointments.count_no_shows()
