"""Tables of webhooks: subscriptions, deliveries (an outbox with retries) and the attempt log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from caldav_bridge.store.base import Base, new_id

__all__ = ["WebhookAttemptRow", "WebhookDeliveryRow", "WebhookSubscriptionRow"]


class WebhookSubscriptionRow(Base):
    """A subscriber: where to POST, which events, and the HMAC secret (kept to sign, shown once)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(2048))
    #: ``{"types": ["appointment.created", ...]}``.
    events: Mapped[dict[str, Any]]
    secret: Mapped[str] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class WebhookDeliveryRow(Base):
    """One event for one subscriber, written in the transaction of the change; delivered later."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(48))
    appointment_id: Mapped[str | None] = mapped_column(String(36))
    payload: Mapped[dict[str, Any]]
    #: ``pending``, ``delivered`` or ``failed`` (gave up after the last attempt).
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class WebhookAttemptRow(Base):
    """One HTTP attempt of a delivery: when, the status code or the error, how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int]
