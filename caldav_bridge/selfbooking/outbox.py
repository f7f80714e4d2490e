"""The customer-message outbox: what a change of a self-booked appointment tells its customer.

:func:`sync_messages` compares a customer booking with its appointment and queues what the customer
has not been told yet: the confirmation once it is booked, a reschedule notice (the invitation's
SEQUENCE raised) when its times moved, a cancellation (``METHOD:CANCEL``) once cancelled or deleted.
It is state-based, so running it twice queues nothing twice; it runs in the transaction of the change
(the domain-event handler registered on the runtime), whichever channel changed the appointment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from caldav_bridge.model.appointment import AppointmentStatus
from caldav_bridge.model.timestamps import format_timestamp
from caldav_bridge.selfbooking.repository import SelfBookingRows
from caldav_bridge.selfbooking.tables import CustomerBookingRow, CustomerMessageRow
from caldav_bridge.store.tables import AppointmentRow

__all__ = ["TIME_KINDS", "Change", "enqueue", "sync_messages"]

S = AppointmentStatus
#: Messages that carry the appointment's times and an invitation (``reminder`` carries times only).
TIME_KINDS = ("confirmation", "rescheduled", "cancelled")


@dataclass(frozen=True)
class Change:
    """What an appointment is now, as far as its customer's messages go."""

    appointment_id: str
    status: str
    start: datetime
    end: datetime
    deleted: bool = False

    @classmethod
    def of(cls, row: AppointmentRow) -> Change:
        return cls(row.id, row.status, row.date_start, row.date_end, row.deleted_at is not None)


def enqueue(
    rows: SelfBookingRows,
    booking: CustomerBookingRow,
    kind: str,
    change: Change,
    now: datetime,
    *,
    dedupe_key: str | None = None,
    extra: dict[str, Any] | None = None,
) -> CustomerMessageRow:
    payload = {
        "start": format_timestamp(change.start),
        "end": format_timestamp(change.end),
        "sequence": booking.sequence,
        **(extra or {}),
    }
    row = CustomerMessageRow(
        booking_id=booking.id,
        kind=kind,
        dedupe_key=dedupe_key or f"{booking.id}:{kind}:{booking.sequence}",
        payload=payload,
        state="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    rows.add_message(row)
    return row


def sync_messages(rows: SelfBookingRows, change: Change, now: datetime) -> CustomerMessageRow | None:
    """Queue what the customer of the changed appointment (if self-booked) has not been told yet."""
    booking = rows.booking_of(change.appointment_id)
    if booking is None:
        return None
    if change.status == S.CANCELLED or change.deleted:
        return _ended(rows, booking, change, now)
    if booking.state == "confirming" and change.status in (S.BOOKED, S.RESCHEDULED):
        booking.state, booking.updated_at = "booked", now
        return enqueue(rows, booking, "confirmation", change, now)
    if booking.state != "booked":
        return None
    told = rows.last_told(booking.id, TIME_KINDS)
    times = (format_timestamp(change.start), format_timestamp(change.end))
    if told is not None and (told.payload.get("start"), told.payload.get("end")) == times:
        return None
    booking.sequence += 1
    booking.updated_at = now
    return enqueue(rows, booking, "rescheduled", change, now)


def _ended(
    rows: SelfBookingRows, booking: CustomerBookingRow, change: Change, now: datetime
) -> CustomerMessageRow | None:
    booking.active_link_id = None
    booking.updated_at = now
    if booking.state == "booked":
        booking.state = "cancelled"
        booking.sequence += 1
        return enqueue(rows, booking, "cancelled", change, now)
    if booking.state in ("held", "confirming"):
        booking.state = "expired"
    return None
