"""Schedule in Salesforce, we handle it: an INITIAL that appears through the mirror gets the tech-setup call a
booking through the API gets (``sf_tech_setup_policy``: off, propose, book), once, written back by the push;
cancelled in Salesforce, its call is cancelled there too. Strict emulator over loopback, unmodified
simple-salesforce, SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from caldav_bridge.converters.salesforce import format_sf_datetime
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.runner import run_job, status
from caldav_bridge.scheduling.tables import AppointmentLinkRow
from caldav_bridge.services import users
from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.tables import AppointmentRow
from config import Settings
from sf_emulator.emulator import SalesforceEmulator
from tests.salesforce.conftest import add_opportunity, make_context
from tests.scheduling.conftest import World, build_world
from tests.support.live import serve

EXT = "Appointment_Service_Id__c"
DENVER = ZoneInfo("America/Denver")


def _runtime(settings: Settings, policy: str) -> Runtime:
    return Runtime.from_settings(dataclasses.replace(settings, sf_tech_setup_policy=policy))


@pytest.fixture(params=["book", "propose", "off"])
def policy_rt(request: pytest.FixtureRequest, settings: Settings, runtime: Runtime) -> Iterator[Runtime]:
    rt = _runtime(settings, request.param)  # the same (migrated) database as ``runtime``
    yield rt
    rt.close()


def _initial(emu: SalesforceEmulator, world: World, subject: str = "Consultation", **extra: Any) -> str:
    """An INITIAL scheduled in Salesforce on the Wednesday, 15:00 UTC (the tech-setup team is in Denver)."""
    start = datetime.combine(world.day(2), time(15), tzinfo=UTC)
    fields = {
        "Subject": subject,
        "StartDateTime": format_sf_datetime(start),
        "EndDateTime": format_sf_datetime(start.replace(hour=16)),
        "OwnerId": emu.integration_user,
        "WhatId": add_opportunity(emu),
        "Appointment_Type__c": "INITIAL",
        "Appointment_Status__c": "BOOKED",
        **extra,
    }
    return emu.create("Event", fields)


def _mirrored(rt: Runtime, sf_id: str) -> AppointmentRow:
    with rt.uow() as uow:
        link = uow.session.scalars(select(SfLinkRow).where(SfLinkRow.sf_id == sf_id)).one()
        row = uow.session.get(AppointmentRow, link.appointment_id)
        assert row is not None
        return row


def _tech_setups(rt: Runtime, initial_id: str) -> list[AppointmentRow]:
    with rt.uow() as uow:
        targets = uow.session.scalars(
            select(AppointmentLinkRow.target_id).where(
                AppointmentLinkRow.source_id == initial_id, AppointmentLinkRow.kind == "tech_setup"
            )
        ).all()
        rows = [uow.session.get(AppointmentRow, t) for t in targets]
        return [r for r in rows if r is not None]


def _ok(result: Any) -> None:
    assert result is not None and result.outcome == "ok", result


def test_an_initial_scheduled_in_salesforce_gets_its_tech_setup_by_the_policy(
    policy_rt: Runtime, emulator: SalesforceEmulator
) -> None:
    rt, policy = policy_rt, policy_rt.settings.sf_tech_setup_policy
    world = build_world(rt)
    sync = make_context(rt, emulator)
    sf_id = _initial(emulator, world)
    _ok(run_job(sync, "mirror"))
    initial = _mirrored(rt, sf_id)
    monday_nine = datetime.combine(world.day(0), time(9), tzinfo=DENVER).astimezone(UTC)
    calls = _tech_setups(rt, initial.id)
    recorded = (initial.meta_extra or {}).get("tech_setup")
    if policy == "off":
        assert calls == [] and recorded is None
        return
    if policy == "propose":
        assert calls == [], "a proposal books nothing"
        assert recorded is not None and recorded["status"] == "proposed" and recorded["policy"] == "propose"
        assert datetime.fromisoformat(recorded["date_start"]) == monday_nine
        assert recorded["calendar_id"] in (world.t1, world.t2) and recorded["team_id"] == world.tech
    else:
        assert len(calls) == 1 and calls[0].type == "TECH_SETUP" and calls[0].status == "BOOKED"
        assert calls[0].date_start.replace(tzinfo=UTC) == monday_nine, "two days before, the team's first slot"
        assert recorded is not None and recorded["status"] == "booked"
        assert recorded["appointment_id"] == calls[0].id
    # the push writes the result back: in book mode the call is an Event of its own; the INITIAL is not rewritten
    _ok(run_job(sync, "push"))
    written = [r for r in emulator.live("Event") if r.get("Appointment_Type__c") == "TECH_SETUP"]
    assert len(written) == (1 if policy == "book" else 0)
    if policy == "book":
        assert written[0][EXT] == calls[0].id and written[0]["WhatId"] == initial.sf_opportunity_gid
    # re-mirrored and updated in Salesforce: never a second call or proposal
    emulator.update("Event", sf_id, {"Subject": "Consultation (moved room)"})
    _ok(run_job(sync, "mirror"))
    _ok(run_job(sync, "mirror"))
    assert len(_tech_setups(rt, initial.id)) == (1 if policy == "book" else 0)
    again = (_mirrored(rt, sf_id).meta_extra or {}).get("tech_setup")
    assert again == recorded, "the recorded outcome stands"
    with rt.uow() as uow:
        report = status(uow, rt.settings)["tech_setup"]
    assert report["policy"] == policy
    assert report["proposed"] == (1 if policy == "propose" else 0)
    assert report["appointment_ids"] == ([initial.id] if policy == "propose" else [])


def test_cancelled_in_salesforce_its_mirrored_tech_setup_is_cancelled_and_pushed(
    settings: Settings, runtime: Runtime, emulator: SalesforceEmulator
) -> None:
    rt = _runtime(settings, "book")
    try:
        world = build_world(rt)
        sync = make_context(rt, emulator)
        sf_id = _initial(emulator, world)
        _ok(run_job(sync, "mirror"))
        _ok(run_job(sync, "push"))
        initial = _mirrored(rt, sf_id)
        (call,) = _tech_setups(rt, initial.id)
        (record,) = [r for r in emulator.live("Event") if r.get(EXT) == call.id]
        emulator.update("Event", sf_id, {"Appointment_Status__c": "CANCELLED"})
        _ok(run_job(sync, "mirror"))
        assert _mirrored(rt, sf_id).status == "CANCELLED"
        (cancelled,) = _tech_setups(rt, initial.id)
        assert cancelled.status == "CANCELLED", "the consequence holds for a mirror-originated INITIAL"
        _ok(run_job(sync, "push"))
        assert emulator.get("Event", record["Id"])["Appointment_Status__c"] == "CANCELLED"
        # booked again in Salesforce: the policy books a new call (the old one is cancelled), once
        emulator.update("Event", sf_id, {"Appointment_Status__c": "BOOKED"})
        _ok(run_job(sync, "mirror"))
        _ok(run_job(sync, "mirror"))
        live = [c for c in _tech_setups(rt, initial.id) if c.status != "CANCELLED"]
        assert len(live) == 1
    finally:
        rt.close()


def test_a_proposal_is_accepted_through_the_booking_api_and_withdrawn_with_its_initial(
    settings: Settings, runtime: Runtime, emulator: SalesforceEmulator
) -> None:
    rt = _runtime(settings, "propose")
    try:
        world = build_world(rt)
        sync = make_context(rt, emulator)
        first, second = _initial(emulator, world, "First"), _initial(emulator, world, "Second")
        _ok(run_job(sync, "mirror"))
        accepted, withdrawn = _mirrored(rt, first), _mirrored(rt, second)
        token = _token(rt, "dispatcher.sf", "dispatcher", "write")
        with serve(rt) as live:
            api = live.client(token)
            shown = api.get(f"/api/v1/appointments/{accepted.id}").json()["meta"]["tech_setup"]
            assert shown["status"] == "proposed", shown
            booked = api.post(f"/api/v1/bookings/{accepted.id}/tech-setup", json={})
            assert booked.status_code == 201, booked.text
            assert booked.json()["status"] == "booked"
            assert booked.json()["appointment"]["date_start"] == shown["date_start"], "the proposed slot"
            assert "tech_setup" not in api.get(f"/api/v1/appointments/{accepted.id}").json()["meta"]
            admin = live.client(_token(rt, "admin.sf", "admin", "admin"))
            report = admin.get("/api/v1/sync/status").json()["tech_setup"]
            assert report == {"policy": "propose", "proposed": 1, "appointment_ids": [withdrawn.id]}
        emulator.update("Event", second, {"Appointment_Status__c": "CANCELLED"})
        _ok(run_job(sync, "mirror"))
        assert (_mirrored(rt, second).meta_extra or {})["tech_setup"]["status"] == "withdrawn"
        assert _tech_setups(rt, withdrawn.id) == []
        with rt.uow() as uow:
            assert status(uow, rt.settings)["tech_setup"]["proposed"] == 0
    finally:
        rt.close()


def _token(rt: Runtime, username: str, role: str, scope: str) -> str:
    users.add_user(rt.uow(), username, role)
    return users.issue_token(rt.uow(), username, (scope,)).secret
