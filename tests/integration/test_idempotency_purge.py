"""The purge every keyed request runs first (``IdempotencyRepository.purge_before``) finds the principal's expired
keys through an index, not by reading every key the principal holds: on SQLite it searched the unique (principal,
key) index by principal alone, so a busy integration paid for all its keys of the last day on each request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, text

from caldav_bridge.clock import utcnow
from caldav_bridge.runtime import Runtime
from caldav_bridge.store.tables import IdempotencyRow

INDEX = "ix_idempotency_keys_principal_created_at"


def _purge_statement(runtime: Runtime) -> tuple[str, Any]:
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM IDEMPOTENCY_KEYS"):
            seen.append((statement, parameters))

    event.listen(runtime.engine, "before_cursor_execute", capture)
    try:
        with runtime.uow() as uow:
            uow.idempotency.purge_before("token:busy", utcnow() - timedelta(hours=24))
            uow.commit()
    finally:
        event.remove(runtime.engine, "before_cursor_execute", capture)
    assert len(seen) == 1, seen
    return seen[0]


def test_the_purge_searches_the_principal_and_time_index(runtime: Runtime) -> None:
    now = utcnow()
    with runtime.uow() as uow:
        uow.session.add_all(
            IdempotencyRow(
                principal="token:busy" if n % 10 else "token:other",
                key=f"k{n}",
                request_hash="h",
                endpoint="POST /api/v1/appointments",
                state="done",
                holder="x",
                created_at=now - timedelta(minutes=n),
                claimed_at=now - timedelta(minutes=n),
            )
            for n in range(2000)
        )
        uow.commit()
    statement, parameters = _purge_statement(runtime)
    with runtime.engine.connect() as conn:
        if runtime.engine.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
            assert f"USING INDEX {INDEX} (principal=? AND created_at<?)" in plan, plan
        else:
            conn.execute(text("ANALYZE idempotency_keys"))
            conn.execute(text("SET enable_seqscan = off"))  # a small table is read whole whatever the indexes
            plan = " ".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            assert INDEX in plan and "Index Cond" in plan and "created_at" in plan, plan
    with runtime.uow() as uow:  # the expired keys of that principal went, the others stayed
        left = uow.session.query(IdempotencyRow).filter(IdempotencyRow.principal == "token:busy").count()
    assert left == sum(1 for n in range(2000) if n % 10 and n < 24 * 60), left
