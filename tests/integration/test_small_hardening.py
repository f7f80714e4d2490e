"""Small hardening: private file modes, the history read audited, no password from the user field in logs."""

from __future__ import annotations

import logging
import os
import stat
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests

from caldav_bridge.runtime import Runtime
from caldav_bridge.selfbooking.delivery import FileTransport
from caldav_bridge.store.engine import make_engine
from caldav_bridge.store.private_files import private_dir, private_file, write_private
from caldav_bridge.store.tables import AuditRow
from config import load_settings
from tests.conftest import People
from tests.support.audit import audit_trail
from tests.support.live import LiveServer


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> object:
    old = os.umask(0o022)  # what most systems run services with
    try:
        yield
    finally:
        os.umask(old)


def test_the_sqlite_database_and_its_directory_are_private(tmp_path: Path, open_umask: object) -> None:
    settings = load_settings(environ={}, data_dir=str(tmp_path / "var" / "data"))
    engine = make_engine(settings.resolved_database_url())
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x TEXT)")
        connection.exec_driver_sql("INSERT INTO t VALUES ('Erika Mustermann')")
    database = tmp_path / "var" / "data" / "appointments.db"
    assert mode(database) == 0o600
    assert mode(database.parent) == 0o700 and mode(database.parent.parent) == 0o700
    for suffix in ("-wal", "-shm"):
        side = Path(f"{database}{suffix}")
        if side.exists():
            assert mode(side) == 0o600, suffix
    engine.dispose()
    # a database made readable for everyone before this release is tightened on the next start
    database.chmod(0o644)
    make_engine(settings.resolved_database_url()).dispose()
    assert mode(database) == 0o600


def test_helpers_and_the_mail_sink_write_private_files(tmp_path: Path, open_umask: object) -> None:
    assert mode(private_dir(tmp_path / "a" / "b")) == 0o700
    assert mode(private_file(tmp_path / "a" / "b" / "f")) == 0o600
    write_private(tmp_path / "c" / "g", b"secret")
    assert mode(tmp_path / "c") == 0o700 and mode(tmp_path / "c" / "g") == 0o600
    message = EmailMessage()
    message["Message-ID"] = "<m1@example.test>"
    message.set_content("Dear Erika Mustermann")
    FileTransport(tmp_path / "mail").send(message)
    assert mode(tmp_path / "mail") == 0o700 and mode(tmp_path / "mail" / "m1.eml") == 0o600


def test_reading_the_history_is_audited(live: LiveServer, people: People, runtime: Runtime) -> None:
    api = live.client(people.fitter.token)
    body = {
        "calendar": {"id": people.fitter.calendar_id},
        "date_start": "2026-12-14T16:00:00Z",
        "date_end": "2026-12-14T17:00:00Z",
        "name": "Fitting Erika Mustermann",
        "meta": {"type": "FOLLOW_UP"},
    }
    created = api.post("/api/v1/appointments", json=body)
    assert created.status_code == 201, created.text
    appointment_id = created.json()["id"]

    def audited() -> list[str]:
        return [a.action for a in audit_trail(runtime, AuditRow.appointment_id == appointment_id)]

    before = audited()
    history = api.get(f"/api/v1/appointments/{appointment_id}/history")
    assert history.status_code == 200, history.text
    after = audited()
    assert len(after) == len(before) + 1 and after.count("read_history") == 1


def test_a_password_typed_as_user_name_is_not_logged(
    live: LiveServer, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "Tr0ub4dor&3-horse-battery"
    caplog.set_level(logging.DEBUG)
    url = f"{live.base_url}/dav/{people.fitter.username}/"
    response = requests.request("PROPFIND", url, auth=(secret, "x"), headers={"Depth": "0"}, timeout=30)
    assert response.status_code == 401
    assert secret not in caplog.text
    assert "login failed" in caplog.text.lower()
    # a known user's failed login still names the user
    response = requests.request("PROPFIND", url, auth=(people.fitter.username, secret), timeout=30)
    assert response.status_code == 401
    assert people.fitter.username in caplog.text and secret not in caplog.text
