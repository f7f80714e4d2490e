"""The hottest statements on SQLite, sent on the driver's own (pooled) connection.

SQLAlchemy's per-statement machinery (execution context, events, result wrapping) costs ~60 us a statement and a
session's transaction ~75 us more, where pysqlite sends the single read's one statement in ~7 us (bench/README.md,
seventh session). pysqlite runs in autocommit here (``engine._sqlite_pragmas``), so a read of one statement needs no
transaction around it (the statement is its own snapshot), and a write of one statement is its own transaction,
sent once it holds the engine's write turn (:func:`caldav_bridge.store.engine.write_turn`), as every write
transaction the engine begins waits for it.

The connections are the engine's own (made by its pool, set up by its ``connect`` listeners), detached from the pool
and kept in a list of their own (:class:`_Connections`): a pool checkout and checkin cost ~15 us and three a request
were a tenth of a single read; taking one from a list costs nothing. Closed with the engine (``dispose``); after a
fork the child opens its own (the parent's are left alone, never used or closed there).

For constant statements only (:class:`SqliteStatement`: compiled once), with parameters the driver takes as they
are (text, numbers): no bind processing happens here. Driver errors are raised as SQLAlchemy raises its own
(``DBAPIError``), so callers handle one kind of database error; a connection that failed is closed, not reused.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, event, exc
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
    with _connection(engine, sql, parameters) as connection:
        row = connection.execute(sql, parameters).fetchone()
    return row[0] if row else None


def write(engine: Engine, sql: str, parameters: tuple[Any, ...] | list[tuple[Any, ...]]) -> None:
    """Send one write statement (``qmark`` SQL; a list of parameter tuples runs it once for each) as a
    transaction of its own, in the engine's write turn."""
    with write_turn(engine), _connection(engine, sql, parameters) as connection:
        if isinstance(parameters, list):  # several statements: one transaction, all or none
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(sql, parameters)
            connection.commit()
        else:
            connection.execute(sql, parameters)


class _Connections:
    """One engine's driver connections not in use now (as many as were ever used at once)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.idle: list[Any] = []
        self.pid = os.getpid()

    def take(self) -> Any:
        if self.pid != os.getpid():  # forked: the parent's connections are the parent's
            _LEFT_TO_THE_PARENT.extend(self.idle)
            self.idle, self.pid = [], os.getpid()
        try:
            return self.idle.pop()
        except IndexError:
            proxied = self.engine.raw_connection()  # made and set up by the pool (WAL, busy timeout, ...)
            connection = proxied.dbapi_connection
            proxied.detach()  # ours from now on: the pool neither counts nor closes it
            return connection

    def close(self) -> None:
        idle, self.idle = self.idle, []
        for connection in idle:
            connection.close()


_CONNECTIONS: WeakKeyDictionary[Engine, _Connections] = WeakKeyDictionary()
#: A forked child's inherited connections: never used there, and never closed by it.
_LEFT_TO_THE_PARENT: list[Any] = []


def _connections(engine: Engine) -> _Connections:
    found = _CONNECTIONS.get(engine)
    if found is None:
        found = _CONNECTIONS[engine] = _Connections(engine)
        event.listen(engine, "engine_disposed", lambda _engine: found.close())
    return found


@contextmanager
def _connection(engine: Engine, sql: str, parameters: Any) -> Iterator[Any]:
    """A driver connection of ``engine`` for the block; given back after it, closed if the block failed."""
    connections = _connections(engine)
    connection = connections.take()
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        yield connection
    except dbapi_error as error:
        connection.close()
        raise exc.DBAPIError.instance(sql, parameters, error, dbapi_error) from error
    except BaseException:
        connection.close()
        raise
    connections.idle.append(connection)
