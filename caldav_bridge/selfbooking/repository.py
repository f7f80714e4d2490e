"""Self-booking's own rows: booking links, customer bookings and customer messages (``uow.repo(SelfBookingRows)``).

In the unit of work's transaction; never commits. Secrets are looked up by their SHA-256 only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from caldav_bridge.model.appointment import AppointmentStatus
from caldav_bridge.selfbooking.tables import BookingLinkRow, CustomerBookingRow, CustomerMessageRow
from caldav_bridge.store.sf_tables import SfSyncStateRow
from caldav_bridge.store.tables import AppointmentRow
from caldav_bridge.store.uow import SessionRepository

__all__ = ["SelfBookingRows"]


class SelfBookingRows(SessionRepository):
    # ------------------------------------------------------------------ links

    def add_link(self, row: BookingLinkRow) -> None:
        """Insert ``row`` now (flushed: a taken token hash fails here, not at commit)."""
        self.session.add(row)
        self.session.flush()

    def link(self, link_id: str) -> BookingLinkRow | None:
        return self.session.get(BookingLinkRow, link_id)

    def link_by_hash(self, token_hash: str) -> BookingLinkRow | None:
        return self.session.scalar(select(BookingLinkRow).where(BookingLinkRow.token_hash == token_hash))

    def links(self, team_id: str | None = None) -> list[BookingLinkRow]:
        """Every link (or ``team_id``'s), oldest first."""
        stmt = select(BookingLinkRow).order_by(BookingLinkRow.created_at, BookingLinkRow.id)
        if team_id is not None:
            stmt = stmt.where(BookingLinkRow.team_id == team_id)
        return list(self.session.scalars(stmt))

    def bookings_per_link(self, link_id: str | None = None) -> dict[str, int]:
        """How many bookings (beyond a hold) each link made (``link_id``: that one's only)."""
        stmt = (
            select(CustomerBookingRow.link_id, func.count())
            .where(CustomerBookingRow.state != "held")
            .group_by(CustomerBookingRow.link_id)
        )
        if link_id is not None:
            stmt = stmt.where(CustomerBookingRow.link_id == link_id)
        return {link_id: int(n) for link_id, n in self.session.execute(stmt)}

    def personal_links_for_salesforce(self, after: tuple[datetime, str] | None, limit: int) -> list[BookingLinkRow]:
        """The first ``limit`` personal links of an Opportunity issued after ``after`` (created at, id), in order."""
        stmt = (
            select(BookingLinkRow)
            .where(BookingLinkRow.kind == "personal", BookingLinkRow.sf_opportunity_gid.is_not(None))
            .order_by(BookingLinkRow.created_at, BookingLinkRow.id)
            .limit(limit)
        )
        if after is not None:
            at, last_id = after
            stmt = stmt.where(
                or_(BookingLinkRow.created_at > at, and_(BookingLinkRow.created_at == at, BookingLinkRow.id > last_id))
            )
        return list(self.session.scalars(stmt))

    def sync_state(self, name: str) -> SfSyncStateRow | None:
        """The ``sf_sync_state`` row ``name`` (the links' Salesforce watermark)."""
        return self.session.get(SfSyncStateRow, name)

    def save_sync_state(self, row: SfSyncStateRow) -> None:
        self.session.add(row)

    # ------------------------------------------------------------------ bookings

    def add_booking(self, row: CustomerBookingRow) -> None:
        self.session.add(row)

    def booking(self, booking_id: str) -> CustomerBookingRow | None:
        return self.session.get(CustomerBookingRow, booking_id)

    def booking_by_hold(self, hold_hash: str) -> CustomerBookingRow | None:
        return self.session.scalar(select(CustomerBookingRow).where(CustomerBookingRow.hold_hash == hold_hash))

    def booking_by_manage(self, manage_hash: str) -> CustomerBookingRow | None:
        return self.session.scalar(select(CustomerBookingRow).where(CustomerBookingRow.manage_hash == manage_hash))

    def booking_of(self, appointment_id: str) -> CustomerBookingRow | None:
        return self.session.scalar(
            select(CustomerBookingRow).where(CustomerBookingRow.appointment_id == appointment_id)
        )

    def active_booking_through(self, link_id: str, *, exclude: str | None = None) -> str | None:
        """The id of a booking a personal link still stands for (``exclude`` aside)."""
        stmt = select(CustomerBookingRow.id).where(CustomerBookingRow.active_link_id == link_id)
        if exclude is not None:
            stmt = stmt.where(CustomerBookingRow.id != exclude)
        return self.session.scalar(stmt)

    # ------------------------------------------------------------------ messages

    def add_message(self, row: CustomerMessageRow) -> None:
        self.session.add(row)

    def last_told(self, booking_id: str, kinds: Sequence[str]) -> CustomerMessageRow | None:
        """The booking's latest message of one of ``kinds``."""
        stmt = (
            select(CustomerMessageRow)
            .where(CustomerMessageRow.booking_id == booking_id, CustomerMessageRow.kind.in_(list(kinds)))
            .order_by(CustomerMessageRow.created_at.desc(), CustomerMessageRow.id.desc())
            .limit(1)
        )
        return self.session.scalar(stmt)

    def has_message(self, dedupe_key: str) -> bool:
        return (
            self.session.scalar(select(CustomerMessageRow.id).where(CustomerMessageRow.dedupe_key == dedupe_key))
            is not None
        )

    def reminder_candidates(
        self, now: datetime, until: datetime, limit: int
    ) -> list[tuple[CustomerBookingRow, AppointmentRow]]:
        """Booked, consenting customers' live appointments starting in ``(now, until]``, soonest first."""
        stmt = (
            select(CustomerBookingRow, AppointmentRow)
            .join(AppointmentRow, AppointmentRow.id == CustomerBookingRow.appointment_id)
            .where(
                CustomerBookingRow.state == "booked",
                CustomerBookingRow.consent_reminders.is_(True),
                AppointmentRow.deleted_at.is_(None),
                AppointmentRow.status != AppointmentStatus.CANCELLED.value,
                AppointmentRow.date_start > now,
                AppointmentRow.date_start <= until,
            )
            .order_by(AppointmentRow.date_start)
            .limit(limit)
        )
        return [(booking, appointment) for booking, appointment in self.session.execute(stmt)]

    def due_messages(self, now: datetime, limit: int) -> list[CustomerMessageRow]:
        """Pending messages due at ``now``, the longest waiting first; on PostgreSQL locked, skipping locked ones."""
        stmt = (
            select(CustomerMessageRow)
            .where(CustomerMessageRow.state == "pending", CustomerMessageRow.next_attempt_at <= now)
            .order_by(CustomerMessageRow.next_attempt_at, CustomerMessageRow.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.session.scalars(stmt))

    def message(self, message_id: str) -> CustomerMessageRow | None:
        return self.session.get(CustomerMessageRow, message_id)

    def messages_by_state(self) -> dict[str, int]:
        stmt = select(CustomerMessageRow.state, func.count()).group_by(CustomerMessageRow.state)
        return {state: int(n) for state, n in self.session.execute(stmt)}

    def oldest_pending_at(self) -> datetime | None:
        stmt = select(func.min(CustomerMessageRow.created_at)).where(CustomerMessageRow.state == "pending")
        return self.session.scalar(stmt)

    def messages(
        self, *, state: str | None = None, limit: int = 100, before: datetime | None = None
    ) -> list[tuple[CustomerMessageRow, str]]:
        """The newest messages first (``before``: older than that), each with its booking's appointment id."""
        stmt = (
            select(CustomerMessageRow, CustomerBookingRow.appointment_id)
            .join(CustomerBookingRow, CustomerBookingRow.id == CustomerMessageRow.booking_id)
            .order_by(CustomerMessageRow.created_at.desc(), CustomerMessageRow.id.desc())
            .limit(limit)
        )
        if state is not None:
            stmt = stmt.where(CustomerMessageRow.state == state)
        if before is not None:
            stmt = stmt.where(CustomerMessageRow.created_at < before)
        return [(message, appointment_id) for message, appointment_id in self.session.execute(stmt)]
