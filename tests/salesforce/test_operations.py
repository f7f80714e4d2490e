"""Sync status and dead letters over HTTP, the CLI as a real process, and the scheduler's jobs."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta

from caldav_bridge.model.requests import AppointmentDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import appointments
from caldav_bridge.services.actor import system_actor
from config import load_settings
from sf_emulator.emulator import INVALID_MARK, RedirectSession, SalesforceEmulator
from tests.conftest import People
from tests.support.cli import CLI
from tests.support.live import LiveServer


def _bad_appointment(rt: Runtime, calendar_id: str) -> str:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    draft = AppointmentDraft.model_validate(
        {
            "calendar": {"id": calendar_id},
            "date_start": start,
            "date_end": start + timedelta(hours=1),
            "name": f"Refused {INVALID_MARK}",
            "meta": {"type": "INITIAL"},
            "status": "BOOKED",
        }
    )
    return str(appointments.create(rt.uow(), system_actor("api"), draft).appointment.id)


def test_status_and_dead_letters_over_http(
    live: LiveServer, people: People, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    assert people.fitter.calendar_id
    bad = _bad_appointment(live.runtime, people.fitter.calendar_id)
    run_job(sync, "push")
    admin = live.client(people.admin.token)
    r = admin.get("/api/v1/sync/status")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outbox"]["dead"] == 1 and body["dead_letters"] == 1
    assert body["last_runs"]["push"][0]["outcome"] == "partial"
    assert body["api_usage"]["used"] >= 1
    letters = admin.get("/api/v1/sync/dead-letters").json()["items"]
    assert [d["appointment_id"] for d in letters] == [bad]
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in letters[0]["last_error"]
    assert admin.post(f"/api/v1/sync/dead-letters/{letters[0]['id']}/retry").json() == {"retried": 1}
    assert admin.post(f"/api/v1/sync/dead-letters/{letters[0]['id']}/retry").status_code == 404
    assert admin.get("/api/v1/sync/status").json()["outbox"]["pending"] == 1
    # not for a fitter's token
    assert live.client(people.fitter.token).get("/api/v1/sync/status").status_code == 403


def test_cli_sync_status_json_and_run_without_salesforce(runtime: Runtime) -> None:
    env = {**os.environ, "APPOINTMENTS_DATABASE_URL": runtime.settings.resolved_database_url()}
    env.pop("APPOINTMENTS_SF_AUTH", None)
    out = subprocess.run(
        [*CLI, "sync", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["configured"] is False and data["outbox"]["pending"] == 0
    run = subprocess.run(
        [*CLI, "sync", "run", "--once", "--mirror"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 2 and "not configured" in run.stderr


def test_scheduler_has_every_job_and_runs_the_salesforce_ones(runtime: Runtime, emulator: SalesforceEmulator) -> None:
    from caldav_bridge.jobs.catalog import build_scheduler
    from caldav_bridge.jobs.scheduler import SKIPPED
    from caldav_bridge.salesforce.state import acquire_lease

    core = [
        "webhooks-deliver",
        "scheduling-expire-holds",
        "caldav-prune-change-log",
        "audit-fold-reads",
        "appointments-encode",
        "messages-deliver",
        "booking-reminders",
    ]
    assert [j.id for j in build_scheduler(runtime).jobs] == core  # Salesforce not configured: its jobs are not built
    settings = load_settings(
        environ={},
        database_url=runtime.settings.resolved_database_url(),
        data_dir=runtime.settings.data_dir,
        sf_auth="password",
        sf_username=emulator.username,
        sf_password=emulator.password,
        sf_security_token=emulator.security_token,
        sf_mirror_interval_seconds=45,
    )
    rt = Runtime(settings, runtime.engine, runtime.session_factory)
    scheduler = build_scheduler(rt, session_factory=lambda: RedirectSession(emulator.base_url, 5.0), holder="here:1")
    assert [j.id for j in scheduler.jobs] == ["salesforce-mirror", "salesforce-push", "salesforce-reconcile", *core]
    mirror, push = scheduler.get_job("salesforce-mirror"), scheduler.get_job("salesforce-push")
    assert mirror is not None and push is not None and mirror.trigger.describe() == "every 45s"
    assert mirror.run() is True
    assert acquire_lease(rt.uow(), "sf:push", "elsewhere:2", timedelta(minutes=5))
    assert push.run() is SKIPPED  # another process holds the push: this tick is declined, not run twice
