"""``appointment-service sync run --once`` and ``sync status`` as real processes against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from caldav_bridge.converters.salesforce import format_sf_datetime
from caldav_bridge.model.requests import AppointmentDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import appointments, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.dav_tables import DavItemRow
from caldav_bridge.store.tables import AppointmentRow
from sf_emulator.emulator import SalesforceEmulator

EXT = "Appointment_Service_Id__c"


def _cli(rt: Runtime, emu: SalesforceEmulator, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "APPOINTMENTS_DATABASE_URL": rt.settings.resolved_database_url(),
        "APPOINTMENTS_DATA_DIR": rt.settings.data_dir,
        "APPOINTMENTS_SF_AUTH": "password",
        "APPOINTMENTS_SF_USERNAME": emu.username,
        "APPOINTMENTS_SF_PASSWORD": emu.password,
        "APPOINTMENTS_SF_SECURITY_TOKEN": emu.security_token,
        "APPOINTMENTS_SF_PAGE_SIZE": "5",
        "SF_EMULATOR_URL": emu.base_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "tests.salesforce.cli_shim", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_sync_run_once_mirrors_and_pushes_as_a_process(runtime: Runtime, emulator: SalesforceEmulator) -> None:
    users.add_user(runtime.uow(), "fitter.cli", "fitter", email="cli@example.com")
    with runtime.uow() as uow:
        user = uow.users.by_username("fitter.cli")
        assert user is not None
        calendar_id = uow.calendars.ids_owned_by(user.id)[0]
    owner = emulator.create("User", {"Name": "Cli", "Email": "cli@example.com", "IsActive": True})
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    for i in range(12):  # more than two pages of 5
        at = start + timedelta(hours=i)
        emulator.create(
            "Event",
            {
                "Subject": f"From SF {i}",
                "StartDateTime": format_sf_datetime(at),
                "EndDateTime": format_sf_datetime(at + timedelta(minutes=30)),
                "OwnerId": owner,
            },
        )
    draft = AppointmentDraft.model_validate(
        {
            "calendar": {"id": calendar_id},
            "date_start": start + timedelta(days=1),
            "date_end": start + timedelta(days=1, hours=1),
            "name": "From the service",
            "meta": {"type": "INITIAL"},
            "status": "BOOKED",
        }
    )
    local = str(appointments.create(runtime.uow(), system_actor("api"), draft).appointment.id)

    out = _cli(runtime, emulator, "sync", "run", "--once", "--json")
    assert out.returncode == 0, out.stderr
    runs = json.loads(out.stdout)
    text = json.dumps(runs)
    assert '"mirror"' in text and '"push"' in text, text
    with runtime.uow() as uow:
        s = uow.session
        assert s.scalar(select(func.count()).select_from(AppointmentRow)) == 13
        assert s.scalar(select(func.count()).select_from(DavItemRow)) == 13  # CalDAV sees them
    pushed = [r for r in emulator.live("Event") if r.get(EXT) == local]
    assert len(pushed) == 1 and pushed[0]["Subject"] == "From the service"

    status = _cli(runtime, emulator, "sync", "status", "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["configured"] is True
    assert data["outbox"].get("pending", 0) == 0
    assert {w["object"] for w in data["watermarks"]} >= {"User", "Event"}
    assert data["last_runs"]["mirror"][0]["outcome"] == "ok"
