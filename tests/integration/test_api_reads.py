"""API reads that do not queue: read-only transactions, the audit written after the read, cached tokens.

Over real HTTP on loopback against a real server, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask, Response
from sqlalchemy import Engine, Pool, event, select, text

from caldav_bridge.runtime import Runtime
from caldav_bridge.services import users
from caldav_bridge.services.mapping import appointment_from_row
from caldav_bridge.store.read_audit import Reads
from caldav_bridge.store.tables import AppointmentRow, AuditRow
from feeds.app import create_app
from tests.conftest import People
from tests.support.audit import audit_row_count, audit_trail, recorded_reads, refuse_audit_writes, staged_reads
from tests.support.factories import appointment_body
from tests.support.live import Api, LiveServer, serve

T0 = datetime(2031, 5, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """Every SQL statement the runtime's engine runs (BEGINs included), from now on; on SQLite also, prefixed
    ``(driver)``, every statement sent on a driver connection past the engine (``store/driver.py``)."""
    seen: list[str] = []
    engine_sending = threading.local()

    def on_execute(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        engine_sending.on = True
        seen.append(f"{statement} -- {len(parameters)} rows" if many else statement)

    def after_execute(*_args: Any) -> None:
        engine_sending.on = False

    def on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        seen.append("BEGIN (read)" if options.get("appointments_read_only") else "BEGIN (write)")

    def on_driver_statement(statement: str) -> None:  # SQLite: what runs past the engine
        if not getattr(engine_sending, "on", False):
            seen.append(f"(driver) {statement}")

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.set_trace_callback(on_driver_statement)

    def on_checkin(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.set_trace_callback(None)

    listeners: list[tuple[Engine | Pool, str, Callable[..., None]]] = [
        (runtime.engine, "before_cursor_execute", on_execute),
        (runtime.engine, "after_cursor_execute", after_execute),
        (runtime.engine, "begin", on_begin),
    ]
    if runtime.engine.dialect.name == "sqlite":
        listeners += [(runtime.engine.pool, "checkout", on_checkout), (runtime.engine.pool, "checkin", on_checkin)]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    yield seen
    for target, name, listener in listeners:
        event.remove(target, name, listener)


def _create(api: Api, calendar_id: str, n: int, **overrides: Any) -> list[str]:
    ids = []
    for i in range(n):
        body = appointment_body(calendar_id, start=T0 + timedelta(hours=3 * i), **overrides)
        response = api.post("/api/v1/appointments", json=body)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def _encoded(app: Flask, value: Any) -> bytes:
    """The body Flask's JSON provider writes for ``value`` (it is annotated with werkzeug's sansio base)."""
    response = app.json.response(value)
    assert isinstance(response, Response), response
    return response.get_data()


def _audit_rows(runtime: Runtime) -> list[AuditRow]:
    return audit_trail(runtime, AuditRow.action == "read")


def test_a_list_is_one_statement_and_its_audit_recorded_once(
    runtime: Runtime, live: LiveServer, people: People, statements: list[str]
) -> None:
    api = live.client(people.dispatcher.token)
    ids = _create(api, people.fitter.calendar_id or "", 12)
    api.get("/api/v1/appointments", params={"limit": 1})  # the token is resolved and cached
    audited_before = len(_audit_rows(runtime))
    recorded_before = recorded_reads(runtime)
    statements.clear()

    response = api.get("/api/v1/appointments", params={"limit": 50})

    assert response.status_code == 200
    assert sorted(i["id"] for i in response.json()["items"]) == sorted(ids)
    if runtime.engine.dialect.name == "sqlite":
        # the page with its guests as one text (SQLite writes it) and the authorisation clock (the cached token's
        # check), on a driver connection; the read's audit is one line in this process's spool file, no write to
        # the database (store/read_spool.py)
        assert [s.split()[:2] for s in statements] == [["(driver)", "SELECT"]], statements
        assert "appointment_guests" in statements[0] and "auth_clock" in statements[0], statements
    else:  # PostgreSQL: the read and its audit row, on driver connections, which are not traced here
        assert statements == [], statements
    assert recorded_reads(runtime) == recorded_before + 1  # one row or line for the read of 12
    audited = [r.appointment_id for r in _audit_rows(runtime)[audited_before:]]  # folded first
    assert staged_reads(runtime) == 0
    assert sorted(audited, key=str) == sorted(ids)
    assert {r.actor for r in _audit_rows(runtime)} == {"dispatcher"}


def test_a_single_read_is_one_statement_and_its_audit_recorded_once(
    runtime: Runtime, live: LiveServer, people: People, statements: list[str]
) -> None:
    api = live.client(people.dispatcher.token)
    [appointment_id] = _create(api, people.fitter.calendar_id or "", 1)
    api.get(f"/api/v1/appointments/{appointment_id}")  # the token is resolved and cached
    audited_before = len(_audit_rows(runtime))
    recorded_before = recorded_reads(runtime)
    statements.clear()

    response = api.get(f"/api/v1/appointments/{appointment_id}")

    assert response.status_code == 200 and response.json()["id"] == appointment_id
    if runtime.engine.dialect.name == "sqlite":
        # the appointment with its guests as its canonical JSON (SQLite writes it) and the authorisation clock (the
        # cached token's check), on a driver connection; its audit one line in the spool file, as the list's
        assert [s.split()[:2] for s in statements] == [["(driver)", "SELECT"]], statements
        assert "auth_clock" in statements[0]
        assert "appointment_guests" in statements[0] and "json_quote(" in statements[0]
    else:  # PostgreSQL: the read and its audit row, on driver connections, which are not traced here
        assert statements == [], statements
    assert recorded_reads(runtime) == recorded_before + 1
    assert [r.appointment_id for r in _audit_rows(runtime)[audited_before:]] == [appointment_id]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the write lock is SQLite's
def test_a_read_does_not_wait_for_a_writer_holding_the_lock(runtime: Runtime, people: People) -> None:
    """SQLite: while another connection holds the write lock, a read-only unit of work still reads."""
    writer = runtime.engine.connect()
    writer.exec_driver_sql("UPDATE calendars SET name = name")  # BEGIN IMMEDIATE: holds the write lock
    done = threading.Event()
    found: list[int] = []

    def read() -> None:
        with runtime.uow().reading() as uow:
            found.append(len(uow.calendars.search()))
        done.set()

    thread = threading.Thread(target=read)
    thread.start()
    try:
        assert done.wait(20), "a read-only unit of work waited for the write lock"
    finally:
        writer.rollback()
        writer.close()
        thread.join()
    assert found and found[0] >= 1


def test_a_read_whose_audit_fails_answers_an_error_not_the_data(
    runtime: Runtime, live: LiveServer, people: People
) -> None:
    api = live.client(people.dispatcher.token)
    [appointment_id] = _create(api, people.fitter.calendar_id or "", 1)
    api.get("/api/v1/appointments", params={"limit": 1})
    refuse_audit_writes(runtime.engine)
    before = audit_row_count(runtime.engine)

    for path in (f"/api/v1/appointments/{appointment_id}", "/api/v1/appointments"):
        response = api.get(path)
        assert response.status_code == 503, response.text
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert "Jane" not in response.text and "Hearing aid" not in response.text and "date_start" not in response.text
        assert "audit" in response.json()["detail"]
    assert audit_row_count(runtime.engine) == before


@pytest.mark.parametrize("mixed", [False, True], ids=["one read", "two reads"])
def test_a_reads_audit_rows_are_written_as_given(runtime: Runtime, mixed: bool) -> None:
    """One actor's read (one staged batch) and two reads in one unit of work (one batch each, one executemany):
    every column as given, once folded, one ``audit_log`` row per appointment read."""
    at = T0 + timedelta(microseconds=123_000)
    reads = [Reads(at, "dispatcher", "api", "read", "req-1", [(f"appt-{i}", "cal-1") for i in range(3)])]
    if mixed:
        later = at + timedelta(seconds=1)
        reads.append(Reads(later, "fitter.denver", "api", "read_history", "req-2", [("appt-9", "cal-2")], "why"))
    with runtime.uow().reading() as uow:
        for read in reads:
            uow.audit_reads(read)
        uow.commit()
    assert recorded_reads(runtime) == len(reads)
    stored = audit_trail(runtime)
    found = [
        {k: getattr(r, k) for k in ("at", "actor", "channel", "action", "appointment_id", "calendar_id", "request_id")}
        | {"detail": r.detail}
        for r in stored
        if r.appointment_id and r.appointment_id.startswith("appt-")
    ]
    expected = [row for read in reads for row in read.rows()]
    assert sorted(found, key=lambda r: r["appointment_id"]) == sorted(expected, key=lambda r: r["appointment_id"])


def test_a_read_only_unit_of_work_refuses_to_write(runtime: Runtime, people: People) -> None:
    with runtime.uow().reading() as uow:
        calendar = uow.calendars.search()[0]
        calendar.name = "renamed in a read"
        with pytest.raises(RuntimeError, match="read-only"):
            uow.session.flush()


def _revoke_everywhere(runtime: Runtime, token_name: str) -> None:
    with runtime.engine.begin() as conn:  # as another tool or process would: straight in the database
        conn.execute(
            text("UPDATE api_tokens SET revoked_at = :now WHERE name = :name"), {"now": T0, "name": token_name}
        )


def test_a_cached_token_is_refused_at_once_after_a_revocation_by_another_process(
    runtime: Runtime, people: People
) -> None:
    """Two apps on one database stand for two processes: each caches the token; a revocation made by a
    third party (straight SQL, or the CLI's service) is seen by both on their next request."""
    token = users.issue_token(runtime.uow(), "dispatcher", ("read",), "cockpit").secret
    other_rt = Runtime.from_settings(runtime.settings)
    try:
        with serve(runtime) as one, serve(other_rt) as two:
            apis = [one.client(token), two.client(token)]
            [appointment_id] = _create(one.client(people.dispatcher.token), people.fitter.calendar_id or "", 1)
            paths = ("/api/v1/appointments", f"/api/v1/appointments/{appointment_id}")
            for api in apis:
                for path in paths * 2:
                    assert api.get(path).status_code == 200
            _revoke_everywhere(runtime, "cockpit")
            for api in apis:
                for path in paths:
                    assert api.get(path).status_code == 401, path

            # a deactivated user is refused at once as well
            fitter = users.issue_token(runtime.uow(), "fitter.berlin", ("read",), "phone").secret
            fitter_api = two.client(fitter)
            assert fitter_api.get("/api/v1/appointments").status_code == 200
            with runtime.engine.begin() as conn:
                conn.execute(text("UPDATE users SET active = :no WHERE username = 'fitter.berlin'"), {"no": False})
            assert fitter_api.get("/api/v1/appointments").status_code == 401
    finally:
        other_rt.close()


def test_a_cached_token_sees_a_new_calendar_of_its_user(runtime: Runtime, live: LiveServer, people: People) -> None:
    """What an actor reaches is cached with the token; a calendar given to its user moves the clock."""
    fitter = live.client(people.fitter.token)
    dispatcher = live.client(people.dispatcher.token)
    other_calendar = people.other_fitter.calendar_id or ""
    _create(dispatcher, other_calendar, 1)
    assert fitter.get("/api/v1/appointments").json()["items"] == []
    with runtime.engine.begin() as conn:
        user_id = conn.execute(text("SELECT id FROM users WHERE username = 'fitter.denver'")).scalar_one()
        conn.execute(text("UPDATE calendars SET owner_user_id = :u WHERE id = :c"), {"u": user_id, "c": other_calendar})
    assert len(fitter.get("/api/v1/appointments").json()["items"]) == 1


GUEST_VARIANTS: list[dict[str, Any]] = [
    {"guests": []},
    {"guests": [{"id": "c-ü", "first_name": "Zoë", "last_name": None, "timezone": "Europe/Berlin", "note": [1, 2]}]},
    {
        "guests": [
            {"id": "g1", "first_name": "Ann", "timezone": "UTC"},
            {"id": "g2", "last_name": "O'Brien", "extra": {"nested": {"deep": True}}},
        ]
    },
    {"description": None, "meta": {"type": "TECH_SETUP", "z": 1, "a": "x"}},
    {"name": 'Fitting \u2014 "quoted" & <tagged>', "meta": {"type": "FOLLOW_UP", "salesforce": {}}},
    {"meta": {"type": "INITIAL", "salesforce": {"appointment_gid": "08p000000000001"}, "emoji": "\U0001f50a"}},
]


def test_the_fast_json_is_byte_for_byte_what_the_models_dump(
    runtime: Runtime, live: LiveServer, people: People
) -> None:
    api = live.client(people.dispatcher.token)
    calendar_id = people.fitter.calendar_id or ""
    for i, variant in enumerate(GUEST_VARIANTS):
        body = appointment_body(calendar_id, start=T0 + timedelta(days=i), minutes=15 + 7 * i, **variant)
        assert api.post("/api/v1/appointments", json=body).status_code == 201
    app = create_app(rt=runtime)

    listed = api.get("/api/v1/appointments", params={"limit": 50})
    ids = [item["id"] for item in listed.json()["items"]]
    with app.app_context(), runtime.uow() as uow:
        rows = {r.id: r for r in uow.session.scalars(select(AppointmentRow))}
        models = [appointment_from_row(rows[i]).model_dump(mode="json") for i in ids]
        expected_list = _encoded(app, {"items": models, "next_cursor": None})
        expected_one = {i: _encoded(app, m) for i, m in zip(ids, models, strict=True)}
    assert len(ids) == len(GUEST_VARIANTS)
    assert listed.content == expected_list
    for appointment_id in ids:
        assert api.get(f"/api/v1/appointments/{appointment_id}").content == expected_one[appointment_id]
    assert json.loads(listed.content)["items"][1]["guests"] is not None
