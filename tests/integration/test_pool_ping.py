"""PostgreSQL's pool pings a connection only when it has been idle (``engine._PingIdle``): a connection the server
dropped while it sat in the pool is replaced before a request gets it, and one given back moments ago is handed out
without a round trip."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from caldav_bridge.store import engine as engine_module
from caldav_bridge.store.engine import make_engine
from tests.conftest import postgresql_only

_PID = text("SELECT pg_backend_pid()")


def _pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(_PID) or 0)


def _terminate(url: str, pid: int) -> None:
    """End backend ``pid`` from a connection of another engine (the pool under test stays as it is)."""
    other = create_engine(url)
    try:
        with other.connect() as connection:
            assert connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        other.dispose()


@postgresql_only
def test_a_connection_dropped_while_idle_is_replaced_before_it_is_handed_out(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        first = _pid(engine)
        _terminate(database_url, first)
        monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 0.0)  # every checkout counts as idle
        assert _pid(engine) != first  # pinged, found dead, replaced: the statement ran on a new connection
    finally:
        engine.dispose()


@postgresql_only
def test_a_connection_given_back_moments_ago_is_not_pinged(database_url: str) -> None:
    """The window this trades for a round trip less per checkout: a connection the server dropped within
    ``PING_AFTER_IDLE`` of its last use fails its next statement (as any statement in flight would), and the pool,
    invalidated by that failure, hands out a new one next."""
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        first = _pid(engine)
        _terminate(database_url, first)
        with pytest.raises(DBAPIError) as failed:
            _pid(engine)
        assert failed.value.connection_invalidated
        assert _pid(engine) != first
    finally:
        engine.dispose()
