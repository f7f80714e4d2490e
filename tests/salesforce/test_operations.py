"""Sync status and dead letters over HTTP, the CLI as a real process, and the scheduler's jobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from caldav_bridge.model.requests import AppointmentDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import appointments
from caldav_bridge.services.actor import system_actor
from tests.conftest import People
from tests.salesforce.emulator import INVALID_MARK, SalesforceEmulator
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
    cli = [sys.executable, "-m", "feeds.cli"]
    out = subprocess.run(
        [*cli, "sync", "status", "--json"],
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
        [*cli, "sync", "run", "--once", "--mirror"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 2 and "not configured" in run.stderr


def test_scheduler_jobs_have_explicit_ids_and_persist(runtime: Runtime, sync: SyncContext) -> None:
    from caldav_bridge.jobs.scheduler import JOB_IDS, build_scheduler

    for _ in range(2):  # replace_existing: building again does not add jobs
        scheduler = build_scheduler(runtime, sync)
        scheduler.start(paused=True)
        try:
            assert sorted(j.id for j in scheduler.get_jobs()) == sorted(JOB_IDS.values())
        finally:
            scheduler.shutdown(wait=False)
