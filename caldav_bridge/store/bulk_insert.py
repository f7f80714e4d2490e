"""Many-row INSERTs past SQLAlchemy's per-row parameter work (bulk imports, the Salesforce mirror).

``session.execute(insert(table), [dict, ...])`` runs, per row and per column, SQLAlchemy's parameter
construction and the column types' bind processors; profiles of the bulk paths showed that costing
more than the database's own ``executemany`` (bench/README.md). :func:`insert_many` compiles the
INSERT once per (dialect, table, columns) with SQLAlchemy itself (so PostgreSQL's ``::JSONB``
casts and the paramstyle are SQLAlchemy's), applies the same bind processors in one tight loop
over plain tuples, and hands the rows to the driver's ``executemany`` (sqlite3; psycopg 3, which
pipelines it) through ``Connection.exec_driver_sql``. The values stored are exactly what the
ORM and Core write (``tests/converters`` and ``tests/salesforce`` read them back through the ORM).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from caldav_bridge.store.types import UtcDateTime

__all__ = ["WRITTEN_TABLE", "insert_many"]

#: The execution option naming the table an :func:`insert_many` writes (the write clocks follow it).
WRITTEN_TABLE = "written_table"


@dataclass(frozen=True)
class _Plan:
    sql: str
    #: For named paramstyles (psycopg's pyformat): the parameter names, in the columns' order.
    names: tuple[str, ...] | None
    processors: tuple[Callable[[Any], Any] | None, ...]


_MISSING = object()
_PLANS: dict[tuple[str, str, tuple[str, ...]], _Plan] = {}


def _plan(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> _Plan:
    key = (dialect.name, table.name, columns)
    plan = _PLANS.get(key)
    if plan is None:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
        processors = tuple(_processor(table.c[name].type, dialect) for name in columns)
        positions = compiled.positiontup
        if positions is not None:  # positional paramstyle (sqlite3's qmark): reorder the columns to match
            if list(positions) != list(columns):
                raise ValueError(f"unexpected parameter order for {table.name}: {positions}")
            plan = _Plan(compiled.string, None, processors)
        else:  # named (psycopg's pyformat): a Core INSERT's parameters are named after the columns
            if set(compiled.binds) != set(columns):
                raise ValueError(f"unexpected parameters for {table.name}: {sorted(compiled.binds)}")
            plan = _Plan(compiled.string, columns, processors)
        _PLANS[key] = plan
    return plan


def _processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column type's bind processor; for UTC datetimes on SQLite a direct one (the same text)."""
    if isinstance(type_, UtcDateTime) and dialect.name == "sqlite":
        return _sqlite_utc
    return cast(Callable[[Any], Any] | None, type_._cached_bind_processor(dialect))


def _sqlite_utc(value: datetime | None) -> str | None:
    """``UtcDateTime`` then SQLite's ``DATETIME`` bind processing in one step: naive UTC, microseconds."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


def insert_many(session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT ``rows`` (one value per name in ``columns``, in that order) into ``table``, in one executemany.

    Values are Python values as the ORM takes them (aware datetimes, dicts for JSON); the column
    types convert them as SQLAlchemy would. Runs on the session's connection (its transaction), tagged with
    :data:`WRITTEN_TABLE`.
    """
    if not rows:
        return
    conn = session.connection()
    plan = _plan(conn.dialect, table, tuple(columns))
    convert = [(i, p) for i, p in enumerate(plan.processors) if p is not None]
    params: list[Any]
    if convert:
        params = []
        seen: dict[datetime, Any] = {}  # the same timestamps recur in every row (now, created_at, ...)
        for row in rows:
            values = list(row)
            for i, processor in convert:
                value = values[i]
                if type(value) is datetime:
                    done = seen.get(value, _MISSING)
                    if done is _MISSING:
                        done = seen[value] = processor(value)
                    values[i] = done
                else:
                    values[i] = processor(value)
            params.append(values)
    else:
        params = list(rows)
    if plan.names is not None:
        names = plan.names
        params = [dict(zip(names, values, strict=True)) for values in params]
    else:
        params = [tuple(values) for values in params]
    # The driver-level call bypasses the session's ORM events; the option lets the runtime's write clocks
    # (store/write_clock.py) see the write all the same.
    conn.exec_driver_sql(plan.sql, params, execution_options={WRITTEN_TABLE: table.name})
