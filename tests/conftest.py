"""Fixtures: every database-backed test runs on SQLite and on a real PostgreSQL 15.

PostgreSQL is started once per session (``tests/support/postgres.py``); each test gets a database of its
own copied from a template made once per test process (``Templates``): migrated, with the ``people`` in it
when the test asks for them, or holding the demo (and its data directory: ``tests/support/demo.py``) when it asks
for ``demo``. Outside CI a missing PostgreSQL skips those tests with the reason; in CI (``CI`` set) it fails them.
"""

from __future__ import annotations

import copy
import gc
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from caldav_bridge.runtime import Runtime
from caldav_bridge.services import users
from caldav_bridge.store.engine import make_engine
from caldav_bridge.store.migrate import upgrade
from config import Settings, load_settings
from tests.support.demo import DemoTemplate, copy_data_dir, seed
from tests.support.live import Api, LiveServer, serve
from tests.support.postgres import PostgresServer, postgres_available
from tests.support.sqlite_files import checkpointed

#: The cyclic garbage collector's thresholds in a test process (CPython's are 700, 10, 10). A test process lives
#: through hundreds of tests that each build a runtime, an app and a server and let them go: with the default
#: thresholds, much of that survives two young collections and counts towards a full one, and full collections of
#: a heap of ~0.5 M objects cost ~0.3 s each. On 340 tests in one worker (2026-12-05): 36 full collections, 9.7 s
#: of 157 s of CPU; with these, 3-4, under 1 s, and the run 10 % less CPU. Garbage without cycles is freed at
#: once either way; cyclic garbage waits longer, which only costs memory.
GC_THRESHOLDS = (20_000, 20, 20)


def pytest_configure(config: pytest.Config) -> None:
    gc.set_threshold(*GC_THRESHOLDS)


BACKENDS = ["sqlite", "postgresql"]
#: For a test of something only PostgreSQL has (an exclusion constraint, advisory locks): it runs on
#: PostgreSQL alone instead of being collected for SQLite and skipped there.
postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
TEMPLATE = "appointments_template"
PEOPLE_TEMPLATE = "appointments_people_template"
DEMO_TEMPLATE = "appointments_demo_template"


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


def _add_people(database_url: str, data_dir: Path) -> People:
    """The five users of ``people`` with their secrets, added to a migrated database."""
    rt = Runtime.from_settings(load_settings(environ={}, database_url=database_url, data_dir=str(data_dir)))
    try:
        fitter = _person(rt, "fitter.denver", "fitter", ("write",), "America/Denver")
        fitter.read_token = users.issue_token(rt.uow(), "fitter.denver", ("read",), "read-only").secret
        return People(
            admin=_person(rt, "admin", "admin", ("admin",)),
            dispatcher=_person(rt, "dispatcher", "dispatcher", ("write",)),
            fitter=fitter,
            other_fitter=_person(rt, "fitter.berlin", "fitter", ("write",), "Europe/Berlin"),
            consultant=_person(rt, "consultant.miami", "consultant", ("write",), "America/New_York"),
        )
    finally:
        rt.close()


@dataclass(frozen=True)
class Templates:
    """Databases made once per test process and copied for each test: migrated, and migrated with the
    ``people`` (five scrypt hashes and a migration replay a test were a third of the suite's time).
    ``people`` holds the secrets of the users in the second; each test gets its own copy of both."""

    migrated: str
    with_people: str
    people: People


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    folder = tmp_path_factory.mktemp("templates")
    migrated, with_people = folder / "migrated.db", folder / "people.db"
    engine = make_engine(f"sqlite:///{migrated}")
    upgrade(engine)
    engine.dispose()
    checkpointed(migrated)
    shutil.copyfile(migrated, with_people)
    people = _add_people(f"sqlite:///{with_people}", folder / "data")
    checkpointed(with_people)
    return Templates(str(migrated), str(with_people), people)


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


@pytest.fixture(scope="session")
def pg_templates(pg_server: PostgresServer) -> Templates:
    pg_server.create_database(PEOPLE_TEMPLATE, TEMPLATE)
    data_dir = Path(tempfile.mkdtemp(prefix="pg-people-"))
    try:
        people = _add_people(pg_server.url(PEOPLE_TEMPLATE), data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return Templates(TEMPLATE, PEOPLE_TEMPLATE, people)


@pytest.fixture(scope="session")
def sqlite_demo_template(sqlite_templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> DemoTemplate:
    """The migrated template with the demo seeded into it (as ``appointment-service demo`` seeds it), and the data
    directory it was seeded with.

    The demo's appointments are placed around the day it is seeded (today): the template is made when a test of
    the session first asks for it and used in that session only, so its days are the session's. A test running
    after midnight gets the previous day's demo (a ``serve --demo`` on it adds nothing: the seed adds appointments
    only to demo calendars that hold none); the tests on it check nothing that depends on the day."""
    folder = tmp_path_factory.mktemp("demo-template")
    database = folder / "demo.db"
    shutil.copyfile(sqlite_templates.migrated, database)
    summary = seed(f"sqlite:///{database}", folder / "data")
    checkpointed(database)
    return DemoTemplate(str(database), folder / "data", summary)


@pytest.fixture(scope="session")
def pg_demo_template(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> DemoTemplate:
    """``sqlite_demo_template``'s PostgreSQL twin: a template database (see there for the day it is seeded on)."""
    pg_server.create_database(DEMO_TEMPLATE, TEMPLATE)
    data_dir = tmp_path_factory.mktemp("pg-demo-template") / "data"
    summary = seed(pg_server.url(DEMO_TEMPLATE), data_dir)
    return DemoTemplate(DEMO_TEMPLATE, data_dir, summary)


def _backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def _demo_template(request: pytest.FixtureRequest, backend: str) -> DemoTemplate:
    """The demo template of ``backend`` (one of ``BACKENDS``)."""
    template: DemoTemplate = request.getfixturevalue(
        "sqlite_demo_template" if backend == "sqlite" else "pg_demo_template"
    )
    return template


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of the test's own: with the ``people`` already in it if the test asks for them, with
    the demo if it asks for ``demo``."""
    with_people = "people" in request.fixturenames
    with_demo = "demo" in request.fixturenames
    assert not (with_people and with_demo), "the demo has users of the people's names: ask for one or the other"
    if request.param == "sqlite":
        database = tmp_path / "appointments.db"
        if with_demo:
            source = _demo_template(request, "sqlite").database
        else:
            templates: Templates = request.getfixturevalue("sqlite_templates")
            source = templates.with_people if with_people else templates.migrated
        shutil.copyfile(source, database)
        database.chmod(0o600)
        yield f"sqlite:///{database}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    if with_demo:
        template = _demo_template(request, "postgresql").database
    else:
        template = request.getfixturevalue("pg_templates").with_people if with_people else TEMPLATE
    name = "t_" + uuid.uuid4().hex[:16]
    yield server.create_database(name, template)
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
def settings(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    # Webhook receivers in tests listen on 127.0.0.1 over http: the one host allowed to be so. Suites that send
    # many bad requests in a row see each one's own answer (tests/hostile/test_refusal_throttle.py tests the limit).
    data_dir = tmp_path / "data"
    if "demo" in request.fixturenames:  # the demo's secrets are derived from the seed in the data directory
        copy_data_dir(_demo_template(request, _backend(database_url)), data_dir)
    return load_settings(
        environ={},
        database_url=database_url,
        data_dir=str(data_dir),
        webhook_insecure_hosts="127.0.0.1",
        refusal_limit_per_minute=1_000_000,
    )


@pytest.fixture
def demo(settings: Settings, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Asked for, the test's database and data directory (``settings``) hold the demo already, copied from a
    template seeded once per test process: for the tests whose subject is not the demo's first seeding (that is
    ~10 s of CPU; a ``serve --demo`` or ``appointment-service demo`` on the copy re-runs it idempotently, printing
    the same users and secrets). The value is what ``appointment-service demo --json`` printed when the template
    was seeded (with the default settings' URLs)."""
    template = _demo_template(request, _backend(settings.resolved_database_url()))
    return copy.deepcopy(template.summary)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.from_settings(settings)  # database_url is migrated already
    yield rt
    rt.close()


@pytest.fixture
def people(runtime: Runtime, request: pytest.FixtureRequest) -> People:
    """The admin, a dispatcher, two fitters and a consultant, with passwords and tokens (in the database
    ``database_url`` copied for this test)."""
    fixture = "sqlite_templates" if runtime.engine.dialect.name == "sqlite" else "pg_templates"
    templates: Templates = request.getfixturevalue(fixture)
    with runtime.uow() as uow:
        assert uow.users.by_username("admin") is not None, "people needs the runtime over database_url"
    return copy.deepcopy(templates.people)


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
