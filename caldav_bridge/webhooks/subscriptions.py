"""Webhook subscriptions (admin scope) and their delivery log."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit, urlunsplit

from caldav_bridge.clock import utcnow
from caldav_bridge.errors import FieldError, NotFound, ValidationFailed
from caldav_bridge.services.actor import Actor
from caldav_bridge.store.uow import UnitOfWork
from caldav_bridge.webhooks.destinations import DestinationRefused, check_url
from caldav_bridge.webhooks.model import (
    Delivery,
    DeliveryAttempt,
    Subscription,
    SubscriptionCreated,
    SubscriptionDraft,
)
from caldav_bridge.webhooks.privacy import DEFAULT_PRIVACY
from caldav_bridge.webhooks.repository import WebhookRepository
from caldav_bridge.webhooks.tables import WebhookSubscriptionRow

__all__ = ["create", "delete", "deliveries", "get", "list_subscriptions"]


def _shown(url: str) -> str:
    """A URL without user name or password (subscriptions made before they were refused had them)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _view(row: WebhookSubscriptionRow) -> Subscription:
    return Subscription(
        id=row.id,
        url=_shown(row.url),
        events=list(row.events.get("types", [])),
        description=row.description,
        privacy=row.events.get("privacy", DEFAULT_PRIVACY),
        active=row.active,
        created_at=row.created_at,
    )


def create(
    uow: UnitOfWork, actor: Actor, draft: SubscriptionDraft, *, insecure_hosts: frozenset[str] = frozenset()
) -> SubscriptionCreated:
    """Subscribe ``draft.url``, which must be a public https destination (or one of ``insecure_hosts``).

    Raises:
        ValidationFailed: the URL is refused (see :mod:`caldav_bridge.webhooks.destinations`).
    """
    actor.require("admin")
    try:
        check_url(draft.url, insecure_hosts)
    except DestinationRefused as exc:
        raise ValidationFailed([FieldError("url", str(exc))]) from exc
    secret = draft.secret or "whsec_" + secrets.token_urlsafe(32)
    with uow:
        row = WebhookSubscriptionRow(
            url=draft.url,
            # The privacy level rides with the event types (one JSON column, no schema change).
            events={"types": sorted(set(draft.events)), "privacy": draft.privacy},
            secret=secret,
            description=draft.description,
            active=True,
            created_by=actor.username,
            created_at=utcnow(),
        )
        uow.repo(WebhookRepository).add(row)
        uow.commit()
        return SubscriptionCreated(**_view(row).model_dump(), secret=secret)


def list_subscriptions(uow: UnitOfWork, actor: Actor) -> list[Subscription]:
    actor.require("admin")
    with uow:
        return [_view(r) for r in uow.repo(WebhookRepository).subscriptions()]


def _row(uow: UnitOfWork, subscription_id: str) -> WebhookSubscriptionRow:
    row = uow.repo(WebhookRepository).subscription(subscription_id)
    if row is None:
        raise NotFound("webhook subscription", subscription_id)
    return row


def get(uow: UnitOfWork, actor: Actor, subscription_id: str) -> Subscription:
    actor.require("admin")
    with uow:
        return _view(_row(uow, subscription_id))


def delete(uow: UnitOfWork, actor: Actor, subscription_id: str) -> None:
    """Remove a subscriber with its pending deliveries and log."""
    actor.require("admin")
    with uow:
        uow.repo(WebhookRepository).delete_subscription(_row(uow, subscription_id))
        uow.commit()


def deliveries(uow: UnitOfWork, actor: Actor, subscription_id: str, *, limit: int = 100) -> list[Delivery]:
    """The newest deliveries of a subscriber, each with its attempts."""
    actor.require("admin")
    with uow:
        _row(uow, subscription_id)
        webhooks = uow.repo(WebhookRepository)
        rows = webhooks.newest_deliveries(subscription_id, limit)
        attempts: dict[str, list[DeliveryAttempt]] = {r.id: [] for r in rows}
        for a in webhooks.attempts(list(attempts)):
            attempts[a.delivery_id].append(
                DeliveryAttempt(at=a.at, status=a.status, error=a.error, duration_ms=a.duration_ms)
            )
        return [
            Delivery(
                id=r.id,
                subscription_id=r.subscription_id,
                event_type=r.event_type,
                appointment_id=r.appointment_id,
                state=r.state,
                attempts=r.attempts,
                next_attempt_at=r.next_attempt_at,
                last_status=r.last_status,
                last_error=r.last_error,
                created_at=r.created_at,
                delivered_at=r.delivered_at,
                log=attempts[r.id],
            )
            for r in rows
        ]
