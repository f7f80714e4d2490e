"""Sync state in the database: watermarks, job leases (one runner per job), job runs, API usage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caldav_bridge.clock import utcnow
from caldav_bridge.store.sf_tables import SfJobRunRow, SfLockRow, SfSyncStateRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = [
    "Watermark",
    "acquire_lease",
    "finish_run",
    "get_watermark",
    "put_value",
    "release_lease",
    "set_watermark",
    "start_run",
]


@dataclass(frozen=True)
class Watermark:
    modstamp: datetime
    last_id: str


def get_watermark(session: Session, name: str) -> Watermark | None:
    row = session.get(SfSyncStateRow, "wm:" + name)
    if row is None or row.modstamp is None:
        return None
    return Watermark(row.modstamp, row.last_id or "")


def set_watermark(session: Session, name: str, mark: Watermark) -> None:
    """Move a watermark forward (never back), in the caller's transaction."""
    key = "wm:" + name
    row = session.get(SfSyncStateRow, key)
    now = utcnow()
    if row is None:
        session.add(SfSyncStateRow(name=key, modstamp=mark.modstamp, last_id=mark.last_id, value={}, updated_at=now))
        return
    if row.modstamp is None or (mark.modstamp, mark.last_id) > (row.modstamp, row.last_id or ""):
        row.modstamp, row.last_id = mark.modstamp, mark.last_id
    row.updated_at = now


def put_value(session: Session, name: str, value: dict[str, Any]) -> None:
    row = session.get(SfSyncStateRow, name)
    now = utcnow()
    if row is None:
        session.add(SfSyncStateRow(name=name, value=value, updated_at=now))
    else:
        row.value = value
        row.updated_at = now


def get_value(session: Session, name: str) -> dict[str, Any] | None:
    row = session.get(SfSyncStateRow, name)
    return None if row is None else dict(row.value or {})


def acquire_lease(uow: UnitOfWork, name: str, holder: str, ttl: timedelta) -> bool:
    """Take job ``name`` for ``holder`` unless another holder's lease is still running.

    One conditional UPDATE decides, so two processes (or hosts) on one database never both win.
    """
    now = utcnow()
    with uow:
        try:
            uow.session.add(SfLockRow(name=name, holder=None, expires_at=None))
            uow.session.flush()
            uow.commit()
        except IntegrityError:
            uow.rollback()
    with uow:
        result = uow.session.execute(
            update(SfLockRow)
            .where(
                SfLockRow.name == name,
                (SfLockRow.holder.is_(None)) | (SfLockRow.expires_at < now) | (SfLockRow.holder == holder),
            )
            .values(holder=holder, expires_at=now + ttl)
        )
        uow.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


def release_lease(uow: UnitOfWork, name: str, holder: str) -> None:
    with uow:
        uow.session.execute(
            update(SfLockRow)
            .where(SfLockRow.name == name, SfLockRow.holder == holder)
            .values(holder=None, expires_at=None)
        )
        uow.commit()


def start_run(uow: UnitOfWork, job: str, holder: str) -> int:
    with uow:
        row = SfJobRunRow(job=job, holder=holder[:64], started_at=utcnow(), outcome="running")
        uow.session.add(row)
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
        row = uow.session.get(SfJobRunRow, run_id)
        if row is not None:
            row.finished_at = utcnow()
            row.outcome = outcome
            row.processed, row.failed, row.api_calls = processed, failed, api_calls
            row.detail = (detail or None) and detail[:2000]
        if api_usage is not None:
            put_value(
                uow.session, "api_usage", {"used": api_usage[0], "total": api_usage[1], "at": utcnow().isoformat()}
            )
        uow.commit()


def last_runs(session: Session, job: str, limit: int = 5) -> list[SfJobRunRow]:
    stmt = select(SfJobRunRow).where(SfJobRunRow.job == job).order_by(SfJobRunRow.id.desc()).limit(limit)
    return list(session.scalars(stmt))
