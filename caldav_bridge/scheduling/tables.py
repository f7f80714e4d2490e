"""Tables of scheduling: availability rules and exceptions, slot claims (holds), appointment links.

``slot_claims`` is what "the database enforces it" rests on: one row per appointment booked
through the scheduling flows, holding its *buffered* interval ``[start - before, end + after)``.
On PostgreSQL an exclusion constraint (btree_gist: ``calendar_id WITH =``, ``tstzrange WITH &&``,
added by migration 0004, not declared here because SQLite has no such thing) refuses two
overlapping claims on one calendar; on SQLite every writer holds the database's write lock from
``BEGIN IMMEDIATE``, so the check made inside the booking transaction cannot be raced.
A claim is deleted when its appointment is cancelled, deleted or its hold expires.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from caldav_bridge.store.base import Base

__all__ = ["AppointmentLinkRow", "AvailabilityExceptionRow", "AvailabilityRuleRow", "SlotClaimRow"]


class AvailabilityRuleRow(Base):
    """The availability rules of a calendar or a team (members without their own inherit the team's)."""

    __tablename__ = "availability_rules"

    calendar_id: Mapped[str] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"), primary_key=True)
    #: ``{"mon": [{"start": "09:00", "end": "17:00"}], ...}`` in the calendar's time zone.
    weekly_hours: Mapped[dict[str, Any]]
    #: Same shape as ``weekly_hours``: times inside working hours that are not bookable.
    breaks: Mapped[dict[str, Any]]
    #: Minutes per purpose (INITIAL, TECH_SETUP, FITTING, FOLLOW_UP).
    durations: Mapped[dict[str, Any]]
    buffer_before_minutes: Mapped[int]
    buffer_after_minutes: Mapped[int]
    min_notice_minutes: Mapped[int]
    horizon_days: Mapped[int]
    max_per_day: Mapped[int | None]
    slot_step_minutes: Mapped[int]
    updated_at: Mapped[datetime]


class AvailabilityExceptionRow(Base):
    """A local date with other hours than the week's (``hours`` empty: closed, a holiday)."""

    __tablename__ = "availability_exceptions"
    __table_args__ = (UniqueConstraint("calendar_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    calendar_id: Mapped[str] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"), index=True)
    #: ISO date ``YYYY-MM-DD`` in the calendar's time zone.
    day: Mapped[str] = mapped_column(String(10))
    #: ``{"hours": [{"start": "10:00", "end": "12:00"}]}``; an empty list closes the day.
    hours: Mapped[dict[str, Any]]
    reason: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]


class SlotClaimRow(Base):
    """The buffered interval an appointment booked through scheduling occupies on its calendar."""

    __tablename__ = "slot_claims"
    __table_args__ = (
        Index("ix_slot_claims_calendar_start", "calendar_id", "start_at"),
        Index("ix_slot_claims_hold_expires_at", "hold_expires_at"),
        Index("ix_slot_claims_team_created", "team_id", "created_at"),
    )

    appointment_id: Mapped[str] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True)
    calendar_id: Mapped[str] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    #: The team the slot was assigned through (round-robin reads it), if any.
    team_id: Mapped[str | None] = mapped_column(String(36))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    #: A hold (RESERVED) ends here unless confirmed; ``None`` for booked slots.
    hold_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class AppointmentLinkRow(Base):
    """A chain link: an INITIAL and its TECH_SETUP, a TECH_SETUP and its fitting, a follow-up's source."""

    __tablename__ = "appointment_links"
    __table_args__ = (UniqueConstraint("source_id", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[str] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    #: ``tech_setup``, ``fitting`` or ``follow_up``.
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
