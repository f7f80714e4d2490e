"""Webhook subscriptions and deliveries as the API shows them."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from caldav_bridge.model.timestamps import UtcTimestamp
from caldav_bridge.webhooks.privacy import DEFAULT_PRIVACY, Privacy

__all__ = [
    "EVENT_TYPES",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryList",
    "EventType",
    "Subscription",
    "SubscriptionCreated",
    "SubscriptionDraft",
    "SubscriptionList",
]

EventType = Literal["appointment.created", "appointment.updated", "appointment.rescheduled", "appointment.cancelled"]
EVENT_TYPES: tuple[str, ...] = (
    "appointment.created",
    "appointment.updated",
    "appointment.rescheduled",
    "appointment.cancelled",
)


class SubscriptionDraft(BaseModel):
    """A new subscriber. Without ``secret`` one is generated; it is shown once, in the response."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[
        str, Field(min_length=8, max_length=2048, pattern=r"^https?://", examples=["https://example.com/hook"])
    ]
    events: Annotated[list[EventType], Field(min_length=1, max_length=4)] = Field(
        default_factory=lambda: list(EVENT_TYPES)  # type: ignore[arg-type]
    )
    description: Annotated[str | None, Field(max_length=255)] = None
    secret: Annotated[str | None, Field(min_length=16, max_length=128, pattern=r"^[\x21-\x7e]+$")] = None
    privacy: Privacy = Field(
        default=DEFAULT_PRIVACY,
        description="minimal: no patient names or notes in payloads (guest ids only); full: the whole appointment",
    )

    @field_validator("url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018  (raises on a bad port)
        except ValueError as exc:
            raise ValueError(f"not a URL: {exc}") from None
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("an absolute http(s) URL is required")
        if any(c.isspace() for c in value):
            raise ValueError("a URL has no white space")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise ValueError("a webhook URL carries no user name or password (use the signing secret)")
        return value


class Subscription(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    privacy: Privacy = DEFAULT_PRIVACY
    active: bool
    created_at: UtcTimestamp


class SubscriptionCreated(Subscription):
    secret: str | None = Field(
        description="The HMAC-SHA256 key; shown only in this response (null in a replay of it, Idempotency-Key)"
    )


class SubscriptionList(BaseModel):
    items: list[Subscription]


class DeliveryAttempt(BaseModel):
    at: UtcTimestamp
    status: int | None
    error: str | None
    duration_ms: int


class Delivery(BaseModel):
    id: str
    subscription_id: str
    event_type: str
    appointment_id: str | None
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: UtcTimestamp
    last_status: int | None
    last_error: str | None
    created_at: UtcTimestamp
    delivered_at: UtcTimestamp | None
    log: list[DeliveryAttempt]


class DeliveryList(BaseModel):
    items: list[Delivery]
