"""The audit trail in tests: an SQLite file database stages reads in a spool file per process
(``store/read_spool.py``) until the job ``audit-fold-reads`` folds them into ``audit_log``; PostgreSQL keeps each
read as one ``audit_read_batches`` row (``store/read_audit.py``; ``docs/architecture.md``, "Reads and their
audit"). :func:`audit_trail` folds first, as the job would, then reads ``audit_log`` and the kept reads as one
table, so a test asserts every audited read whether or not the job has run; the count and the refusal cover every
place a read is recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Engine, Subquery, func, null, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.util import ClauseAdapter

from caldav_bridge.runtime import Runtime
from caldav_bridge.services.audit_trail import fold_staged_reads
from caldav_bridge.store import read_audit, read_spool
from caldav_bridge.store.repositories import AuditRepository
from caldav_bridge.store.tables import AuditReadBatchRow, AuditRow

__all__ = [
    "audit_row_count",
    "audit_trail",
    "fold_reads",
    "kept_reads",
    "recorded_reads",
    "refuse_audit_writes",
    "staged_reads",
]

#: Where audit rows are written: reads' (kept) and everything else's.
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
    """How many audit rows there are (every channel and action): ``audit_log``'s, the kept and the staged reads'."""
    with Session(engine) as session:
        logged = session.scalar(select(func.count()).select_from(AuditRow)) or 0
        kept = len(read_audit.kept(session))
        return int(logged) + kept + AuditRepository(session).staged_count().reads


def fold_reads(runtime: Runtime) -> int:
    """Fold every read staged in spool files into ``audit_log`` (the job's service function); how many rows that
    made."""
    return fold_staged_reads(runtime.uow(), rounds=1000).reads


def staged_reads(runtime: Runtime) -> int:
    """How many reads are staged in spool files and not folded yet (SQLite file databases; 0 elsewhere)."""
    with runtime.uow().reading() as uow:
        return uow.audit.staged_count().batches


def kept_reads(runtime: Runtime) -> int:
    """How many reads are kept as one row each (``audit_read_batches``: PostgreSQL, an in-memory SQLite)."""
    with runtime.uow().reading() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(AuditReadBatchRow)) or 0)


def recorded_reads(runtime: Runtime) -> int:
    """How many reads are recorded as one row or line each (kept, or staged and not folded yet)."""
    return staged_reads(runtime) + kept_reads(runtime)


def audit_trail(runtime: Runtime, *where: ColumnElement[Any]) -> list[AuditRow]:
    """Every audit row matching ``where`` (written against ``AuditRow``'s columns; reads staged until now included,
    folded first), oldest first; the kept reads' rows have no ``id``."""
    fold_reads(runtime)
    with runtime.uow() as uow:
        trail = _trail(uow.session.get_bind().dialect.name)
        adapt = ClauseAdapter(trail).traverse
        stmt = select(trail).where(*(adapt(w) for w in where)).order_by(trail.c.at, trail.c.id)
        return [AuditRow(**row) for row in uow.session.execute(stmt).mappings()]


def _trail(dialect: str) -> Subquery:
    """``audit_log`` and the kept reads' rows as one table, with ``audit_log``'s columns."""
    kept = read_audit.kept_select(dialect).subquery()
    log = AuditRow.__table__.c
    return union_all(
        select(*log),
        select(null().cast(BigInteger).label("id"), *(kept.c[c.key] for c in log if c.key != "id")),
    ).subquery()
