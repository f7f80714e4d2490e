"""The hottest statements, sent on the driver's own connection (pysqlite, psycopg) in autocommit.

SQLAlchemy's per-statement machinery (execution context, events, result wrapping) costs ~60 us a statement and a
session's transaction ~75 us more, where pysqlite sends the single read's one statement in ~7 us; on PostgreSQL the
token's clock check cost 180 us through the engine (a pool checkout with its ping, AUTOCOMMIT set and reset) and
20 us here (bench/README.md, seventh session). In autocommit a read of one statement needs no transaction around
it (the statement is its own snapshot), and a write of one statement is its own transaction; on SQLite a write is
sent once it holds the engine's write turn (:func:`caldav_bridge.store.engine.write_turn`), as every write
transaction the engine begins waits for it.

The connections are the engine's own (made by its pool, set up by its ``connect`` listeners), detached from the pool
and kept in a list of their own (:class:`_Connections`): a pool checkout and checkin cost ~15 us and three a request
were a tenth of a single read; taking one from a list costs nothing. Closed with the engine (``dispose``); after a
fork the child opens its own (the parent's are left alone, never used or closed there). A statement that finds the
connection it took from the list gone (a restarted server, a dropped socket: what the pool's ping would have found)
is sent once more on a new connection; a connection that failed is closed, never reused.

For constant statements only (:class:`DriverStatement`: compiled once per database); each parameter is converted by
its type's bind processor, as SQLAlchemy converts it. Driver errors are raised as SQLAlchemy raises
its own (``DBAPIError``), so callers handle one kind of database error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar, cast
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, event, exc
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from caldav_bridge.store.engine import write_turn

__all__ = ["DriverStatement", "read_rows", "read_value", "write"]

T = TypeVar("T")


class DriverStatement:
    """A constant Core statement, compiled once for each database it is sent to: its SQL text, and its parameters
    (positional or named, as the driver takes them) with the statement's own constants filled in."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, Callable[[Mapping[str, Any]], Any]]] = {}

    def bound(self, engine: Engine, values: Mapping[str, Any]) -> tuple[str, Any]:
        """(SQL, parameters) for ``engine``'s driver."""
        found = self._compiled.get(engine.dialect.name)
        if found is None:
            found = self._compiled[engine.dialect.name] = _compile(self.statement, engine)
        sql, parameters = found
        return sql, parameters(values)


def _compile(statement: Executable, engine: Engine) -> tuple[str, Callable[[Mapping[str, Any]], Any]]:
    """The statement's SQL for ``engine``'s dialect, and what makes the driver's parameters of the caller's values:
    each value (or the statement's own constant) converted as SQLAlchemy converts it (its type's bind processor:
    SQLite's timestamps as text, JSON as text)."""
    dialect = engine.dialect
    compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=dialect))
    constants = dict(compiled.params)
    processors = {
        name: processor
        for name, bind in compiled.binds.items()
        if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    }

    if compiled.positiontup is not None:
        names = tuple(compiled.positiontup)
        if not processors:
            return str(compiled), lambda values: tuple(values.get(name, constants.get(name)) for name in names)
        steps = tuple((name, processors.get(name)) for name in names)
        return str(compiled), lambda values: tuple(_converted(values, constants, step) for step in steps)
    if not processors:
        return str(compiled), lambda values: {**constants, **values}
    steps = tuple((name, processors.get(name)) for name in constants)
    return str(compiled), lambda values: {step[0]: _converted(values, constants, step) for step in steps}


def _converted(
    values: Mapping[str, Any], constants: Mapping[str, Any], step: tuple[str, Callable[[Any], Any] | None]
) -> Any:
    name, processor = step
    found = values.get(name, constants.get(name))
    return found if processor is None else processor(found)


def read_value(engine: Engine, statement: DriverStatement, values: Mapping[str, Any]) -> Any:
    """The first column of the first row ``statement`` answers with ``values`` (None if no row), read in one
    statement of its own outside any transaction."""
    sql, parameters = statement.bound(engine, values)
    row = _send(engine, sql, parameters, lambda connection: connection.execute(sql, parameters).fetchone())
    return row[0] if row else None


def read_rows(engine: Engine, statement: DriverStatement, values: Mapping[str, Any]) -> list[Any]:
    """Every row ``statement`` answers with ``values``, as the driver gives them, read in one statement of its own
    outside any transaction."""
    sql, parameters = statement.bound(engine, values)
    return _send(engine, sql, parameters, lambda connection: connection.execute(sql, parameters).fetchall())


def write(engine: Engine, sql: str, parameters: tuple[Any, ...] | list[tuple[Any, ...]]) -> None:
    """Send one write statement (the driver's SQL; a list of parameter tuples runs it once for each) as a
    transaction of its own (on SQLite in the engine's write turn)."""

    def send(connection: Any) -> None:
        if isinstance(parameters, list):  # several statements: one transaction, all or none
            with connection.transaction() if engine.dialect.name == "postgresql" else _sqlite_transaction(connection):
                connection.cursor().executemany(sql, parameters)
        else:
            connection.execute(sql, parameters)

    with write_turn(engine):
        _send(engine, sql, parameters, send)


@contextmanager
def _sqlite_transaction(connection: Any) -> Iterator[None]:
    connection.execute("BEGIN IMMEDIATE")
    yield
    connection.commit()


class _Connections:
    """One engine's driver connections not in use now (as many as were ever used at once).

    It holds no reference to its engine (each call is given it): :data:`_CONNECTIONS` is keyed weakly by the
    engine, and a value that held its key would keep every engine ever used, with its pool and its compiled
    statements, alive for the life of the process."""

    def __init__(self) -> None:
        self.idle: list[Any] = []
        self.pid = os.getpid()

    def take(self, engine: Engine) -> tuple[Any, bool]:
        """A connection, and whether it sat idle in the list (a new one has just been opened)."""
        if self.pid != os.getpid():  # forked: the parent's connections are the parent's
            _LEFT_TO_THE_PARENT.extend(self.idle)
            self.idle, self.pid = [], os.getpid()
        if self.idle:
            return self.idle.pop(), True
        return self.new(engine), False

    @staticmethod
    def new(engine: Engine) -> Any:
        proxied = engine.raw_connection()  # made and set up by the pool (SQLite: WAL, busy timeout, ...)
        connection: Any = proxied.dbapi_connection
        proxied.detach()  # ours from now on: the pool neither counts nor closes it
        if engine.dialect.name == "postgresql":
            connection.autocommit = True  # pysqlite is in autocommit already (engine._sqlite_pragmas)
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
        found = _CONNECTIONS[engine] = _Connections()
        event.listen(engine, "engine_disposed", lambda _engine: found.close())
    return found


def _send(engine: Engine, sql: str, parameters: Any, work: Callable[[Any], T]) -> T:
    """``work`` on a driver connection of ``engine``, given back after it; sent once more on a new connection if it
    failed on one that sat idle (which may have died meanwhile). A failed connection is closed."""
    connections = _connections(engine)
    connection, was_idle = connections.take(engine)
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        try:
            result = work(connection)
        except dbapi_error as error:
            if not (was_idle and engine.dialect.is_disconnect(error, connection, None)):
                raise
            connection.close()
            connection = connections.new(engine)
            result = work(connection)
    except dbapi_error as error:
        connection.close()
        raise exc.DBAPIError.instance(sql, parameters, error, dbapi_error) from error
    except BaseException:
        connection.close()
        raise
    connections.idle.append(connection)
    return result
