"""Queue webhook events in the transaction of the change: the handlers of the appointment events.

``appointment.created`` for new appointments; ``appointment.cancelled`` for a cancelled or deleted
one; ``appointment.rescheduled`` when its times changed; else ``appointment.updated``. The active
subscriptions are read once per transaction (the unit of work's per-transaction cache).

Busy blocks (``meta.kind`` busy: a fitter's lunch or dentist, no customer) are no appointment events:
nothing is queued for them. One that comes to name a customer or a type becomes an appointment and is
announced from then on (its first event is ``appointment.updated``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from caldav_bridge.clock import utcnow
from caldav_bridge.events.model import (
    AppointmentCancelled,
    AppointmentDeleted,
    AppointmentEvent,
    AppointmentRescheduled,
    AppointmentsCreated,
)
from caldav_bridge.model.appointment import AppointmentKind
from caldav_bridge.model.timestamps import format_timestamp
from caldav_bridge.services.mapping import appointment_from_row
from caldav_bridge.store.tables import AppointmentRow
from caldav_bridge.store.uow import UnitOfWork
from caldav_bridge.webhooks.repository import WebhookRepository
from caldav_bridge.webhooks.tables import WebhookDeliveryRow, WebhookSubscriptionRow

__all__ = ["event_type", "on_appointment_changed", "on_appointments_created", "queue"]

_CACHE = "webhook_subscriptions"


def event_type(event: AppointmentEvent) -> str:
    """The webhook event type of a change."""
    if isinstance(event, AppointmentCancelled | AppointmentDeleted):
        return "appointment.cancelled"
    if isinstance(event, AppointmentRescheduled):
        return "appointment.rescheduled"
    return "appointment.updated"


def on_appointments_created(uow: UnitOfWork, event: AppointmentsCreated) -> None:
    if not _subscriptions(uow):
        return
    for row in event.appointments:
        if not _busy(row.meta_extra):
            queue(uow, row.as_row(), "appointment.created")


def on_appointment_changed(uow: UnitOfWork, event: AppointmentEvent) -> None:
    if not _subscriptions(uow):
        return
    row = uow.appointments.including_deleted(event.appointment_id)
    if row is not None and not _busy(row.meta_extra):
        queue(uow, row, event_type(event))


def _busy(meta_extra: dict[str, Any] | None) -> bool:
    return (meta_extra or {}).get("kind") == AppointmentKind.BUSY.value


def _subscriptions(uow: UnitOfWork) -> list[WebhookSubscriptionRow]:
    subscriptions: list[WebhookSubscriptionRow] | None = uow.cache.get(_CACHE)
    if subscriptions is None:  # read once per transaction
        subscriptions = uow.repo(WebhookRepository).active_subscriptions()
        uow.cache[_CACHE] = subscriptions
    return subscriptions


def queue(uow: UnitOfWork, row: AppointmentRow, event_type: str) -> int:
    """One delivery per active subscription to ``event_type``; returns how many were queued."""
    wanted = [s for s in _subscriptions(uow) if event_type in s.events.get("types", [])]
    if not wanted:
        return 0
    now: datetime = utcnow()
    appointment = appointment_from_row(row).model_dump(mode="json")
    webhooks = uow.repo(WebhookRepository)
    for subscription in wanted:
        event_id = str(uuid.uuid4())
        payload = {
            "id": event_id,
            "type": event_type,
            "created_at": format_timestamp(now),
            "data": {"appointment": appointment, "deleted": row.deleted_at is not None},
        }
        webhooks.add(
            WebhookDeliveryRow(
                id=event_id,
                subscription_id=subscription.id,
                event_type=event_type,
                appointment_id=row.id,
                payload=payload,
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return len(wanted)
