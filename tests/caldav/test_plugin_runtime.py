"""The plugins' runtime when Radicale runs on its own (``storage_plugin._runtime``): SQLite connections are pooled
for the most recent databases only.

Opened per use, each SQLite connection parsed the whole schema again and closing it checkpointed the WAL: about a
millisecond a transaction, two or more transactions a request. Radicale's test suite makes a database per test
(hundreds), whose connections must not all stay open.
"""

from __future__ import annotations

from pathlib import Path

from radicale import config as radicale_config
from sqlalchemy.pool import QueuePool

from caldav_bridge.runtime import Runtime
from storage_plugin._runtime import POOLED_SQLITE_DATABASES, runtime_from_config


def _runtime(database: Path) -> Runtime:
    configuration = radicale_config.load(())
    configuration.update({"storage": {"type": "storage_plugin", "url": f"sqlite:///{database}"}}, "test")
    return runtime_from_config(configuration)


def _idle(rt: Runtime) -> int:
    """How many connections the runtime's pool holds open, unused."""
    pool = rt.engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedin()


def test_a_sqlite_database_keeps_its_connection_between_transactions(tmp_path: Path) -> None:
    rt = _runtime(tmp_path / "one.db")
    with rt.engine.connect() as connection:
        first = connection.connection.dbapi_connection
    with rt.engine.connect() as connection:
        assert connection.connection.dbapi_connection is first
    assert _runtime(tmp_path / "one.db") is rt


def test_only_the_most_recent_sqlite_databases_keep_their_connections(tmp_path: Path) -> None:
    runtimes = [_runtime(tmp_path / f"{n}.db") for n in range(POOLED_SQLITE_DATABASES)]
    for rt in runtimes:
        with rt.engine.connect():
            pass
    assert all(_idle(rt) == 1 for rt in runtimes)
    _runtime(tmp_path / "newest.db")
    oldest = runtimes[0]
    assert _idle(oldest) == 0  # closed
    assert all(_idle(rt) == 1 for rt in runtimes[1:])
    again = _runtime(tmp_path / "0.db")
    assert again is not oldest  # forgotten: a new runtime (and a schema check) if it is used again
    with oldest.engine.connect() as connection:  # a Storage still holding it goes on working
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
