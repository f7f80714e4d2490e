"""What staff see of the message outbox: counts per state (and no-shows), the messages themselves
(kind, state, attempts, last error; never an address or a body), and a dead letter sent again."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from caldav_bridge.clock import utcnow
from caldav_bridge.errors import Conflict, NotFound
from caldav_bridge.model.timestamps import UtcTimestamp
from caldav_bridge.selfbooking import no_show
from caldav_bridge.selfbooking.repository import SelfBookingRows
from caldav_bridge.selfbooking.tables import CustomerMessageRow
from caldav_bridge.services.actor import Actor
from caldav_bridge.store.tables import AuditRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["MessageInfo", "MessageStatus", "list_messages", "retry", "status"]

State = Literal["pending", "sent", "dead"]


class MessageStatus(BaseModel):
    pending: int
    sent: int
    dead: int
    no_shows: int
    oldest_pending_at: UtcTimestamp | None


class MessageInfo(BaseModel):
    id: str
    appointment_id: str
    kind: str
    state: str
    attempts: int
    last_error: str | None
    created_at: UtcTimestamp
    next_attempt_at: UtcTimestamp
    sent_at: UtcTimestamp | None


def status(uow: UnitOfWork, actor: Actor) -> MessageStatus:
    actor.require("read")
    with uow:
        repo = uow.repo(SelfBookingRows)
        by_state = repo.messages_by_state()
        oldest = repo.oldest_pending_at()
    return MessageStatus(
        pending=int(by_state.get("pending", 0)),
        sent=int(by_state.get("sent", 0)),
        dead=int(by_state.get("dead", 0)),
        no_shows=no_show.count(uow),
        oldest_pending_at=oldest,
    )


def list_messages(
    uow: UnitOfWork, actor: Actor, *, state: State | None = None, limit: int = 100, before: datetime | None = None
) -> list[MessageInfo]:
    """The newest messages first (``before``: older than that)."""
    actor.require("write")
    with uow:
        rows = uow.repo(SelfBookingRows).messages(state=state, limit=limit, before=before)
        return [_info(m, a) for m, a in rows]


def retry(uow: UnitOfWork, actor: Actor, message_id: str) -> MessageInfo:
    """Send a dead letter again (after fixing what stopped it): back to pending, attempts reset."""
    actor.require("write")
    now = utcnow()
    with uow:
        repo = uow.repo(SelfBookingRows)
        row = repo.message(message_id)
        booking = repo.booking(row.booking_id) if row is not None else None
        if row is None or booking is None:
            raise NotFound("message", message_id)
        if row.state != "dead":
            raise Conflict(f"only a dead message is sent again; this one is {row.state}")
        row.state, row.attempts, row.next_attempt_at = "pending", 0, now
        uow.audit.add_all(
            [
                AuditRow(
                    at=now,
                    actor=actor.username,
                    channel=actor.channel,
                    action="message-retry",
                    appointment_id=booking.appointment_id,
                    request_id=actor.request_id,
                    detail=f"{row.kind} message {row.id}",
                )
            ]
        )
        uow.commit()
        return _info(row, booking.appointment_id)


def _info(row: CustomerMessageRow, appointment_id: str) -> MessageInfo:
    return MessageInfo(
        id=row.id,
        appointment_id=appointment_id,
        kind=row.kind,
        state=row.state,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
    )
