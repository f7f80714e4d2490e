"""The background jobs' tick claims: which process ran which tick of which job, and how it went.

A row is inserted before a tick runs; its primary key ``(job_id, tick_at)`` lets exactly one process
(``holder``) claim a tick, however many schedulers run the job (``docs/architecture.md``, "Background
jobs"). Shares :class:`caldav_bridge.store.base.Base`'s metadata, so Alembic and the schema test see it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from caldav_bridge.store.base import Base

__all__ = ["JobTickRow"]


class JobTickRow(Base):
    __tablename__ = "job_ticks"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tick_at: Mapped[datetime] = mapped_column(primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    #: ``running``, then ``ok``, ``failed``, ``skipped`` (the job declined, e.g. its lease is held) or
    #: ``missed`` (its process woke too late to run it; recorded so that no tick disappears silently).
    outcome: Mapped[str] = mapped_column(String(16))
