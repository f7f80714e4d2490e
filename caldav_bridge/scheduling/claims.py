"""Slot claims and appointment links, the scheduling's own rows: ``uow.repo(SlotClaims)``.

A claim holds an appointment's slot (with its buffers) in one calendar; PostgreSQL's exclusion
constraint refuses two overlapping claims, which reaches the caller as :class:`ClaimTaken`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from caldav_bridge.scheduling.tables import AppointmentLinkRow, SlotClaimRow
from caldav_bridge.store.uow import SessionRepository

__all__ = ["ClaimTaken", "SlotClaims"]


class ClaimTaken(Exception):
    """The database refused a claim: a concurrent one holds (part of) the slot."""


class SlotClaims(SessionRepository):
    """Claims and links in the unit of work's transaction; never commits."""

    def of(self, appointment_id: str) -> SlotClaimRow | None:
        return self.session.get(SlotClaimRow, appointment_id)

    def overlapping(
        self, calendar_id: str, start: datetime, end: datetime, *, exclude: str | None = None
    ) -> list[SlotClaimRow]:
        stmt = select(SlotClaimRow).where(
            SlotClaimRow.calendar_id == calendar_id,
            SlotClaimRow.start_at < end,
            SlotClaimRow.end_at > start,
        )
        if exclude:
            stmt = stmt.where(SlotClaimRow.appointment_id != exclude)
        return list(self.session.scalars(stmt))

    def add(self, claim: SlotClaimRow) -> None:
        """Insert ``claim`` now (flushed), or raise :class:`ClaimTaken`."""
        self.session.add(claim)
        self._flush()

    def move(self, claim: SlotClaimRow, calendar_id: str) -> None:
        """Move ``claim`` to another calendar (in a savepoint), or raise :class:`ClaimTaken`."""
        try:
            with self.session.begin_nested():
                claim.calendar_id = calendar_id
                self.session.flush()
        except IntegrityError as exc:
            raise ClaimTaken(str(exc)) from exc

    def resize(self, claim: SlotClaimRow, start: datetime, end: datetime) -> None:
        """Give ``claim`` new times (flushed), or raise :class:`ClaimTaken`."""
        claim.start_at, claim.end_at = start, end
        self._flush()

    def remove(self, claim: SlotClaimRow) -> None:
        self.session.delete(claim)

    def expired(
        self, now: datetime, *, calendar_ids: Sequence[str] | None = None, limit: int = 500
    ) -> list[SlotClaimRow]:
        """Holds expired at ``now``, the oldest first; on PostgreSQL locked, skipping those another worker holds."""
        stmt = select(SlotClaimRow).where(
            SlotClaimRow.hold_expires_at.is_not(None), SlotClaimRow.hold_expires_at <= now
        )
        if calendar_ids is not None:
            stmt = stmt.where(SlotClaimRow.calendar_id.in_(list(calendar_ids)))
        stmt = stmt.order_by(SlotClaimRow.hold_expires_at).limit(limit)
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.session.scalars(stmt))

    def add_link(self, link: AppointmentLinkRow) -> None:
        self.session.add(link)

    def links_from(self, source_id: str, kind: str | None = None) -> list[AppointmentLinkRow]:
        stmt = select(AppointmentLinkRow).where(AppointmentLinkRow.source_id == source_id)
        if kind:
            stmt = stmt.where(AppointmentLinkRow.kind == kind)
        return list(self.session.scalars(stmt.order_by(AppointmentLinkRow.id)))

    def links_to(self, target_id: str) -> list[AppointmentLinkRow]:
        stmt = select(AppointmentLinkRow).where(AppointmentLinkRow.target_id == target_id)
        return list(self.session.scalars(stmt.order_by(AppointmentLinkRow.id)))

    def _flush(self) -> None:
        try:
            self.session.flush()
        except IntegrityError as exc:  # PostgreSQL's exclusion constraint: a concurrent claim won
            raise ClaimTaken(str(exc)) from exc
