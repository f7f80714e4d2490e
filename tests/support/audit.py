"""The audit log in tests: make its writes fail (a trigger refusing every INSERT), count its rows."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from caldav_bridge.store.tables import AuditRow

__all__ = ["audit_row_count", "refuse_audit_writes"]


def refuse_audit_writes(engine: Engine) -> None:
    """From now on every INSERT into ``audit_log`` fails (SQLite and PostgreSQL), as an unavailable audit log."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
            )
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit'); END"
            )


def audit_row_count(engine: Engine) -> int:
    """How many rows the audit log holds (every channel and action)."""
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(AuditRow)) or 0)
