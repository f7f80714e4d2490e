"""No-shows: marked by staff (API, CLI), kept on the appointment and its customer booking, counted,
pushed to Salesforce (the configured checkbox); refused for future or cancelled appointments."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.selfbooking import monitor, no_show
from caldav_bridge.selfbooking.tables import CustomerBookingRow
from caldav_bridge.services.actor import system_actor
from sf_emulator.emulator import SalesforceEmulator, running_emulator
from tests.conftest import People
from tests.salesforce.conftest import make_context
from tests.scheduling.conftest import World
from tests.selfbooking.helpers import book, first_slot, team_link
from tests.support.cli import in_process
from tests.support.factories import appointment_body
from tests.support.live import LiveServer

EXT = "Appointment_Service_Id__c"


def test_a_self_booked_no_show_is_kept_counted_and_pushed(runtime: Runtime, world: World) -> None:
    rt = runtime.__class__.from_settings(runtime.settings.replace(sf_no_show_field="No_Show__c"), runtime.engine)
    secret = team_link(rt, world)
    start = first_slot(rt, secret, world)
    book(rt, secret, start)
    with rt.uow() as uow:
        booking = uow.session.scalar(select(CustomerBookingRow))
        assert booking is not None
        appointment_id = booking.appointment_id
    with pytest.raises(Exception, match="not started"):
        no_show.mark_no_show(rt.uow(), system_actor(), appointment_id, now=start - timedelta(minutes=1))
    marked = no_show.mark_no_show(rt.uow(), system_actor(), appointment_id, now=start + timedelta(minutes=20))
    again = no_show.mark_no_show(rt.uow(), system_actor(), appointment_id, now=start + timedelta(minutes=40))
    assert marked.self_booked and again.marked_at == marked.marked_at  # idempotent: the first mark is kept
    with rt.uow() as uow:
        booking = uow.session.scalar(select(CustomerBookingRow))
        assert booking is not None and booking.no_show_at == start + timedelta(minutes=20)
    assert monitor.status(rt.uow(), system_actor()).no_shows == 1
    with running_emulator(SalesforceEmulator()) as emulator:
        emulator.org.add_field("Event", "No_Show__c", "boolean")
        run_job(make_context(rt, emulator), "push")
        (record,) = [e for e in emulator.live("Event") if e.get(EXT) == appointment_id]
        assert record["No_Show__c"] is True


def test_the_api_and_the_cli(live: LiveServer, people: People, runtime: Runtime) -> None:
    api = live.client(people.dispatcher.token)
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    calendar_id = str(people.fitter.calendar_id)
    made = api.post("/api/v1/appointments", json=appointment_body(calendar_id, start=past)).json()
    future = api.post("/api/v1/appointments", json=appointment_body(calendar_id, start=past + timedelta(days=2))).json()
    assert "id" in made and "id" in future, (made, future)
    assert live.client(people.fitter.read_token).post(f"/api/v1/appointments/{made['id']}/no-show").status_code == 403
    assert api.post("/api/v1/appointments/nope/no-show").status_code == 404
    early = api.post(f"/api/v1/appointments/{future['id']}/no-show")
    assert early.status_code == 422 and early.headers["Content-Type"].startswith("application/problem+json")
    answer = api.post(f"/api/v1/appointments/{made['id']}/no-show")
    assert answer.status_code == 200 and answer.json()["self_booked"] is False
    assert api.get(f"/api/v1/appointments/{made['id']}").json()["meta"]["no_show"] is True
    assert api.get("/api/v1/messages/status").json()["no_shows"] == 1
    api.post(f"/api/v1/appointments/{future['id']}/cancel", json={"reason": "moved away"})
    env = {"APPOINTMENTS_DATABASE_URL": runtime.settings.resolved_database_url()}
    refused = in_process(["no-show", future["id"]], env)  # cancelled: refused with one line, nothing done
    assert refused.returncode == 2, refused.stderr
    assert "cancel" in refused.stderr.lower() and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    status = in_process(["messages", "status", "--json"], env)
    assert status.returncode == 0 and json.loads(status.stdout)["no_shows"] == 1
