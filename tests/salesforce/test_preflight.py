"""Preflight (``sync check``): the org's describe metadata against what the sync needs, before anything is
written; the jobs stay off until it passes, and ``/readyz`` says why. Strict emulator over loopback."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select

from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.preflight import PreflightGate, check, last_report
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.store.migrate import upgrade
from caldav_bridge.store.sf_tables import SfJobRunRow
from sf_emulator.emulator import SalesforceEmulator
from tests.salesforce.test_cli_emulator import _cli
from tests.support.live import serve

MISCONFIGURED = [
    "Event: the integration user lacks the 'Delete' permission",
    "Event.Appointment_Service_Id__c: must be marked External ID and Unique",
    "Event.Subject: the integration user cannot update it (field-level security)",
    "Event.Appointment_Type__c: missing: the org has no such field (or the integration user cannot see it)",
    "Event.Appointment_Status__c: picklist lacks the value 'RESCHEDULED' that the mapping writes",
]


def _break(emu: SalesforceEmulator) -> None:
    """An org set up by half: one custom field missing, a picklist value, the external id not unique,
    a field the profile may not edit, no delete permission, no Shared Activities."""
    emu.org.drop_field("Event", "Appointment_Type__c")
    emu.org.set_picklist("Event", "Appointment_Status__c", ["INITIAL", "RESERVED", "BOOKED", "CANCELLED"])
    field = emu.org.field("Event", "Appointment_Service_Id__c")
    assert field is not None
    field["unique"] = False
    emu.org.set_access("Event", "Subject", createable=True, updateable=False)
    emu.org.set_object_access("Event", deletable=False)
    emu.shared_activities = False


def test_a_well_set_up_org_passes(emulator: SalesforceEmulator, sync: SyncContext) -> None:
    report = check(sync.gateway_factory(), sync.mapping)
    assert report.ok, report.problems
    assert report.shared_activities is True
    assert report.api_max == emulator.api_limit and report.api_remaining == emulator.api_limit - emulator.api_used
    assert emulator.live("Event") == [], "the preflight writes nothing"


def test_each_problem_is_reported_once_before_anything_is_written(
    emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    _break(emulator)
    report = check(sync.gateway_factory(), sync.mapping)
    assert [p.line() for p in report.problems] == MISCONFIGURED
    assert report.shared_activities is False
    # service-appointment mode: its own objects, fields and the Status values the mapping writes
    emulator.org.set_picklist("ServiceAppointment", "Status", ["None", "Scheduled"])
    emulator.org.set_access("AssignedResource", "ServiceResourceId", createable=True, updateable=False)
    sa = replace(sync.mapping, mode="service_appointment")
    lines = [p.line() for p in check(sync.gateway_factory(), sa).problems]
    assert lines == [
        "ServiceAppointment.Status: picklist lacks the value 'Canceled' that the mapping writes",
        "AssignedResource.ServiceResourceId: the integration user cannot update it (field-level security)",
    ]
    # the no-show checkbox, when configured, must exist as a checkbox
    emulator.org.add_field("Event", "No_Show__c", "string")
    no_show = replace(sync.mapping, no_show_field="No_Show__c")
    lines = [p.line() for p in check(sync.gateway_factory(), no_show).problems]
    assert "Event.No_Show__c: has type string, the sync needs boolean" in lines


def test_sync_check_cli_exit_codes_and_lines(runtime: Runtime, emulator: SalesforceEmulator) -> None:
    ok = _cli(runtime, emulator, "sync", "check")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[-3:] == [
        "Shared Activities: on",
        f"API requests left today: {emulator.api_limit - emulator.api_used} of {emulator.api_limit}",
        "ok: the org has what the sync needs",
    ]
    _break(emulator)
    bad = _cli(runtime, emulator, "sync", "check")
    assert bad.returncode == 2, bad.stderr
    assert [line.removeprefix("problem: ") for line in bad.stdout.splitlines()[:5]] == MISCONFIGURED
    assert "Shared Activities: off" in bad.stdout and "5 problem(s): sync jobs stay off" in bad.stdout
    as_json = _cli(runtime, emulator, "sync", "check", "--json")
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["problems"] == MISCONFIGURED


def test_jobs_stay_off_until_the_preflight_passes_and_readyz_says_why(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    _break(emulator)
    owner = emulator.create("User", {"Name": "Gate", "Email": "gate@example.com", "IsActive": True})
    sync.gate = PreflightGate(recheck=timedelta(hours=1))
    queried_before = list(emulator.stats.queried)
    result = run_job(sync, "mirror")
    assert result is not None and result.outcome == "held"
    assert emulator.stats.queried == queried_before, "a held job reads no records"
    with runtime.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(SfJobRunRow)) == 0
    report = last_report(runtime.uow())
    assert report is not None and report["ok"] is False and report["problems"] == MISCONFIGURED
    # the rest of the service is up; /readyz says the sync is held and why
    settings = replace(runtime.settings, sf_auth="password", sf_username=emulator.username)
    rt = Runtime.from_settings(settings)
    upgrade(rt.engine)
    with serve(rt) as server:
        ready = server.client().get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["salesforce_sync"] == "held until the preflight passes"
        assert body["salesforce_problems"] == MISCONFIGURED
    # fixed in the org: the next check (after the recheck interval) opens the gate and the job runs
    emulator.org = type(emulator.org)()
    assert run_job(sync, "mirror") is not None and run_job(sync, "mirror").outcome == "held"  # type: ignore[union-attr]
    sync.gate.recheck = timedelta(0)
    emulator.create(
        "Event",
        {
            "Subject": "after the fix",
            "StartDateTime": "2027-01-04T09:00:00.000+0000",
            "EndDateTime": "2027-01-04T10:00:00.000+0000",
            "OwnerId": owner,
        },
    )
    result = run_job(sync, "mirror")
    assert result is not None and result.outcome == "ok" and result.created == 1, result
    assert (last_report(runtime.uow()) or {}).get("ok") is True
    rt.close()
