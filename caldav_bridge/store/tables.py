"""ORM tables (SQLAlchemy 2 ``Mapped[]``), kept apart from the canonical model.

Times are UTC. Ids are UUID strings so that they read the same on every database and in URLs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caldav_bridge.store.base import Base, new_id

#: ``audit_read_batches``' ``toast_tuple_target`` on PostgreSQL: the largest a heap tuple may be (8 KB pages).
AUDIT_BATCH_TOAST_TARGET = 8160

__all__ = [
    "ApiTokenRow",
    "AppointmentGuestRow",
    "AppointmentRow",
    "AuditReadBatchRow",
    "AuditRow",
    "AuditSpoolMarkRow",
    "Base",
    "CalendarRow",
    "IdempotencyRow",
    "OutboxRow",
    "PersonRow",
    "StatusHistoryRow",
    "UserRow",
    "new_id",
]


class UserRow(Base):
    """A person who signs in: fitter, consultant, tech_setup, dispatcher, admin or service."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ApiTokenRow(Base):
    """A bearer API token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    user: Mapped[UserRow] = relationship(lazy="joined")


class CalendarRow(Base):
    """A calendar: a fitter's, a consultant's, a tech-setup member's, or a team's."""

    __tablename__ = "calendars"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(24))
    timezone: Mapped[str] = mapped_column(String(64))
    owner_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    team_id: Mapped[str | None] = mapped_column(ForeignKey("calendars.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PersonRow(Base):
    """A customer who attends appointments as a guest (names and time zone only, plus kept extras)."""

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AppointmentRow(Base):
    """One appointment. ``version`` counts changes and backs the ETag and optimistic locking."""

    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_calendar_start_end", "calendar_id", "date_start", "date_end"),
        Index("ix_appointments_start_id", "date_start", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    calendar_id: Mapped[str] = mapped_column(ForeignKey("calendars.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    date_start: Mapped[datetime]
    date_end: Mapped[datetime]
    sf_appointment_gid: Mapped[str | None] = mapped_column(String(64), index=True)
    sf_opportunity_gid: Mapped[str | None] = mapped_column(String(64), index=True)
    sf_customer_gid: Mapped[str | None] = mapped_column(String(64), index=True)
    meta_extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)
    deleted_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: iCalendar SEQUENCE: grows with every change of the appointment's times (RFC 5545 §3.8.7.4).
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The appointment's canonical JSON after its calendar, as the database encodes it for a read, written with every
    #: change (``store/encoded_copies.py``); a read trusts it only at this ``version`` and encoding ``format``.
    encoded_rest: Mapped[str | None] = mapped_column(Text, deferred=True)
    encoded_version: Mapped[int | None] = mapped_column(Integer, deferred=True)
    encoded_format: Mapped[int | None] = mapped_column(Integer, deferred=True)

    calendar: Mapped[CalendarRow] = relationship(lazy="joined", innerjoin=True)
    guests: Mapped[list[AppointmentGuestRow]] = relationship(
        back_populates="appointment",
        order_by="AppointmentGuestRow.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    __mapper_args__ = {"version_id_col": version}


class AppointmentGuestRow(Base):
    """A guest of an appointment; ``extra`` keeps the guest keys the model does not name."""

    __tablename__ = "appointment_guests"

    appointment_id: Mapped[str] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    timezone: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)

    appointment: Mapped[AppointmentRow] = relationship(back_populates="guests")


class StatusHistoryRow(Base):
    """A change of status or time: old → new, when, by whom, through which channel. For a change of one
    occurrence of a series: ``recurrence_id`` (its original start), its old → new status and start, and
    ``changed`` (the occurrence's fields it changed, space-separated)."""

    __tablename__ = "status_history"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    appointment_id: Mapped[str] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    old_status: Mapped[str | None] = mapped_column(String(16))
    new_status: Mapped[str] = mapped_column(String(16))
    old_start: Mapped[datetime | None]
    new_start: Mapped[datetime | None]
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(1000))
    recurrence_id: Mapped[datetime | None]
    changed: Mapped[str | None] = mapped_column(String(200))


class OutboxRow(Base):
    """A change Salesforce must receive, written in the same transaction as the change."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_available", "state", "available_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    appointment_id: Mapped[str] = mapped_column(String(36), index=True)
    operation: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    available_at: Mapped[datetime]


class AuditRow(Base):
    """Who read or changed which appointment, when, and through which channel. Read per appointment, oldest first
    (its one index besides the key); no index on the time alone, which no query uses and every row paid for
    (migration 0015)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_appointment_at", "appointment_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    appointment_id: Mapped[str | None] = mapped_column(String(36))
    calendar_id: Mapped[str | None] = mapped_column(String(36))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(1000))


class AuditReadBatchRow(Base):
    """One audited read, kept as one row: the record of that read (``store/read_audit.py``), never folded.

    The columns one read shares, and its ``[[appointment_id, calendar_id], ...]`` as JSON text. Written where a
    read is not staged in a spool file: PostgreSQL and an in-memory SQLite (an SQLite file database's reads go
    through its spool files into ``audit_log``; those staged here before migration 0020 stay here). A read of 50
    appointments is one row, where ``audit_log`` took 50 rows and 50 entries of its ``(appointment_id, at)`` index
    (migration 0021: on PostgreSQL those rows, folded in bulk, were ~0.7 ms of the database's CPU a list of 50).
    """

    __tablename__ = "audit_read_batches"
    #: PostgreSQL: a row stays whole in its page up to 8 KB, as it came (``toast_tuple_target``; migration 0019).
    #: With the default (2 KB) the pairs of a list of 50 (4 KB) were compressed and, still over 2 KB, moved to the
    #: TOAST table: two more heap rows and index entries each read wrote. Larger rows are still compressed and moved.
    #: And the appointments' ids, GIN-indexed: one appointment's reads found without reading the others' (0021).
    #: (SQLite: a plain index of a column that stays NULL there; one schema.)
    __table_args__ = (
        Index("ix_audit_read_batches_appointment_ids", "appointment_ids", postgresql_using="gin"),
        {"postgresql_with": {"toast_tuple_target": AUDIT_BATCH_TOAST_TARGET}},
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(1000))
    #: ``[[appointment_id, calendar_id], ...]`` (JSON text).
    pairs: Mapped[str] = mapped_column(Text)
    #: How many pairs: how many appointments the read showed.
    reads: Mapped[int] = mapped_column(Integer)
    #: PostgreSQL: the pairs' appointment ids, in their order, for the GIN index; NULL on SQLite (no GIN there: an
    #: in-memory database's reads are few, and scanned).
    appointment_ids: Mapped[list[str] | None] = mapped_column(ARRAY(String(36)).with_variant(JSON(), "sqlite"))


class AuditSpoolMarkRow(Base):
    """SQLite: how far a reads' spool file has been folded into ``audit_log`` (``store/read_spool.py``): moved in
    the transaction that inserts the rows, so a crash never folds a read twice or loses one."""

    __tablename__ = "audit_spool_marks"

    #: The file's name in the spool directory (``reads-<ns>-<pid>-<hex>.jsonl``).
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    #: The bytes folded: the next fold reads from here.
    offset: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    #: When a fold last moved it (the file is deleted no sooner than ``read_spool.KEEP_SECONDS`` after).
    folded_at: Mapped[datetime]


class ExternalRefRow(Base):
    """Which appointment a record of another system (Blueprint, Calendly, ...) was imported as."""

    __tablename__ = "external_refs"
    __table_args__ = (UniqueConstraint("format", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    format: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(255))
    appointment_id: Mapped[str] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FeedTokenRow(Base):
    """A subscription token of a calendar's iCal feed: one per consumer, stored as SHA-256."""

    __tablename__ = "feed_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    calendar_id: Mapped[str] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: ``busy``, ``minimal`` or ``full``.
    privacy: Mapped[str] = mapped_column(String(16), default="minimal")
    #: Minutes before start for a VALARM reminder, or none.
    alarm_minutes: Mapped[int | None]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class FeedFetchRow(Base):
    """One fetch of a feed or calendar page: token, calendar, user agent, client address, status."""

    __tablename__ = "feed_fetches"
    __table_args__ = (Index("ix_feed_fetches_token_at", "token_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    token_id: Mapped[str | None] = mapped_column(String(36))
    calendar_id: Mapped[str | None] = mapped_column(String(36), index=True)
    user_agent: Mapped[str | None] = mapped_column(String(255))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[int]


class IdempotencyRow(Base):
    """A POST carrying an ``Idempotency-Key``: claimed while it runs, then its first answer, replayed on repeats.

    ``state``: ``running`` (claimed by ``holder``), ``applied`` (the request's work committed, its answer not yet
    recorded), ``done`` (``status_code``, ``response_headers`` and ``response_body`` hold the first answer).
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("principal", "key"),
        Index("ix_idempotency_keys_principal_created_at", "principal", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    principal: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16))
    holder: Mapped[str] = mapped_column(String(36))
    status_code: Mapped[int | None]
    response_headers: Mapped[dict[str, Any] | None]
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime]


# The tables of the CalDAV store, the Salesforce sync, scheduling (availability rules, slot claims,
# links), webhooks, self-booking and the background jobs' tick claims share this metadata (Alembic and
# the schema test compare all of it).
from caldav_bridge.scheduling import tables as _scheduling_tables  # noqa: E402,F401
from caldav_bridge.selfbooking import tables as _selfbooking_tables  # noqa: E402,F401
from caldav_bridge.store import auth_clock as _auth_clock  # noqa: E402,F401
from caldav_bridge.store import dav_tables as _dav_tables  # noqa: E402,F401
from caldav_bridge.store import job_tables as _job_tables  # noqa: E402,F401
from caldav_bridge.store import planner_stats as _planner_stats  # noqa: E402,F401
from caldav_bridge.store import sf_tables as _sf_tables  # noqa: E402,F401
from caldav_bridge.webhooks import tables as _webhook_tables  # noqa: E402,F401
