"""Statements on the driver's own connections (``caldav_bridge/store/driver.py``): results and atomic writes on
SQLite and PostgreSQL, a connection the server dropped replaced, connections closed with the engine, threads and
forks (on a real SQLite file)."""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, bindparam, exc, func, select, text

from caldav_bridge.store import driver
from caldav_bridge.store.engine import make_engine
from tests.conftest import postgresql_only

_METADATA = MetaData()
_NUMBERS = Table("numbers", _METADATA, Column("n", Integer, primary_key=True))
#: the statement's own constant (0) is filled in with the caller's values
_COUNT = driver.DriverStatement(select(func.count()).select_from(_NUMBERS).where(_NUMBERS.c.n >= 0))
_ONE = driver.DriverStatement(select(_NUMBERS.c.n).where(_NUMBERS.c.n == bindparam("n")))
_ALL = driver.DriverStatement(select(_NUMBERS.c.n).order_by(_NUMBERS.c.n))
_INSERT = "INSERT INTO numbers (n) VALUES (?)"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "driver.db"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    _METADATA.create_all(engine)
    yield engine
    engine.dispose()


def _insert(engine: Engine) -> str:
    return _INSERT if engine.dialect.name == "sqlite" else _INSERT.replace("?", "%s")


def _engine(database: Path) -> Engine:
    engine = make_engine(f"sqlite:///{database}")
    _METADATA.create_all(engine)
    return engine


def _open_files(database: Path) -> int:
    """How many descriptors of this process are open on the database (its file, -wal and -shm)."""
    names = {str(database), f"{database}-wal", f"{database}-shm"}
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") in names
        except FileNotFoundError:  # the listing's own descriptor, closed since
            continue
    return count


def test_reads_and_writes_each_a_statement_of_its_own(engine: Engine) -> None:
    driver.write(engine, _insert(engine), (1,))
    driver.write(engine, _insert(engine), [(2,), (3,)])
    assert driver.read_value(engine, _COUNT, {}) == 3
    assert driver.read_value(engine, _ONE, {"n": 2}) == 2
    assert driver.read_value(engine, _ONE, {"n": 9}) is None
    assert [tuple(r) for r in driver.read_rows(engine, _ALL, {})] == [(1,), (2,), (3,)]
    with engine.connect() as conn:  # the engine's own connections see every write: each was committed
        assert conn.scalar(text("SELECT count(*) FROM numbers")) == 3


def test_a_failed_write_writes_nothing_and_leaves_no_transaction_behind(engine: Engine) -> None:
    driver.write(engine, _insert(engine), (1,))
    with pytest.raises(exc.IntegrityError):  # the driver's error, raised as SQLAlchemy raises its own
        driver.write(engine, _insert(engine), [(5,), (1,)])  # the second row's key is taken: neither is written
    assert driver.read_value(engine, _COUNT, {}) == 1
    driver.write(engine, _insert(engine), [(6,), (7,)])  # a connection left inside the failed transaction would refuse
    assert driver.read_value(engine, _COUNT, {}) == 3


@postgresql_only
def test_a_connection_the_server_dropped_is_replaced_without_an_error(engine: Engine) -> None:
    """What the pool's ping finds for its connections: a restarted server or a dropped socket. A driver connection
    that sat idle and is found gone is replaced, and the statement sent again on the new one."""
    driver.write(engine, _insert(engine), (1,))
    assert driver.read_value(engine, _COUNT, {}) == 1  # one idle driver connection now
    with engine.connect() as admin:
        dropped = admin.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    assert dropped >= 1
    assert driver.read_value(engine, _COUNT, {}) == 1
    driver.write(engine, _insert(engine), (2,))
    assert driver.read_value(engine, _COUNT, {}) == 2


def test_connections_are_reused_across_threads_and_closed_with_the_engine(database: Path) -> None:
    engine = _engine(database)
    engine.dispose()  # the engine's pool holds none now: what stays open below is the driver's
    results: list[int] = []
    barrier = threading.Barrier(6)

    def reader() -> None:
        barrier.wait(timeout=10)
        for _ in range(50):
            results.append(driver.read_value(engine, _COUNT, {}))

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [0] * 300
    assert 1 <= _open_files(database) <= 6 * 3  # at most one connection a thread (file, -wal, -shm each)
    engine.dispose()
    assert _open_files(database) == 0


def test_an_engine_the_driver_used_is_freed_once_its_owner_lets_it_go(database: Path) -> None:
    """The driver keeps its connections per engine weakly: before, what it kept held the engine, so every engine a
    process ever used (a runtime per test, with its pool and compiled statements) stayed alive."""
    engine = _engine(database)
    driver.write(engine, _INSERT, (1,))
    assert driver.read_value(engine, _COUNT, {}) == 1
    engine.dispose()
    gone = weakref.ref(engine)
    del engine
    gc.collect()
    assert gone() is None


def _forked_reads(engine: Engine, queue: multiprocessing.Queue[object]) -> None:
    try:
        driver.write(engine, _INSERT, (100,))
        queue.put(driver.read_value(engine, _COUNT, {}))
    except Exception as error:  # reported to the parent, which fails the test
        queue.put(repr(error))


def test_a_forked_child_opens_its_own_connections_and_the_parents_keep_working(database: Path) -> None:
    engine = _engine(database)
    driver.write(engine, _INSERT, (1,))
    assert driver.read_value(engine, _COUNT, {}) == 1  # the parent now holds an idle driver connection
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[object] = context.Queue()
    child = context.Process(target=_forked_reads, args=(engine, queue))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0 and queue.get(timeout=5) == 2
    driver.write(engine, _INSERT, (2,))  # the parent's connection is still good after the child is gone
    assert driver.read_value(engine, _COUNT, {}) == 3
    engine.dispose()
