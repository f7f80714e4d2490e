"""Tables of the Salesforce sync: record links, mirrored users, watermarks, job runs and job locks.

They share :class:`caldav_bridge.store.base.Base`'s metadata, so Alembic and the schema test see them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from caldav_bridge.store.base import Base

__all__ = ["SfJobRunRow", "SfLinkRow", "SfLockRow", "SfSyncStateRow", "SfUserRow"]


class SfLinkRow(Base):
    """Which Salesforce record an appointment is, and what the sync last saw of it.

    ``external_id`` is the URL-safe id written to the record's external-id field (the appointment
    id); ``system_modstamp`` is the record's SystemModstamp as last mirrored; ``pushed_hash`` is the
    hash of the fields last written, so the write coming back through the mirror is recognised.
    """

    __tablename__ = "sf_links"

    appointment_id: Mapped[str] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True)
    sobject: Mapped[str] = mapped_column(String(40))
    sf_id: Mapped[str | None] = mapped_column(String(18), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    system_modstamp: Mapped[datetime | None]
    owner_sf_id: Mapped[str | None] = mapped_column(String(18), index=True)
    #: The owner resolved to no calendar: the appointment waits on the unassigned calendar.
    unassigned: Mapped[bool] = mapped_column(default=False, index=True)
    pushed_hash: Mapped[str | None] = mapped_column(String(64))
    pushed_at: Mapped[datetime | None]
    mirrored_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SfUserRow(Base):
    """A mirrored Salesforce User or ServiceResource (names, email, time zone: the least detail)."""

    __tablename__ = "sf_users"

    sf_id: Mapped[str] = mapped_column(String(18), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255), index=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    #: For a ServiceResource: the User it stands for.
    related_user_sf_id: Mapped[str | None] = mapped_column(String(18))
    #: The local user this record resolved to (by Salesforce id or email).
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    system_modstamp: Mapped[datetime | None]
    #: Hash of the feed URLs last written to the record's feed-URL field.
    feed_urls_hash: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class SfSyncStateRow(Base):
    """A named piece of sync state: a watermark (``modstamp``, ``last_id``) or a JSON value (API usage)."""

    __tablename__ = "sf_sync_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    modstamp: Mapped[datetime | None]
    last_id: Mapped[str | None] = mapped_column(String(18))
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class SfJobRunRow(Base):
    """One run of a sync job: when, by which worker, with what outcome and how many records."""

    __tablename__ = "sf_job_runs"
    __table_args__ = (Index("ix_sf_job_runs_job_started", "job", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(32))
    holder: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    #: ``running``, ``ok``, ``failed``, ``limited`` (API limit reached) or ``partial``.
    outcome: Mapped[str] = mapped_column(String(16))
    processed: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    api_calls: Mapped[int] = mapped_column(default=0)
    detail: Mapped[str | None] = mapped_column(Text)


class SfLockRow(Base):
    """A lease on a job: the one holder whose lease has not expired runs it."""

    __tablename__ = "sf_job_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None]
