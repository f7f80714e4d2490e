"""Type and status mapping tables both ways, unmapped values kept as written, and echoes that never
rewrite our fields; against the strict emulator over loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from caldav_bridge.converters.salesforce import UNMAPPED_META, SalesforceMapping, format_sf_datetime
from caldav_bridge.model.requests import AppointmentDraft, AppointmentPatch, CancelRequest
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.runner import run_job, status
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import appointments, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.tables import AppointmentRow
from config.settings import SettingsError, load_settings
from sf_emulator.emulator import SalesforceEmulator
from tests.salesforce.conftest import add_opportunity

T0 = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=4)
#: An org whose admin named the picklist values in words, not in our canonical names.
ORG_STATUSES = ["New", "On Hold", "Reserved", "Booked", "Cancelled", "Moved"]
ORG_TYPES = ["First consultation", "Follow-up", "Tech Setup"]
MAPPING: dict[str, Any] = {
    "sf_status_values": {
        "INITIAL": "New",
        "RESERVED": "Reserved",
        "BOOKED": "Booked",
        "CANCELLED": "Cancelled",
        "RESCHEDULED": "Moved",
    },
    "sf_status_aliases": {"Canceled": "CANCELLED"},
    "sf_type_values": {"INITIAL": "First consultation", "FOLLOW_UP": "Follow-up", "TECH_SETUP": "Tech Setup"},
}


@pytest.fixture
def worded(runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext) -> tuple[SyncContext, str, str]:
    emulator.org.set_picklist("Event", "Appointment_Status__c", ORG_STATUSES)
    emulator.org.set_picklist("Event", "Appointment_Type__c", ORG_TYPES)
    settings = load_settings(environ={}, **MAPPING)
    sync.mapping = SalesforceMapping.from_settings(settings)
    users.add_user(runtime.uow(), "fitter.map", "fitter", email="map@example.com", timezone="UTC")
    with runtime.uow() as uow:
        user = uow.users.by_username("fitter.map")
        assert user is not None
        calendar_id = uow.calendars.ids_owned_by(user.id)[0]
    owner = emulator.create("User", {"Name": "Map", "Email": "map@example.com", "IsActive": True})
    return sync, calendar_id, owner


def _event(emu: SalesforceEmulator, owner: str, status: str, type_: str, hour: int = 0) -> str:
    start = T0 + timedelta(hours=hour)
    return emu.create(
        "Event",
        {
            "Subject": f"{type_} / {status}",
            "StartDateTime": format_sf_datetime(start),
            "EndDateTime": format_sf_datetime(start + timedelta(hours=1)),
            "OwnerId": owner,
            "Appointment_Status__c": status,
            "Appointment_Type__c": type_,
        },
    )


def _row(rt: Runtime, sf_id: str) -> AppointmentRow:
    with rt.uow() as uow:
        link = uow.session.scalars(select(SfLinkRow).where(SfLinkRow.sf_id == sf_id)).one()
        row = uow.session.get(AppointmentRow, link.appointment_id)
        assert row is not None
        uow.session.expunge(row)
        return row


def test_worded_values_map_both_ways_and_a_cancelled_record_is_never_booked(
    runtime: Runtime, emulator: SalesforceEmulator, worded: tuple[SyncContext, str, str]
) -> None:
    sync, calendar_id, owner = worded
    emulator.org.add_picklist_values("Event", "Appointment_Status__c", ["Canceled"])
    cancelled = _event(emulator, owner, "Cancelled", "Tech Setup")
    canceled = _event(emulator, owner, "Canceled", "Follow-up", 1)  # an alias the admin configured
    booked = _event(emulator, owner, "Booked", "First consultation", 2)
    result = run_job(sync, "mirror")
    assert result is not None and result.created == 3, result
    assert (_row(runtime, cancelled).status, _row(runtime, cancelled).type) == ("CANCELLED", "TECH_SETUP")
    assert _row(runtime, canceled).status == "CANCELLED"
    assert (_row(runtime, booked).status, _row(runtime, booked).type) == ("BOOKED", "INITIAL")
    # written back with the org's words (the restricted picklists would refuse the canonical names)
    actor = system_actor("api")
    draft = AppointmentDraft.model_validate(
        {
            "calendar": {"id": calendar_id},
            "date_start": T0 + timedelta(days=1),
            "date_end": T0 + timedelta(days=1, hours=1),
            "name": "Set up the app",
            "meta": {"type": "TECH_SETUP"},
            "status": "RESCHEDULED",
        }
    )
    made = appointments.create(runtime.uow(), actor, draft).appointment
    result = run_job(sync, "push")
    assert result is not None and result.outcome == "ok", result
    record = emulator._by_external("Event", "Appointment_Service_Id__c", str(made.id))[0]
    assert (record["Appointment_Status__c"], record["Appointment_Type__c"]) == ("Moved", "Tech Setup")


def test_an_unmapped_value_is_kept_counted_and_never_overwritten(
    runtime: Runtime, emulator: SalesforceEmulator, worded: tuple[SyncContext, str, str]
) -> None:
    sync, _, owner = worded
    held = _event(emulator, owner, "On Hold", "Follow-up")
    also = _event(emulator, owner, "On Hold", "Follow-up", 1)
    result = run_job(sync, "mirror")
    assert result is not None and result.created == 2, result
    row = _row(runtime, held)
    # a new appointment holds the slot without claiming a confirmed booking; the value is kept as written
    assert row.status == "RESERVED" and row.type == "FOLLOW_UP"
    assert (row.meta_extra or {})[UNMAPPED_META] == {"status": {"value": "On Hold", "kept": "RESERVED"}}
    assert status(runtime.uow(), runtime.settings)["unmapped"] == {"status": {"On Hold": 2}}
    # an existing appointment keeps its own status when Salesforce says something unmapped
    emulator.update("Event", also, {"Appointment_Status__c": "Booked"})
    run_job(sync, "mirror")
    assert _row(runtime, also).status == "BOOKED" and UNMAPPED_META not in (_row(runtime, also).meta_extra or {})
    emulator.update("Event", also, {"Appointment_Status__c": "On Hold"})
    run_job(sync, "mirror")
    assert _row(runtime, also).status == "BOOKED"
    assert (_row(runtime, also).meta_extra or {})[UNMAPPED_META] == {"status": {"value": "On Hold", "kept": "BOOKED"}}
    assert status(runtime.uow(), runtime.settings)["unmapped"] == {"status": {"On Hold": 2}}
    # a change made here is written back without overwriting Salesforce's unmapped value ...
    actor = system_actor("api")
    appointments.update(runtime.uow(), actor, str(row.id), AppointmentPatch(name="Renamed here"))
    result = run_job(sync, "push")
    assert result is not None and result.outcome == "ok", result
    assert emulator.get("Event", held)["Subject"] == "Renamed here"
    assert emulator.get("Event", held)["Appointment_Status__c"] == "On Hold"
    # ... until the status itself changes here
    appointments.cancel(runtime.uow(), actor, str(row.id), CancelRequest(reason="customer called"))
    run_job(sync, "push")
    assert emulator.get("Event", held)["Appointment_Status__c"] == "Cancelled"
    run_job(sync, "mirror")
    assert _row(runtime, held).status == "CANCELLED"
    assert status(runtime.uow(), runtime.settings)["unmapped"] == {"status": {"On Hold": 1}}


def test_echo_of_our_own_write_never_rewrites_local_fields(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    users.add_user(runtime.uow(), "fitter.echo", "fitter", email="echo@example.com", timezone="UTC")
    with runtime.uow() as uow:
        user = uow.users.by_username("fitter.echo")
        assert user is not None
        calendar_id = uow.calendars.ids_owned_by(user.id)[0]
    emulator.create("User", {"Name": "Echo", "Email": "echo@example.com", "IsActive": True})
    account = emulator.create("Account", {"Name": "Hearing Ltd"})
    add_opportunity(emulator)
    actor = system_actor("api")
    made = []
    for i, (name, what) in enumerate((("Unnamed", None), ("Account-related", account))):
        draft = AppointmentDraft.model_validate(
            {
                "calendar": {"id": calendar_id},
                "date_start": T0 + timedelta(hours=i),
                "date_end": T0 + timedelta(hours=i, minutes=30),
                "name": name,
                "meta": {"type": "FOLLOW_UP", "salesforce": {"opportunity_gid": what}},
                "status": "RESERVED",
            }
        )
        made.append(appointments.create(runtime.uow(), actor, draft).appointment)
    with runtime.uow() as uow:  # an appointment stored without a name (as the canonical model allows)
        row = uow.session.get(AppointmentRow, str(made[0].id))
        assert row is not None
        row.name = ""
        uow.commit()
    result = run_job(sync, "push")
    assert result is not None and result.outcome == "ok", result
    result = run_job(sync, "mirror")
    assert result is not None and result.updated == 0, result
    with runtime.uow() as uow:
        empty = uow.session.get(AppointmentRow, str(made[0].id))
        related = uow.session.get(AppointmentRow, str(made[1].id))
        assert empty is not None and related is not None
        assert empty.name == "" and empty.sequence == 0, "an empty name must not come back as '(no subject)'"
        assert related.sf_opportunity_gid == account, "a WhatId that is not an Opportunity is kept, not nulled"
    # a real change in Salesforce still arrives
    sf_id = emulator._by_external("Event", "Appointment_Service_Id__c", str(made[0].id))[0]["Id"]
    emulator.update("Event", sf_id, {"Subject": "Named in Salesforce"})
    run_job(sync, "mirror")
    with runtime.uow() as uow:
        row = uow.session.get(AppointmentRow, str(made[0].id))
        assert row is not None and row.name == "Named in Salesforce"


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"sf_status_values": {"BOOKED": "Booked"}}, "needs a non-empty value"),
        ({"sf_type_aliases": {"Tech Setup": "TECH"}}, "unknown canonical values"),
        ({"sf_status_aliases": {"BOOKED": "CANCELLED"}}, "is written for BOOKED but read as CANCELLED"),
        (
            {"sf_status_values": {**MAPPING["sf_status_values"], "RESCHEDULED": "Booked"}},
            "say which one it reads as",
        ),
        ({"sf_default_type": "WHATEVER"}, "must be one of"),
    ],
)
def test_mapping_tables_are_validated_at_start(overrides: dict[str, Any], needle: str) -> None:
    with pytest.raises(SettingsError) as exc:
        load_settings(environ={}, **overrides)
    assert needle in str(exc.value)


def test_unknown_service_appointment_category_is_not_booked(sync: SyncContext) -> None:
    from caldav_bridge.converters.salesforce import record_from_salesforce

    mapping = replace(sync.mapping, mode="service_appointment", status_categories={"Scheduled": "BOOKED"})
    rec = record_from_salesforce(
        {
            "Id": "08pDn0000000001AAA",
            "SystemModstamp": format_sf_datetime(T0),
            "SchedStartTime": format_sf_datetime(T0),
            "SchedEndTime": format_sf_datetime(T0 + timedelta(hours=1)),
            "Status": "Stopped by customer",
            "StatusCategory": "Canceled",
        },
        mapping,
    )
    assert rec.status == "RESERVED" and rec.unmapped == {"status": "Canceled"}


def test_location_travels_both_ways(runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext) -> None:
    users.add_user(runtime.uow(), "fitter.where", "fitter", email="where@example.com", timezone="UTC")
    with runtime.uow() as uow:
        user = uow.users.by_username("fitter.where")
        assert user is not None
        calendar_id = uow.calendars.ids_owned_by(user.id)[0]
    owner = emulator.create("User", {"Name": "Where", "Email": "where@example.com", "IsActive": True})
    there = emulator.create(
        "Event",
        {
            "Subject": "At the shop",
            "StartDateTime": format_sf_datetime(T0),
            "EndDateTime": format_sf_datetime(T0 + timedelta(hours=1)),
            "OwnerId": owner,
            "Location": "Shop, 1 Main St",
        },
    )
    run_job(sync, "mirror")
    assert (_row(runtime, there).meta_extra or {}).get("location") == "Shop, 1 Main St"
    emulator.update("Event", there, {"Location": "Customer's home"})
    run_job(sync, "mirror")
    assert (_row(runtime, there).meta_extra or {}).get("location") == "Customer's home"
    emulator.update("Event", there, {"Location": None})
    run_job(sync, "mirror")
    assert "location" not in (_row(runtime, there).meta_extra or {})
    draft = AppointmentDraft.model_validate(
        {
            "calendar": {"id": calendar_id},
            "date_start": T0 + timedelta(days=1),
            "date_end": T0 + timedelta(days=1, hours=1),
            "name": "Home visit",
            "meta": {"type": "FOLLOW_UP", "location": "Elm Street 5"},
            "status": "BOOKED",
        }
    )
    made = appointments.create(runtime.uow(), system_actor("api"), draft).appointment
    assert run_job(sync, "push").outcome == "ok"  # type: ignore[union-attr]
    record = emulator._by_external("Event", "Appointment_Service_Id__c", str(made.id))[0]
    assert record["Location"] == "Elm Street 5"
    echo = run_job(sync, "mirror")  # our own write coming back changes nothing
    assert echo is not None and echo.updated == 0, echo


def test_the_salesforce_export_format_maps_as_the_sync_does(tmp_path: Path) -> None:
    settings = load_settings(
        environ={}, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", data_dir=str(tmp_path), **MAPPING
    )
    rt = Runtime.from_settings(settings)
    try:
        exported = rt.converter_options["salesforce"]
        assert exported == SalesforceMapping.from_settings(settings)
        assert (exported.types.write("INITIAL"), exported.statuses.read("Canceled")) == (
            "First consultation",
            "CANCELLED",
        )
    finally:
        rt.close()
