"""Engines and session factories; built on request, never at import time."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from caldav_bridge.store.private_files import private_dir, private_file
from caldav_bridge.store.write_lock import WriteLock
from caldav_bridge.store.write_queue import WriteQueue

__all__ = ["READ_ONLY", "make_engine", "make_session_factory", "write_turn"]

#: The execution option of a read-only transaction (``UnitOfWork.reading``): on SQLite it begins deferred,
#: so it never waits for (or takes) the write lock; WAL lets it read while a writer writes.
READ_ONLY = "appointments_read_only"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout. JSON columns refuse NaN and
    infinities (``json.dumps`` would write ``NaN``/``Infinity``, which is not JSON: SQLite's JSON functions then
    fail on every read of the row, PostgreSQL refuses it late): the write fails, naming the value."""
    kwargs.setdefault("json_serializer", _strict_json)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        lock = None
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            # Patient data: the directory (if made here) 0700, the file 0600; SQLite gives its -wal
            # and -shm files the database file's mode.
            database = Path(parsed.database)
            private_dir(database.parent)
            for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
                if path == database or path.exists():
                    private_file(path)
            lock = WriteLock(database)  # a file other processes can open too: their writers take turns with ours
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        _TURNS[engine] = _WriteTurns(engine, lock)  # before BEGIN IMMEDIATE: a writer waits for its turn, then begins
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    engine = create_engine(url, **kwargs)
    _PingIdle(engine)
    return engine


class _PingIdle:
    """PostgreSQL: a pooled connection idle for longer than :data:`PING_AFTER_IDLE` is pinged before it is handed
    out (a restarted server or a dropped connection is found there and the pool replaces it, as ``pool_pre_ping``
    would); one given back moments ago, and one just opened, is not. Under load a connection goes back and out again
    within milliseconds: two round trips fewer an API read (its token's clock, then its unit of work). A statement
    that finds its connection dead still invalidates the pool, as ever."""

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect
        event.listen(engine.pool, "checkin", self.checked_in)
        event.listen(engine.pool, "checkout", self.checked_out)

    @staticmethod
    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_CHECKED_IN] = time.monotonic()

    def checked_out(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)
        if since is None or time.monotonic() - since <= PING_AFTER_IDLE:
            return
        try:
            self.dialect.do_ping(dbapi_connection)
        except self.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError("the pooled connection did not answer a ping") from error


#: Seconds a pooled PostgreSQL connection may have been idle and still be handed out without a ping (``_PingIdle``).
PING_AFTER_IDLE = 1.0
#: The connection-info key of when the connection was last given back to the pool (``time.monotonic``).
_CHECKED_IN = "appointments_checked_in"


#: SQLite's busy timeout (seconds): how long a writer waits for the write lock, in the queue or in SQLite.
_BUSY_TIMEOUT = 30
#: The connection-info key set while a connection's transaction holds its engine's write turn.
_QUEUED = "appointments_write_turn"
#: The connection-info key set while it also holds the turn among processes (the database file's ``WriteLock``).
_LOCKED = "appointments_write_lock"


def _strict_json(value: Any) -> str:
    return json.dumps(value, allow_nan=False)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    """Serialise writers: a transaction takes SQLite's write lock when it begins; a read-only one does not.

    With pysqlite's default deferred transactions two writers can both read and then one fails
    to upgrade its lock ("database is locked"); BEGIN IMMEDIATE makes the second wait instead.
    A transaction begun with the :data:`READ_ONLY` execution option never writes, so it begins
    deferred: it reads a snapshot while writers write (WAL) and never queues behind them.
    """
    options = connection.get_execution_options()
    if options.get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class _WriteTurns:
    """The engine's writers of this process in one queue (``write_queue``), and, for a database file, the head of
    the queue in turn with the other processes' (``write_lock``): a write transaction waits for its turn before
    ``BEGIN IMMEDIATE`` and hands it on when it ends (commit, rollback, or its connection going back to the pool
    however it ends). Past the busy timeout a writer goes on to SQLite's own wait, which bounds it.

    SQLAlchemy announces a commit or rollback just before it sends it; a transaction holding the turn ends there
    and then hands the turn on (SQLAlchemy's own COMMIT then finds no transaction: a no-op). Handed on before its
    COMMIT, the next writer's ``BEGIN IMMEDIATE`` met that COMMIT in SQLite's busy handler and slept 1 ms or more:
    one write in seven when two processes of four writers each wrote 50-row INSERTs (2 in 14,500 after)."""

    def __init__(self, engine: Engine, lock: WriteLock | None) -> None:
        self.queue = WriteQueue()
        self.lock = lock
        event.listen(engine, "begin", self.begin)
        event.listen(engine, "commit", self.commit)
        event.listen(engine, "rollback", self.rollback)
        event.listen(engine.pool, "checkin", self.checked_in)

    def begin(self, connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get(READ_ONLY):
            return
        queued, locked = self.take()
        if queued:
            connection.info[_QUEUED] = True
        if locked:
            connection.info[_LOCKED] = True

    def take(self) -> tuple[bool, bool]:
        """Wait for this process's turn, then for the other processes' (each bounded by the busy timeout):
        (whether this process's turn was taken, whether the other processes' was)."""
        deadline = time.monotonic() + _BUSY_TIMEOUT
        if not self.queue.acquire(timeout=_BUSY_TIMEOUT):
            return False, False
        return True, self.lock is not None and self.lock.acquire(deadline)

    def give_back(self, queued: bool, locked: bool) -> None:
        """Release what :meth:`take` took: the other processes' turn first, then this process's."""
        if locked and self.lock is not None:
            self.lock.release()
        if queued:
            self.queue.release()

    def commit(self, connection: Connection) -> None:
        self._end(connection, "COMMIT")

    def rollback(self, connection: Connection) -> None:
        self._end(connection, "ROLLBACK")

    def checked_in(self, _dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            self._hand_on(record.info)

    def _end(self, connection: Connection, statement: str) -> None:
        try:
            if connection.info.get(_QUEUED) and not connection.invalidated:
                _end_now(connection, statement)
        finally:
            self._hand_on(connection.info)

    def _hand_on(self, info: dict[Any, Any]) -> None:
        """Release what the transaction holds."""
        self.give_back(queued=info.pop(_QUEUED, False), locked=info.pop(_LOCKED, False))


#: Each SQLite engine's write turns (:func:`write_turn`).
_TURNS: WeakKeyDictionary[Engine, _WriteTurns] = WeakKeyDictionary()


@contextmanager
def write_turn(engine: Engine) -> Iterator[None]:
    """Hold ``engine``'s write turn (SQLite: after this process's earlier writers and in turn with other processes'
    writers, as every write transaction the engine begins) around a write no engine event sees: one sent on the
    driver's own connection (``store/driver.py``). Other databases have no turns: nothing is held."""
    turns = _TURNS.get(engine)
    if turns is None:
        yield
        return
    queued, locked = turns.take()
    try:
        yield
    finally:
        turns.give_back(queued, locked)


def _end_now(connection: Connection, statement: str) -> None:
    """Commit or roll back ``connection``'s transaction on its DBAPI connection now; a failure is raised as
    SQLAlchemy raises its own (a ``DBAPIError``), so a COMMIT that failed is never taken for done."""
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None  # a connection in a transaction (its begin event queued it)
    end: Callable[[], None] = dbapi_connection.commit if statement == "COMMIT" else dbapi_connection.rollback
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        end()
    except dbapi_error as error:
        raise exc.DBAPIError.instance(statement, None, error, dbapi_error) from error
