"""Reminders: queued by a job at the configured offsets before each self-booked appointment.

Only for customers who consented; never twice (the message's ``dedupe_key`` names the booking, the
offset and the appointment's start, and is unique: a moved appointment gets its reminder for the new
time); not for a booking made after its reminder's moment (the confirmation has just told the customer).
The reminder shows the time in the customer's zone (rendered at sending, like every message).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from caldav_bridge.clock import utcnow
from caldav_bridge.model.timestamps import format_timestamp
from caldav_bridge.selfbooking.outbox import Change, enqueue
from caldav_bridge.selfbooking.repository import SelfBookingRows
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["queue_reminders", "reminder_key"]


def reminder_key(booking_id: str, hours: int, start: datetime) -> str:
    return f"{booking_id}:reminder:{hours}h:{format_timestamp(start)}"


def queue_reminders(
    make_uow: Callable[[], UnitOfWork], offsets_hours: Sequence[int], *, now: datetime | None = None, limit: int = 500
) -> int:
    """Queue the reminders that are due now; returns how many were queued."""
    now = now or utcnow()
    queued = 0
    for hours in offsets_hours:
        offset = timedelta(hours=hours)
        with make_uow() as uow:
            repo = uow.repo(SelfBookingRows)
            for booking, appointment in repo.reminder_candidates(now, now + offset, limit):
                if booking.updated_at > appointment.date_start - offset:
                    continue  # booked or moved after the reminder's moment: the customer was just told
                key = reminder_key(booking.id, hours, appointment.date_start)
                if repo.has_message(key):
                    continue
                try:
                    with uow.savepoint():
                        enqueue(
                            repo,
                            booking,
                            "reminder",
                            Change.of(appointment),
                            now,
                            dedupe_key=key,
                            extra={"hours": hours},
                        )
                except IntegrityError:  # another worker queued it meanwhile
                    continue
                queued += 1
            uow.commit()
    return queued
