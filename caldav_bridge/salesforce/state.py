"""Sync state in the database: watermarks, job leases (one runner per job), job runs, API usage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from caldav_bridge.clock import utcnow
from caldav_bridge.store.repositories import insert_if_missing
from caldav_bridge.store.sf_tables import SfJobRunRow, SfLockRow, SfSyncStateRow
from caldav_bridge.store.uow import SessionRepository, UnitOfWork

__all__ = ["SyncState", "Watermark", "acquire_lease", "finish_run", "release_lease", "start_run"]


@dataclass(frozen=True)
class Watermark:
    modstamp: datetime
    last_id: str


class SyncState(SessionRepository):
    """The sync's own rows (``uow.repo(SyncState)``): watermarks, named values, leases, job runs. Never commits."""

    def watermark(self, name: str) -> Watermark | None:
        row = self.session.get(SfSyncStateRow, "wm:" + name)
        if row is None or row.modstamp is None:
            return None
        return Watermark(row.modstamp, row.last_id or "")

    def watermark_rows(self) -> list[SfSyncStateRow]:
        """Every watermark's row, by object name."""
        stmt = select(SfSyncStateRow).where(SfSyncStateRow.name.like("wm:%")).order_by(SfSyncStateRow.name)
        return list(self.session.scalars(stmt))

    def set_watermark(self, name: str, mark: Watermark) -> None:
        """Move a watermark forward (never back)."""
        key = "wm:" + name
        row = self.session.get(SfSyncStateRow, key)
        now = utcnow()
        if row is None:
            self.session.add(
                SfSyncStateRow(name=key, modstamp=mark.modstamp, last_id=mark.last_id, value={}, updated_at=now)
            )
            return
        if row.modstamp is None or (mark.modstamp, mark.last_id) > (row.modstamp, row.last_id or ""):
            row.modstamp, row.last_id = mark.modstamp, mark.last_id
        row.updated_at = now

    def value(self, name: str) -> dict[str, Any] | None:
        row = self.session.get(SfSyncStateRow, name)
        return None if row is None else dict(row.value or {})

    def put_value(self, name: str, value: dict[str, Any]) -> None:
        """Set the named value. Every process's preflight records its report: the row is inserted if missing and
        then updated, so two first writers at once both succeed (a get-then-add lost the race with a unique
        violation, failing the job tick)."""
        now = utcnow()
        insert_if_missing(self.session, SfSyncStateRow, {"name": name, "value": value, "updated_at": now})
        self.session.execute(
            update(SfSyncStateRow).where(SfSyncStateRow.name == name).values(value=value, updated_at=now)
        )

    def add_lock(self, name: str) -> None:
        """Insert job ``name``'s free lock row (a unique violation when it exists; flushed at once)."""
        self.session.add(SfLockRow(name=name, holder=None, expires_at=None))
        self.session.flush()

    def take_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """One conditional UPDATE: the lease is ``holder``'s unless another holder's is still running."""
        result = self.session.execute(
            update(SfLockRow)
            .where(
                SfLockRow.name == name,
                (SfLockRow.holder.is_(None)) | (SfLockRow.expires_at < now) | (SfLockRow.holder == holder),
            )
            .values(holder=holder, expires_at=now + ttl)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def free_lease(self, name: str, holder: str) -> None:
        self.session.execute(
            update(SfLockRow)
            .where(SfLockRow.name == name, SfLockRow.holder == holder)
            .values(holder=None, expires_at=None)
        )

    def add_run(self, row: SfJobRunRow) -> None:
        self.session.add(row)
        self.session.flush()

    def run(self, run_id: int) -> SfJobRunRow | None:
        return self.session.get(SfJobRunRow, run_id)

    def last_runs(self, job: str, limit: int = 5) -> list[SfJobRunRow]:
        stmt = select(SfJobRunRow).where(SfJobRunRow.job == job).order_by(SfJobRunRow.id.desc()).limit(limit)
        return list(self.session.scalars(stmt))


def acquire_lease(uow: UnitOfWork, name: str, holder: str, ttl: timedelta) -> bool:
    """Take job ``name`` for ``holder`` unless another holder's lease is still running.

    One conditional UPDATE decides, so two processes (or hosts) on one database never both win.
    """
    now = utcnow()
    with uow:
        try:
            uow.repo(SyncState).add_lock(name)
            uow.commit()
        except IntegrityError:
            uow.rollback()
    with uow:
        taken = uow.repo(SyncState).take_lease(name, holder, now, ttl)
        uow.commit()
        return taken


def release_lease(uow: UnitOfWork, name: str, holder: str) -> None:
    with uow:
        uow.repo(SyncState).free_lease(name, holder)
        uow.commit()


def start_run(uow: UnitOfWork, job: str, holder: str) -> int:
    with uow:
        row = SfJobRunRow(job=job, holder=holder[:64], started_at=utcnow(), outcome="running")
        uow.repo(SyncState).add_run(row)
        uow.commit()
        return row.id


def finish_run(
    uow: UnitOfWork,
    run_id: int,
    outcome: str,
    *,
    processed: int = 0,
    failed: int = 0,
    api_calls: int = 0,
    detail: str | None = None,
    api_usage: tuple[int, int] | None = None,
) -> None:
    with uow:
        state = uow.repo(SyncState)
        row = state.run(run_id)
        if row is not None:
            row.finished_at = utcnow()
            row.outcome = outcome
            row.processed, row.failed, row.api_calls = processed, failed, api_calls
            row.detail = (detail or None) and detail[:2000]
        if api_usage is not None:
            state.put_value("api_usage", {"used": api_usage[0], "total": api_usage[1], "at": utcnow().isoformat()})
        uow.commit()
