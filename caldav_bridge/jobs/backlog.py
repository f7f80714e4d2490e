"""What waits and what ran: outbox depth and age per consumer, and each background job's last good run.

Read by ``/metrics`` (feeds.metrics) at scrape time. The outboxes form a registry
(:data:`OUTBOX_CONSUMERS`): a consumer is a table, its state column, the states that mean "still to
deliver" and the column saying since when; a new outbox is one more entry. Nothing here returns an
id, an address or a payload: counts and ages only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from caldav_bridge.clock import utcnow
from caldav_bridge.selfbooking.tables import CustomerMessageRow
from caldav_bridge.store.job_tables import JobTickRow
from caldav_bridge.store.tables import OutboxRow
from caldav_bridge.store.uow import SessionRepository, UnitOfWork
from caldav_bridge.webhooks.tables import WebhookDeliveryRow

__all__ = [
    "OUTBOX_CONSUMERS",
    "Backlog",
    "BacklogQueries",
    "OutboxConsumer",
    "job_last_success",
    "outbox_backlogs",
]


@dataclass(frozen=True)
class OutboxConsumer:
    """An outbox: ``name`` (the label), its ``state`` column, the ``waiting`` states and ``since`` column."""

    name: str
    state: Any
    waiting: tuple[str, ...]
    since: Any


#: Every outbox of the service: Salesforce (changes to push), webhooks (events to POST), messages (customer
#: e-mails to send).
OUTBOX_CONSUMERS: tuple[OutboxConsumer, ...] = (
    OutboxConsumer("salesforce", OutboxRow.state, ("pending", "inflight"), OutboxRow.created_at),
    OutboxConsumer("webhooks", WebhookDeliveryRow.state, ("pending",), WebhookDeliveryRow.created_at),
    OutboxConsumer("messages", CustomerMessageRow.state, ("pending",), CustomerMessageRow.created_at),
)


@dataclass(frozen=True)
class Backlog:
    consumer: str
    depth: int
    #: Seconds since the oldest waiting entry was written; 0 when nothing waits.
    oldest_age_seconds: float


class BacklogQueries(SessionRepository):
    """``uow.repo(BacklogQueries)``: counts and ages over every outbox and the job ticks."""

    def waiting(self, consumer: OutboxConsumer) -> tuple[int, datetime | None]:
        """How many entries of ``consumer`` wait, and since when the oldest."""
        depth, oldest = self.session.execute(
            select(func.count(), func.min(consumer.since)).where(consumer.state.in_(consumer.waiting))
        ).one()
        return int(depth or 0), oldest

    def last_ok_ticks(self) -> dict[str, datetime]:
        rows = self.session.execute(
            select(JobTickRow.job_id, func.max(JobTickRow.finished_at))
            .where(JobTickRow.outcome == "ok")
            .group_by(JobTickRow.job_id)
        )
        return {job: finished for job, finished in rows if finished is not None}


def outbox_backlogs(
    uow: UnitOfWork, consumers: Sequence[OutboxConsumer] = OUTBOX_CONSUMERS, now: datetime | None = None
) -> list[Backlog]:
    """Each consumer's backlog, read in ``uow``'s open transaction."""
    now = now or utcnow()
    found = []
    queries = uow.repo(BacklogQueries)
    for consumer in consumers:
        depth, oldest = queries.waiting(consumer)
        age = max((now - _aware(oldest, now)).total_seconds(), 0.0) if oldest is not None else 0.0
        found.append(Backlog(consumer.name, depth, age))
    return found


def job_last_success(uow: UnitOfWork) -> dict[str, datetime]:
    """Each job's last tick that ended ``ok`` (by whichever process ran it), by job id."""
    return uow.repo(BacklogQueries).last_ok_ticks()


def _aware(value: datetime, like: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; compare like with like."""
    if value.tzinfo is None and like.tzinfo is not None:
        return value.replace(tzinfo=like.tzinfo)
    return value
