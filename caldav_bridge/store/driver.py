"""The hottest statements on SQLite, sent on the driver's own (pooled) connection.

SQLAlchemy's per-statement machinery (execution context, events, result wrapping) costs ~60 us a statement and a
session's transaction ~75 us more, where pysqlite sends the single read's one statement in ~7 us (bench/README.md,
seventh session). pysqlite runs in autocommit here (``engine._sqlite_pragmas``), so a read of one statement needs no
transaction around it (the statement is its own snapshot), and a write of one statement is its own transaction,
sent once it holds the engine's write turn (:func:`caldav_bridge.store.engine.write_turn`), as every write
transaction the engine begins waits for it.

For constant statements only (:class:`SqliteStatement`: compiled once), with parameters the driver takes as they
are (text, numbers): no bind processing happens here. Driver errors are raised as SQLAlchemy raises its own
(``DBAPIError``), so callers handle one kind of database error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Engine, exc
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from caldav_bridge.store.engine import write_turn

__all__ = ["SqliteStatement", "read_value", "write"]


class SqliteStatement:
    """A constant Core statement compiled once for pysqlite: its SQL text and its parameters in order, the
    statement's own constants (bound values it carries) filled in."""

    def __init__(self, statement: ClauseElement) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=sqlite.dialect()))
        self.sql = str(compiled)
        self._names: Sequence[str] = compiled.positiontup or ()
        self._constants = compiled.params

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional parameters, ``values`` by name and the statement's constants for the rest."""
        return tuple(values[name] if name in values else self._constants[name] for name in self._names)


def read_value(engine: Engine, statement: SqliteStatement, values: Mapping[str, Any]) -> Any:
    """The first column of the first row ``statement`` answers with ``values`` (None if no row), read in one
    statement of its own outside any transaction."""
    sql, parameters = statement.sql, statement.parameters(values)
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            row = _run(engine, lambda: cursor.execute(sql, parameters).fetchone(), sql, parameters)
        finally:
            cursor.close()
    finally:
        connection.close()
    return row[0] if row else None


def write(engine: Engine, sql: str, parameters: tuple[Any, ...] | list[tuple[Any, ...]]) -> None:
    """Send one write statement (``qmark`` SQL; a list of parameter tuples runs it once for each) as a
    transaction of its own, in the engine's write turn."""
    with write_turn(engine):
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                if isinstance(parameters, list):  # several statements: one transaction, all or none
                    _run(engine, lambda: _many(connection, cursor, sql, parameters), sql, parameters)
                else:
                    _run(engine, lambda: cursor.execute(sql, parameters), sql, parameters)
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool, which rolls back whatever a failure left open


def _many(connection: Any, cursor: Any, sql: str, parameters: list[tuple[Any, ...]]) -> None:
    cursor.execute("BEGIN IMMEDIATE")
    cursor.executemany(sql, parameters)
    connection.commit()


def _run(engine: Engine, send: Callable[[], Any], sql: str, parameters: Any) -> Any:
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        return send()
    except dbapi_error as error:
        raise exc.DBAPIError.instance(sql, parameters, error, dbapi_error) from error
