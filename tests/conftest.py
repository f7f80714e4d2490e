"""Fixtures: every database-backed test runs on SQLite and on a real PostgreSQL 15.

PostgreSQL is started once per session (``tests/support/postgres.py``); each test gets a fresh
database cloned from a migrated template. Outside CI a missing PostgreSQL skips those tests with
the reason; in CI (``CI`` set) it fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from caldav_bridge.runtime import Runtime
from caldav_bridge.services import users
from caldav_bridge.store.engine import make_engine
from caldav_bridge.store.migrate import upgrade
from config import Settings, load_settings
from tests.support.live import Api, LiveServer, serve
from tests.support.postgres import PostgresServer, postgres_available

BACKENDS = ["sqlite", "postgresql"]
#: For a test of something only PostgreSQL has (an exclusion constraint, advisory locks): it runs on
#: PostgreSQL alone instead of being collected for SQLite and skipped there.
postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
TEMPLATE = "appointments_template"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    reason = postgres_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(f"PostgreSQL not available: {reason}")
    with PostgresServer() as server:
        engine = make_engine(server.create_database(TEMPLATE))
        upgrade(engine)
        engine.dispose()
        yield server


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'appointments.db'}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(TEMPLATE)))
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all (not cloned from the migrated template)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = "e_" + uuid.uuid4().hex[:16]
    url = server.create_database(name)
    yield url
    server.drop_database(name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Webhook receivers in tests listen on 127.0.0.1 over http: the one host allowed to be so. Suites that send
    # many bad requests in a row see each one's own answer (tests/hostile/test_refusal_throttle.py tests the limit).
    return load_settings(
        environ={},
        database_url=database_url,
        data_dir=str(tmp_path / "data"),
        webhook_insecure_hosts="127.0.0.1",
        refusal_limit_per_minute=1_000_000,
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.from_settings(settings)
    upgrade(rt.engine)
    yield rt
    rt.close()


@dataclass
class Person:
    username: str
    password: str
    token: str
    calendar_id: str | None
    read_token: str | None = None


@dataclass
class People:
    admin: Person
    dispatcher: Person
    fitter: Person
    other_fitter: Person
    consultant: Person


def _person(rt: Runtime, username: str, role: str, scopes: tuple[str, ...], zone: str = "UTC") -> Person:
    _, password = users.add_user(rt.uow(), username, role, timezone=zone)
    token = users.issue_token(rt.uow(), username, scopes).secret
    with rt.uow() as uow:
        user = uow.users.by_username(username)
        assert user is not None
        owned = uow.calendars.ids_owned_by(user.id)
    return Person(username, password, token, owned[0] if owned else None)


@pytest.fixture
def people(runtime: Runtime) -> People:
    fitter = _person(runtime, "fitter.denver", "fitter", ("write",), "America/Denver")
    fitter.read_token = users.issue_token(runtime.uow(), "fitter.denver", ("read",), "read-only").secret
    return People(
        admin=_person(runtime, "admin", "admin", ("admin",)),
        dispatcher=_person(runtime, "dispatcher", "dispatcher", ("write",)),
        fitter=fitter,
        other_fitter=_person(runtime, "fitter.berlin", "fitter", ("write",), "Europe/Berlin"),
        consultant=_person(runtime, "consultant.miami", "consultant", ("write",), "America/New_York"),
    )


@pytest.fixture
def live(runtime: Runtime) -> Iterator[LiveServer]:
    with serve(runtime) as server:
        yield server


@pytest.fixture
def dispatcher_api(live: LiveServer, people: People) -> Api:
    return live.client(people.dispatcher.token)


@pytest.fixture
def fitter_api(live: LiveServer, people: People) -> Api:
    return live.client(people.fitter.token)
