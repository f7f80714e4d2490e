"""The audit trail in tests: reads are staged (``audit_read_batches``) until the job ``audit-fold-reads`` folds them
into ``audit_log`` (``docs/architecture.md``, "Reads and their audit"). :func:`audit_trail` folds first, as the job
would, then reads ``audit_log``, so a test asserts every audited read whether or not the job has run; the count and
the refusal cover both tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Engine, func, select

from caldav_bridge.runtime import Runtime
from caldav_bridge.services.audit_trail import fold_staged_reads
from caldav_bridge.store.tables import AuditReadBatchRow, AuditRow

__all__ = ["audit_row_count", "audit_trail", "fold_reads", "refuse_audit_writes", "staged_reads"]

#: Where audit rows are written: reads' (staged) and everything else's.
AUDIT_TABLES = ("audit_read_batches", "audit_log")


def refuse_audit_writes(engine: Engine) -> None:
    """From now on every INSERT into the audit tables fails (SQLite and PostgreSQL), as an unavailable audit log."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$"
            )
        for table in AUDIT_TABLES:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    f"CREATE TRIGGER refuse_audit BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
                )
            else:
                conn.exec_driver_sql(
                    f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'audit'); END"
                )


def audit_row_count(engine: Engine) -> int:
    """How many audit rows there are (every channel and action): ``audit_log``'s and the staged reads'."""
    with engine.connect() as conn:
        logged = conn.scalar(select(func.count()).select_from(AuditRow)) or 0
        staged = conn.scalar(select(func.coalesce(func.sum(AuditReadBatchRow.reads), 0))) or 0
        return int(logged) + int(staged)


def fold_reads(runtime: Runtime) -> int:
    """Fold every staged read into ``audit_log`` (the job's service function); how many rows that made."""
    return fold_staged_reads(runtime.uow(), rounds=1000).reads


def staged_reads(runtime: Runtime) -> int:
    """How many reads (batches) are staged and not folded yet."""
    with runtime.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(AuditReadBatchRow)) or 0)


def audit_trail(runtime: Runtime, *where: ColumnElement[Any]) -> list[AuditRow]:
    """Every audit row matching ``where`` (reads staged until now included), oldest first."""
    fold_reads(runtime)
    with runtime.uow() as uow:
        return list(uow.session.scalars(select(AuditRow).where(*where).order_by(AuditRow.at, AuditRow.id)))
