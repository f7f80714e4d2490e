"""Queue webhook events in the transaction of the change (called from the scheduling hook)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from caldav_bridge.clock import utcnow
from caldav_bridge.model.timestamps import format_timestamp
from caldav_bridge.services.mapping import appointment_from_row
from caldav_bridge.store.tables import AppointmentRow
from caldav_bridge.store.uow import UnitOfWork
from caldav_bridge.webhooks.tables import WebhookDeliveryRow, WebhookSubscriptionRow

__all__ = ["queue"]

_CACHE = "webhook_subscriptions"


def queue(uow: UnitOfWork, row: AppointmentRow, event_type: str) -> int:
    """One delivery per active subscription to ``event_type``; returns how many were queued."""
    session = uow.session
    subscriptions: list[WebhookSubscriptionRow] | None = session.info.get(_CACHE)
    if subscriptions is None:  # read once per transaction
        subscriptions = list(session.scalars(select(WebhookSubscriptionRow).where(WebhookSubscriptionRow.active)))
        session.info[_CACHE] = subscriptions
    wanted = [s for s in subscriptions if event_type in s.events.get("types", [])]
    if not wanted:
        return 0
    now = utcnow()
    appointment = appointment_from_row(row).model_dump(mode="json")
    for subscription in wanted:
        event_id = str(uuid.uuid4())
        payload = {
            "id": event_id,
            "type": event_type,
            "created_at": format_timestamp(now),
            "data": {"appointment": appointment, "deleted": row.deleted_at is not None},
        }
        session.add(
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
