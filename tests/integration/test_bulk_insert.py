"""``store.bulk_insert.insert_many`` stores exactly what SQLAlchemy's own INSERT stores (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

from sqlalchemy import Table, insert, text

from caldav_bridge.runtime import Runtime
from caldav_bridge.store.bulk_insert import insert_many
from caldav_bridge.store.tables import OutboxRow

TABLE = cast(Table, cast(Any, OutboxRow).__table__)
COLUMNS = ("appointment_id", "operation", "payload", "state", "attempts", "last_error", "created_at", "available_at")


def _values(i: int) -> tuple[Any, ...]:
    at = datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=UTC) + timedelta(seconds=i)
    local = at.astimezone(timezone(timedelta(hours=-7)))  # the same instant in another offset
    payload = {"name": f"Jürgen; {i}", "nested": {"a": [1, None, True]}, "ü": "\n"}
    return (f"a{i}", "upsert", payload, "pending", 0, None if i % 2 else "x", at, local)


def test_insert_many_stores_what_core_stores(runtime: Runtime) -> None:
    with runtime.uow() as uow:
        insert_many(uow.session, TABLE, COLUMNS, [_values(i) for i in range(3)])
        uow.session.execute(
            insert(TABLE), [dict(zip(COLUMNS, (f"b{i}", *_values(i)[1:]), strict=True)) for i in range(3)]
        )
        uow.commit()
    with runtime.uow() as uow:
        rows = uow.session.execute(
            text(
                "SELECT appointment_id, operation, CAST(payload AS TEXT), state, attempts, last_error,"
                " CAST(created_at AS TEXT), CAST(available_at AS TEXT) FROM outbox ORDER BY appointment_id"
            )
        ).all()
    mine = {r[0][1:]: tuple(r[1:]) for r in rows if r[0].startswith("a")}
    core = {r[0][1:]: tuple(r[1:]) for r in rows if r[0].startswith("b")}
    assert mine == core and len(mine) == 3
    with runtime.uow() as uow:
        stored = uow.session.get(OutboxRow, 1)
        assert stored is not None and stored.payload == _values(0)[2] and stored.created_at == _values(0)[6]
