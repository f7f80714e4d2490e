"""The self-booking jobs, for the scheduler and the CLI: deliver the message outbox, queue reminders.

Both are safe on several instances at once: deliveries are leased (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, SQLite's serialised writers), and a reminder's ``dedupe_key`` is unique.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from caldav_bridge.clock import utcnow
from caldav_bridge.selfbooking.delivery import DeliveryReport, MessageOptions, Transport, deliver_due, transport_for
from caldav_bridge.selfbooking.keys import service_key
from caldav_bridge.selfbooking.reminders import queue_reminders
from caldav_bridge.selfbooking.render import Sender
from caldav_bridge.store.uow import UnitOfWork
from config import Settings
from config.settings import reminder_offsets

__all__ = ["DELIVER_INTERVAL_SECONDS", "REMIND_INTERVAL_SECONDS", "deliver_messages", "message_options", "remind"]

DELIVER_INTERVAL_SECONDS = 15
REMIND_INTERVAL_SECONDS = 300


def message_options(settings: Settings) -> MessageOptions:
    sender = Sender(
        company=settings.booking_company_name,
        phone=settings.booking_company_phone,
        from_address=settings.smtp_from,
        public_url=settings.public_url,
        key=service_key(settings),
    )
    return MessageOptions(
        sender=sender,
        max_attempts=settings.message_max_attempts,
        backoff=timedelta(seconds=settings.message_backoff_seconds),
        backoff_max=timedelta(seconds=settings.message_backoff_max_seconds),
    )


def deliver_messages(
    settings: Settings,
    make_uow: Callable[[], UnitOfWork],
    *,
    transport: Transport | None = None,
    limit: int = 50,
    now: Callable[[], datetime] = utcnow,
) -> DeliveryReport:
    """One pass of the delivery job."""
    return deliver_due(make_uow, transport or transport_for(settings), message_options(settings), limit=limit, now=now)


def remind(settings: Settings, make_uow: Callable[[], UnitOfWork], *, now: datetime | None = None) -> int:
    """One pass of the reminder job: queue the reminders due now (delivery sends them)."""
    return queue_reminders(make_uow, reminder_offsets(settings.booking_reminder_offsets_hours), now=now)
