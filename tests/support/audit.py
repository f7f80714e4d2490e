"""The audit trail in tests: reads are staged (SQLite: a spool file per process, ``store/read_spool.py``;
PostgreSQL: ``audit_read_batches``) until the job ``audit-fold-reads`` folds them into ``audit_log``
(``docs/architecture.md``, "Reads and their audit"). :func:`audit_trail` folds first, as the job would, then reads
``audit_log``, so a test asserts every audited read whether or not the job has run; the count and the refusal cover
every place a read is staged."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Engine, func, select
from sqlalchemy.orm import Session

from caldav_bridge.runtime import Runtime
from caldav_bridge.services.audit_trail import fold_staged_reads
from caldav_bridge.store import read_spool
from caldav_bridge.store.repositories import AuditRepository
from caldav_bridge.store.tables import AuditRow

__all__ = ["audit_row_count", "audit_trail", "fold_reads", "refuse_audit_writes", "staged_reads"]

#: Where audit rows are written: reads' (staged) and everything else's.
AUDIT_TABLES = ("audit_read_batches", "audit_log")


def refuse_audit_writes(engine: Engine) -> None:
    """From now on every INSERT into the audit tables fails (SQLite and PostgreSQL), as an unavailable audit log,
    and so does staging a read in a spool file (its directory, set aside, replaced by a file: no file can be made
    in it, as on a full or read-only disk)."""
    spool = read_spool.of(engine)
    if spool is not None:
        spool.close()
        if spool.directory.exists():
            spool.directory.rename(spool.directory.with_name(f"{spool.directory.name}.refused"))
        spool.directory.write_bytes(b"")
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
    with Session(engine) as session:
        logged = session.scalar(select(func.count()).select_from(AuditRow)) or 0
        return int(logged) + AuditRepository(session).staged_count().reads


def fold_reads(runtime: Runtime) -> int:
    """Fold every staged read into ``audit_log`` (the job's service function); how many rows that made."""
    return fold_staged_reads(runtime.uow(), rounds=1000).reads


def staged_reads(runtime: Runtime) -> int:
    """How many reads (batches) are staged and not folded yet."""
    with runtime.uow().reading() as uow:
        return uow.audit.staged_count().batches


def audit_trail(runtime: Runtime, *where: ColumnElement[Any]) -> list[AuditRow]:
    """Every audit row matching ``where`` (reads staged until now included), oldest first."""
    fold_reads(runtime)
    with runtime.uow() as uow:
        return list(uow.session.scalars(select(AuditRow).where(*where).order_by(AuditRow.at, AuditRow.id)))
