"""Tables of self-booking: booking links, customer bookings, and the customer-message outbox.

- ``booking_links``: a capability for customers (only the SHA-256 of its secret is stored), for a team
  and a purpose, or personal (one lead or opportunity, its Salesforce ids).
- ``customer_bookings``: one booking a customer made through a link: the contact details messages need
  (kept here, not on the appointment that travels to CalDAV, feeds and Salesforce), the manage secret's
  hash, the invitation's UID and SEQUENCE. ``active_link_id`` is the link's id while a *personal* link's
  booking is live (unique: a personal link holds at most one active booking), else NULL.
- ``customer_messages``: the outbox of emails, written in the transaction of the change it reports;
  ``dedupe_key`` is unique, so a reminder is never queued twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from caldav_bridge.store.base import Base, new_id

__all__ = ["BookingLinkRow", "CustomerBookingRow", "CustomerMessageRow"]


class BookingLinkRow(Base):
    __tablename__ = "booking_links"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: ``team`` or ``personal``.
    kind: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[str] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    sf_opportunity_gid: Mapped[str | None] = mapped_column(String(64), index=True)
    sf_customer_gid: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class CustomerBookingRow(Base):
    __tablename__ = "customer_bookings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    link_id: Mapped[str] = mapped_column(ForeignKey("booking_links.id", ondelete="CASCADE"), index=True)
    appointment_id: Mapped[str] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), unique=True)
    #: ``held`` (slot held, details not given yet), ``booked``, ``cancelled``.
    state: Mapped[str] = mapped_column(String(16))
    hold_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    manage_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    active_link_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    consent_reminders: Mapped[bool] = mapped_column(default=False)
    timezone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    #: The iTIP invitation: a stable UID and its SEQUENCE (raised by every reschedule and the cancel).
    ical_uid: Mapped[str] = mapped_column(String(120))
    sequence: Mapped[int] = mapped_column(default=0)
    no_show_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CustomerMessageRow(Base):
    __tablename__ = "customer_messages"
    __table_args__ = (Index("ix_customer_messages_state_next", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    booking_id: Mapped[str] = mapped_column(ForeignKey("customer_bookings.id", ondelete="CASCADE"), index=True)
    #: ``confirmation``, ``rescheduled``, ``cancelled`` or ``reminder``.
    kind: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    #: What the message reports, frozen when queued: ``{"start", "end", "sequence"}`` (no body, no address).
    payload: Mapped[dict[str, Any]]
    #: ``pending``, ``sent`` or ``dead`` (gave up after the last attempt, or nowhere to send).
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
