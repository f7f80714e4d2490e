"""The ``appointment-service`` command as a user runs it, on real databases: what the commands do in-process
(``tests.support.cli``), ``--help``, settings and ``serve`` as real processes."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from config import Settings
from tests.support.cli import CLI, in_process
from tests.support.processes import free_port


def run(
    settings: Settings, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """The command on ``settings``' database and data directory, in-process (see ``tests.support.cli``)."""
    env = {"APPOINTMENTS_DATABASE_URL": settings.resolved_database_url(), "APPOINTMENTS_DATA_DIR": settings.data_dir}
    result = in_process(args, env, stdin=stdin)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def as_json(settings: Settings, *args: str, stdin: str | None = None) -> Any:
    """The command's ``--json`` answer, parsed (its shape depends on the command)."""
    return json.loads(run(settings, *args, "--json", stdin=stdin).stdout)


def test_help_lists_every_command() -> None:
    result = subprocess.run([*CLI, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("serve", "demo", "db", "users", "tokens", "calendars", "appointments"):
        assert command in result.stdout
    users_help = subprocess.run([*CLI, "users", "add", "--help"], capture_output=True, text=True, timeout=60)
    assert "--role" in users_help.stdout and "--timezone" in users_help.stdout


def test_admin_commands(settings: Settings) -> None:
    assert as_json(settings, "db", "upgrade")["revision"]
    fitter = as_json(settings, "users", "add", "fitter.x", "--role", "fitter", "--timezone", "America/Denver")
    assert fitter["role"] == "fitter" and len(fitter["password"]) >= 16
    chosen = as_json(settings, "users", "set-password", "fitter.x", "--password-stdin", stdin="correct horse 1\n")
    assert chosen == {"username": "fitter.x", "password": "correct horse 1"}
    listed = as_json(settings, "users", "list")
    assert [u["username"] for u in listed] == ["fitter.x"]
    calendars = as_json(settings, "calendars", "list")
    assert [(c["name"], c["kind"], c["timezone"]) for c in calendars] == [("fitter.x", "fitter", "America/Denver")]
    team = as_json(settings, "calendars", "create", "West", "--kind", "team", "--timezone", "America/Denver")
    assert team["kind"] == "team"
    token = as_json(settings, "tokens", "issue", "fitter.x", "--scope", "read", "--name", "cockpit")
    assert token["token"].startswith("ast_") and token["scopes"] == ["read"]
    assert as_json(settings, "tokens", "revoke", token["id"]) == {"id": token["id"], "revoked": True}
    assert as_json(settings, "appointments", "list") == {"items": [], "next_cursor": None}
    text = run(settings, "calendars", "list").stdout
    assert "West" in text and "America/Denver" in text


def test_errors_are_clear_and_exit_non_zero(settings: Settings) -> None:
    run(settings, "db", "upgrade")
    duplicate = run(settings, "users", "add", "a", "--role", "admin")
    assert duplicate.returncode == 0
    again = run(settings, "users", "add", "a", "--role", "admin", check=False)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    bad_zone = run(settings, "users", "add", "b", "--role", "fitter", "--timezone", "Mars/Base", check=False)
    assert bad_zone.returncode == 2 and "timezone" in bad_zone.stderr
    unknown = run(settings, "tokens", "revoke", "no-such-token", check=False)
    assert unknown.returncode == 2 and "not found" in unknown.stderr
    bad_role = run(settings, "users", "add", "c", "--role", "wizard", check=False)
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr


def test_invalid_setting_stops_with_its_name(tmp_path: Path) -> None:
    env = {**os.environ, "APPOINTMENTS_PORT": "not-a-port", "APPOINTMENTS_DATA_DIR": str(tmp_path)}
    result = subprocess.run([*CLI, "users", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "APPOINTMENTS_PORT" in result.stderr and "Traceback" not in result.stderr


def test_demo_is_idempotent(settings: Settings) -> None:
    first = as_json(settings, "demo")
    second = as_json(settings, "demo")
    assert first["appointments"]["created"] > 100
    assert second["appointments"] == {"created": 0, "total": first["appointments"]["total"]}
    assert first["users"] == second["users"]
    roles = {u["role"] for u in first["users"]}
    assert roles == {"admin", "dispatcher", "service", "fitter", "consultant", "tech_setup"}
    zones = {c["timezone"] for u in first["users"] for c in u["calendars"] if u["role"] == "fitter"}
    assert len(zones) >= 3
    listed = as_json(settings, "appointments", "list", "--limit", "500")["items"]
    statuses = {a["status"] for a in listed}
    types = {a["meta"]["type"] for a in listed}
    assert statuses == {"INITIAL", "RESERVED", "BOOKED", "CANCELLED", "RESCHEDULED"}
    assert types == {"INITIAL", "FOLLOW_UP", "TECH_SETUP"}


@pytest.fixture
def demo_server(settings: Settings) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``serve --demo`` on ``settings``: on a migrated database with no demo in it (as on the first ``make run``)
    unless the test asks for ``demo`` too (as on a later one: the demo seeded already is re-run, idempotently)."""
    port = free_port()
    env = {
        **os.environ,
        "APPOINTMENTS_DATABASE_URL": settings.resolved_database_url(),
        "APPOINTMENTS_DATA_DIR": settings.data_dir,
    }
    process = subprocess.Popen(
        [*CLI, "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def test_serve_demo_prints_credentials_that_work(demo_server: tuple[str, subprocess.Popen[str]]) -> None:
    """On a migrated database with no demo yet: ``serve --demo`` seeding it, end to end, on each backend. The other
    ``serve --demo`` tests start on the demo seeded already (the conftest's ``demo``), except the one of
    tests/selfbooking/test_demo.py (SQLite, an empty data directory: ``make run``'s first start)."""
    base, process = demo_server
    assert process.stdout is not None
    printed: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            pytest.fail("serve --demo exited early:\n" + "".join(printed))
        printed.append(line)
        if line.startswith("Serving on"):
            break
    output = "".join(printed)
    assert base in output
    token_line = next(line for line in printed if line.startswith("dispatcher"))
    token = token_line.split()[3]
    assert token.startswith("ast_demo_")
    for _ in range(100):
        try:
            response = requests.get(
                f"{base}/api/v1/appointments",
                headers={"Authorization": f"Bearer {token}"},
                params={"limit": "500"},
                timeout=10,
            )
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    assert response.status_code == 200
    assert len(response.json()["items"]) > 100
    assert requests.get(f"{base}/readyz", timeout=10).json()["status"] == "ok"
    fitter_line = next(line for line in printed if line.startswith("fitter.denver"))
    fitter = requests.get(
        f"{base}/api/v1/appointments",
        headers={"Authorization": f"Bearer {fitter_line.split()[3]}"},
        params={"limit": "500"},
        timeout=10,
    ).json()["items"]
    assert fitter and {a["calendar"]["name"] for a in fitter} == {"Frank Fitter (Denver)"}


def _banner(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    printed: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            pytest.fail("serve --demo exited early:\n" + "".join(printed))
        printed.append(line)
        if line.startswith("Serving on"):
            return printed
    pytest.fail("no 'Serving on' line:\n" + "".join(printed))


@pytest.mark.usefixtures("demo")
def test_serve_demo_banner_is_quiet_and_every_url_it_prints_is_served(
    demo_server: tuple[str, subprocess.Popen[str]],
) -> None:
    base, process = demo_server
    printed = _banner(process)
    assert printed[0].startswith("Appointment Service demo"), printed[:3]  # no library log lines above it
    libraries = ("radicale", "apscheduler", "waitress", "alembic")  # their INFO lines are for --verbose
    assert not [line for line in printed if any(f" {name}" in line.lower() for name in libraries)]
    links = [line.split()[-1] for line in printed[2 : printed.index("\n", 2)]]
    assert links and all(link.startswith(base) for link in links)
    feeds = [line.split()[-1] for line in printed if "/feeds/" in line]
    assert feeds and all(link.startswith(base + "/feeds/") for link in feeds)
    for link in links + feeds[:1]:
        for _ in range(100):
            try:
                answer = requests.get(link, timeout=10, allow_redirects=False)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert answer.status_code != 404, link  # the first one above all (it used to be the root: a 404)
        assert answer.status_code < 500, link
    assert links[0] == base + "/"  # the service's front page comes first
    # The console stays quiet while the jobs tick (webhooks every 10 s): no per-tick lines unless --verbose.
    assert process.stdout is not None
    later: list[str] = []
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            break
        later.append(process.stdout.readline())
    assert not [line for line in later if " tick " in line or "salesforce " in line], later


@pytest.mark.usefixtures("demo")
def test_demo_urls_follow_the_configured_address(settings: Settings) -> None:
    env = {
        **os.environ,
        "APPOINTMENTS_DATABASE_URL": settings.resolved_database_url(),
        "APPOINTMENTS_DATA_DIR": settings.data_dir,
        "APPOINTMENTS_PORT": "18123",
    }
    env.pop("APPOINTMENTS_PUBLIC_URL", None)
    served = json.loads(subprocess.run([*CLI, "demo", "--json"], env=env, capture_output=True, timeout=120).stdout)
    urls = list(served["urls"].values())
    feed = served["users"][3]["calendars"][0]["feed"]
    assert urls and all(u.startswith("http://127.0.0.1:18123/") for u in urls)
    assert feed["url"].startswith("http://127.0.0.1:18123/feeds/") and "https" not in feed
    env["APPOINTMENTS_PUBLIC_URL"] = "https://appointments.example.org"
    public = json.loads(subprocess.run([*CLI, "demo", "--json"], env=env, capture_output=True, timeout=120).stdout)
    assert all(u.startswith("https://appointments.example.org/") for u in public["urls"].values())
    assert public["users"][3]["calendars"][0]["feed"]["url"].startswith("https://appointments.example.org/feeds/")


def test_a_database_never_migrated_says_to_run_db_upgrade(empty_database_url: str, tmp_path: Path) -> None:
    """It said only ``OperationalError: no such table: users`` (SQLite) or ``relation "users" does not exist``."""
    env = {"APPOINTMENTS_DATABASE_URL": empty_database_url, "APPOINTMENTS_DATA_DIR": str(tmp_path / "data")}
    for args in (["users", "list"], ["appointments", "list"]):
        result = in_process(args, env)
        assert result.returncode == 3, (result.returncode, result.stderr)
        (line,) = result.stderr.strip().splitlines()
        assert "run `appointment-service db upgrade`" in line and "Traceback" not in line, line
    assert in_process(["db", "upgrade"], env).returncode == 0
    assert in_process(["users", "list"], env).returncode == 0
