"""The webhooks' queries: subscriptions, the delivery outbox and its attempts (``uow.repo(WebhookRepository)``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from caldav_bridge.store.uow import SessionRepository
from caldav_bridge.webhooks.tables import WebhookAttemptRow, WebhookDeliveryRow, WebhookSubscriptionRow

__all__ = ["WebhookRepository"]


class WebhookRepository(SessionRepository):
    """Webhook rows in the unit of work's transaction; never commits."""

    # ------------------------------------------------------------ subscriptions

    def add(self, row: WebhookSubscriptionRow | WebhookDeliveryRow | WebhookAttemptRow) -> None:
        self.session.add(row)

    def subscription(self, subscription_id: str) -> WebhookSubscriptionRow | None:
        return self.session.get(WebhookSubscriptionRow, subscription_id)

    def subscriptions(self) -> list[WebhookSubscriptionRow]:
        """Every subscription, oldest first."""
        stmt = select(WebhookSubscriptionRow).order_by(WebhookSubscriptionRow.created_at, WebhookSubscriptionRow.id)
        return list(self.session.scalars(stmt))

    def active_subscriptions(self) -> list[WebhookSubscriptionRow]:
        return list(self.session.scalars(select(WebhookSubscriptionRow).where(WebhookSubscriptionRow.active)))

    def delete_subscription(self, row: WebhookSubscriptionRow) -> None:
        """Remove a subscription; its deliveries and their attempts go with it (their foreign keys cascade)."""
        self.session.delete(row)

    # ------------------------------------------------------------ deliveries

    def delivery(self, delivery_id: str) -> WebhookDeliveryRow | None:
        return self.session.get(WebhookDeliveryRow, delivery_id)

    def newest_deliveries(self, subscription_id: str, limit: int) -> list[WebhookDeliveryRow]:
        stmt = (
            select(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.subscription_id == subscription_id)
            .order_by(WebhookDeliveryRow.created_at.desc(), WebhookDeliveryRow.id)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def attempts(self, delivery_ids: Sequence[str]) -> list[WebhookAttemptRow]:
        """The attempts of ``delivery_ids``, in the order they were made."""
        if not delivery_ids:
            return []
        stmt = (
            select(WebhookAttemptRow)
            .where(WebhookAttemptRow.delivery_id.in_(list(delivery_ids)))
            .order_by(WebhookAttemptRow.id)
        )
        return list(self.session.scalars(stmt))

    def lease_due(self, moment: datetime, limit: int) -> list[tuple[WebhookDeliveryRow, WebhookSubscriptionRow]]:
        """Pending deliveries due at ``moment`` with their subscriptions, the oldest first.

        On PostgreSQL the rows are locked and rows another worker holds are skipped.
        """
        stmt = (
            select(WebhookDeliveryRow, WebhookSubscriptionRow)
            .join(WebhookSubscriptionRow, WebhookSubscriptionRow.id == WebhookDeliveryRow.subscription_id)
            .where(WebhookDeliveryRow.state == "pending", WebhookDeliveryRow.next_attempt_at <= moment)
            .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=WebhookDeliveryRow)
        return [(delivery, subscription) for delivery, subscription in self.session.execute(stmt)]
