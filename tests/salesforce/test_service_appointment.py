"""ServiceAppointment mode end to end against the emulator, on SQLite and PostgreSQL.

ServiceAppointment + AssignedResource → ServiceResource → User; status by StatusCategory.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from caldav_bridge.converters.salesforce import format_sf_datetime
from caldav_bridge.model.requests import AppointmentDraft, RescheduleRequest
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import appointments, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.tables import AppointmentRow, OutboxRow
from sf_emulator.emulator import SalesforceEmulator
from tests.salesforce.conftest import add_opportunity

EXT = "Appointment_Service_Id__c"
T0 = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=3)


@pytest.fixture
def sa_sync(sync: SyncContext) -> SyncContext:
    sync.mapping = replace(sync.mapping, mode="service_appointment")
    return sync


def _fitter(rt: Runtime, emu: SalesforceEmulator, name: str) -> tuple[str, str]:
    """A local fitter and their Salesforce User + ServiceResource; returns (calendar id, ServiceResource id)."""
    email = f"{name}@example.com"
    users.add_user(rt.uow(), name, "fitter", email=email, timezone="Europe/Berlin")
    with rt.uow() as uow:
        user = uow.users.by_username(name)
        assert user is not None
        calendar_id = uow.calendars.ids_owned_by(user.id)[0]
    user_sf = emu.create("User", {"Name": name, "Email": email, "IsActive": True, "TimeZoneSidKey": "Europe/Berlin"})
    resource = emu.create(
        "ServiceResource", {"Name": name, "RelatedRecordId": user_sf, "IsActive": True, "ResourceType": "T"}
    )
    add_opportunity(emu)
    add_opportunity(emu, "006000000000777AAA", "Booked here")
    return calendar_id, resource


def _appointment(emu: SalesforceEmulator, subject: str, status: str, start: datetime = T0) -> str:
    return emu.create(
        "ServiceAppointment",
        {
            "Subject": subject,
            "SchedStartTime": format_sf_datetime(start),
            "SchedEndTime": format_sf_datetime(start + timedelta(hours=1)),
            "Status": status,
            "ParentRecordId": "006000000000001AAA",
            "Appointment_Type__c": "TECH_SETUP",
        },
    )


def _row(rt: Runtime, sf_id: str) -> AppointmentRow:
    with rt.uow() as uow:
        link = uow.session.scalars(select(SfLinkRow).where(SfLinkRow.sf_id == sf_id)).one()
        row = uow.session.get(AppointmentRow, link.appointment_id)
        assert row is not None
        return row


def _outbox(rt: Runtime) -> int:
    with rt.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(OutboxRow)) or 0


def test_mirror_resolves_owner_through_assigned_resource_and_follows_reassignment(
    runtime: Runtime, emulator: SalesforceEmulator, sa_sync: SyncContext
) -> None:
    emulator.status_categories = {"Booked by customer": "Scheduled", "Called off": "Canceled"}
    cal_a, res_a = _fitter(runtime, emulator, "anna")
    cal_b, res_b = _fitter(runtime, emulator, "bert")
    sa = [_appointment(emulator, f"Setup {i}", "Booked by customer", T0 + timedelta(hours=i)) for i in range(9)]
    called_off = _appointment(emulator, "Called off", "Called off")
    assignments = [
        emulator.create("AssignedResource", {"ServiceAppointmentId": sa_id, "ServiceResourceId": res_a}) for sa_id in sa
    ]
    result = run_job(sa_sync, "mirror")
    assert result is not None and result.outcome == "ok" and result.created == 10, result
    first = _row(runtime, sa[0])
    assert first.calendar_id == cal_a and first.status == "BOOKED" and first.type == "TECH_SETUP"
    assert first.sf_opportunity_gid == "006000000000001AAA"
    # status by category, not by label; no assignment: unassigned, not dropped
    cancelled = _row(runtime, called_off)
    assert cancelled.status == "CANCELLED" and cancelled.calendar_id not in (cal_a, cal_b)

    # a reassignment that changes only the AssignedResource moves the appointment
    emulator.update("AssignedResource", assignments[0], {"ServiceResourceId": res_b})
    emulator.create("AssignedResource", {"ServiceAppointmentId": called_off, "ServiceResourceId": res_b})
    result = run_job(sa_sync, "mirror")
    assert result is not None and result.outcome == "ok" and result.updated == 2, result
    assert _row(runtime, sa[0]).calendar_id == cal_b
    assert _row(runtime, called_off).calendar_id == cal_b
    assert _row(runtime, sa[1]).calendar_id == cal_a
    assert _outbox(runtime) == 0, "mirrored reassignments must not be queued back"
    # replays change nothing
    again = run_job(sa_sync, "mirror")
    assert again is not None and again.created == again.updated == 0, again


def test_push_creates_service_appointment_and_assigned_resource_once(
    runtime: Runtime, emulator: SalesforceEmulator, sa_sync: SyncContext
) -> None:
    cal_a, res_a = _fitter(runtime, emulator, "carla")
    run_job(sa_sync, "mirror")  # the User and ServiceResource become known
    actor = system_actor("api")
    created = [
        appointments.create(
            runtime.uow(),
            actor,
            AppointmentDraft.model_validate(
                {
                    "calendar": {"id": cal_a},
                    "date_start": T0 + timedelta(hours=i),
                    "date_end": T0 + timedelta(hours=i, minutes=45),
                    "name": f"Booked {i}",
                    "meta": {"type": "INITIAL", "salesforce": {"opportunity_gid": "006000000000777AAA"}},
                    "status": "BOOKED",
                }
            ),
        ).appointment
        for i in range(3)
    ]
    # the AssignedResource create's answer is lost once: the retry finds the one it made
    emulator.inject("lost", path=r"/composite/sobjects$", method="POST")
    result = run_job(sa_sync, "push")
    assert result is not None and result.failed == 3, result
    with runtime.uow() as uow:
        for row in uow.session.scalars(select(OutboxRow)):
            row.available_at = datetime.now(UTC)
        uow.commit()
    result = run_job(sa_sync, "push")
    assert result is not None and result.outcome == "ok", result
    records = emulator.live("ServiceAppointment")
    assert sorted(r[EXT] for r in records) == sorted(str(a.id) for a in created)
    assert {r["Status"] for r in records} == {"Scheduled"} and {r["StatusCategory"] for r in records} == {"Scheduled"}
    assert {r["ParentRecordId"] for r in records} == {"006000000000777AAA"}
    assigned = emulator.live("AssignedResource")
    assert sorted(a["ServiceAppointmentId"] for a in assigned) == sorted(r["Id"] for r in records)
    assert {a["ServiceResourceId"] for a in assigned} == {res_a}

    # the echo comes back: nothing changes (appointments or assignments)
    before = _outbox(runtime)
    mirrored = run_job(sa_sync, "mirror")
    assert mirrored is not None and mirrored.created == mirrored.updated == 0, mirrored
    assert _outbox(runtime) == before

    # a reschedule updates the same ServiceAppointment and adds no AssignedResource
    appointments.reschedule(
        runtime.uow(),
        actor,
        str(created[0].id),
        RescheduleRequest(date_start=T0 + timedelta(days=1), date_end=T0 + timedelta(days=1, hours=1)),
    )
    result = run_job(sa_sync, "push")
    assert result is not None and result.outcome == "ok" and result.updated == 1, result
    assert len(emulator.live("ServiceAppointment")) == 3 and len(emulator.live("AssignedResource")) == 3


def test_push_repoints_the_assignment_when_the_appointment_moves_to_another_fitter(
    runtime: Runtime, emulator: SalesforceEmulator, sa_sync: SyncContext
) -> None:
    cal_a, res_a = _fitter(runtime, emulator, "dora")
    cal_b, res_b = _fitter(runtime, emulator, "emil")
    sa_id = _appointment(emulator, "Moves", "Scheduled")
    ar = emulator.create("AssignedResource", {"ServiceAppointmentId": sa_id, "ServiceResourceId": res_a})
    run_job(sa_sync, "mirror")
    row = _row(runtime, sa_id)
    assert row.calendar_id == cal_a
    # moved to another fitter's calendar locally (as a dispatcher's calendar change does)
    with runtime.uow() as uow:
        stored = uow.session.get(AppointmentRow, row.id)
        assert stored is not None
        stored.calendar_id = cal_b
        stored.name = "Moved here"
        uow.session.add(
            OutboxRow(
                appointment_id=stored.id,
                operation="update",
                payload={},
                state="pending",
                attempts=0,
                available_at=datetime.now(UTC),
                created_at=datetime.now(UTC),
            )
        )
        uow.commit()
    result = run_job(sa_sync, "push")
    assert result is not None and result.outcome == "ok", result
    assert emulator.get("AssignedResource", ar)["ServiceResourceId"] == res_b
    assert len(emulator.live("AssignedResource")) == 1
    assert emulator.get("ServiceAppointment", sa_id)["Subject"] == "Moved here"
    mirrored = run_job(sa_sync, "mirror")
    assert mirrored is not None and mirrored.updated == 0, mirrored
    assert _row(runtime, sa_id).calendar_id == cal_b
