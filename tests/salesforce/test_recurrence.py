"""Recurring Events: each occurrence is its own appointment; the series master never becomes one or comes back.

Against the emulator (which expands a classic series into occurrences as Salesforce does), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from caldav_bridge.converters.salesforce import format_sf_datetime
from caldav_bridge.model.requests import RescheduleRequest
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.mirror import SERIES_META
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import appointments, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.tables import AppointmentRow, OutboxRow
from sf_emulator.emulator import SalesforceEmulator
from tests.salesforce.conftest import add_opportunity

DENVER = ZoneInfo("America/Denver")
# 09:00 in Denver on a day at least two days ahead; the series crosses no DST change in most weeks,
# and where it does the wall time must stay 09:00 (checked below).
DAY0 = (datetime.now(UTC) + timedelta(days=2)).astimezone(DENVER).date()
START = datetime(DAY0.year, DAY0.month, DAY0.day, 9, 0, tzinfo=DENVER)


def _setup(rt: Runtime, emu: SalesforceEmulator) -> tuple[str, str]:
    users.add_user(rt.uow(), "fitter.series", "fitter", email="series@example.com", timezone="America/Denver")
    with rt.uow() as uow:
        user = uow.users.by_username("fitter.series")
        assert user is not None
        calendar_id = uow.calendars.ids_owned_by(user.id)[0]
    owner = emu.create("User", {"Name": "Series", "Email": "series@example.com", "IsActive": True})
    add_opportunity(emu)
    return calendar_id, owner


def _series(emu: SalesforceEmulator, owner: str, days: int = 4, **extra: object) -> str:
    return emu.create(
        "Event",
        {
            "Subject": "Weekly check-in",
            "OwnerId": owner,
            "WhatId": "006000000000001AAA",
            "Appointment_Type__c": "FOLLOW_UP",
            "IsRecurrence": True,
            "RecurrenceType": "RecursDaily",
            "RecurrenceInterval": 1,
            "RecurrenceStartDateTime": format_sf_datetime(START),
            "RecurrenceEndDateOnly": (DAY0 + timedelta(days=days - 1)).isoformat(),
            "RecurrenceTimeZoneSidKey": "America/Denver",
            "DurationInMinutes": 30,
            **extra,
        },
    )


def _rows(rt: Runtime) -> dict[str, AppointmentRow]:
    """Salesforce id → live appointment."""
    with rt.uow() as uow:
        stmt = (
            select(SfLinkRow.sf_id, AppointmentRow)
            .join(AppointmentRow, AppointmentRow.id == SfLinkRow.appointment_id)
            .where(AppointmentRow.deleted_at.is_(None))
        )
        return {str(sf_id): row for sf_id, row in uow.session.execute(stmt)}


def test_occurrences_are_appointments_and_the_master_is_not(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    calendar_id, owner = _setup(runtime, emulator)
    master = _series(emulator, owner)
    occurrences = sorted(
        (e for e in emulator.live("Event") if e.get("RecurrenceActivityId") == master), key=lambda e: e["StartDateTime"]
    )
    assert len(occurrences) == 4
    result = run_job(sync, "mirror")
    assert result is not None and result.outcome == "ok" and result.created == 4, result
    rows = _rows(runtime)
    assert set(rows) == {o["Id"] for o in occurrences}, "the master must not become an appointment"
    for i, occurrence in enumerate(occurrences):
        row = rows[occurrence["Id"]]
        assert row.calendar_id == calendar_id and row.name == "Weekly check-in"
        assert row.date_start.astimezone(DENVER).replace(tzinfo=None) == (START + timedelta(days=i)).replace(
            tzinfo=None
        )
        assert row.date_end - row.date_start == timedelta(minutes=30)
        assert (row.meta_extra or {}).get(SERIES_META) == master
        assert row.sf_opportunity_gid == "006000000000001AAA"

    # one occurrence moved in Salesforce: only that appointment changes
    second = occurrences[1]["Id"]
    emulator.update(
        "Event",
        second,
        {
            "StartDateTime": format_sf_datetime(START + timedelta(days=1, hours=2)),
            "EndDateTime": format_sf_datetime(START + timedelta(days=1, hours=3)),
        },
    )
    result = run_job(sync, "mirror")
    assert result is not None and result.updated == 1 and result.created == 0, result
    rows = _rows(runtime)
    assert rows[second].date_start == (START + timedelta(days=1, hours=2)).astimezone(UTC)
    assert rows[second].sequence == 1 and rows[occurrences[0]["Id"]].sequence == 0

    # deleting the series deletes its occurrences: every appointment is tombstoned
    emulator.delete("Event", master)
    result = run_job(sync, "mirror")
    assert result is not None and result.deleted == 4, result
    assert _rows(runtime) == {}
    with runtime.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(OutboxRow)) == 0


def test_editing_an_occurrence_here_updates_that_occurrence_never_a_new_event(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    _, owner = _setup(runtime, emulator)
    master = _series(emulator, owner, days=3)
    run_job(sync, "mirror")
    events_before = len(emulator.live("Event"))
    rows = _rows(runtime)
    target_sf = min(rows, key=lambda sf_id: rows[sf_id].date_start)
    target = rows[target_sf]
    new_start = target.date_start + timedelta(hours=1)
    appointments.reschedule(
        runtime.uow(),
        system_actor("api"),
        target.id,
        RescheduleRequest(date_start=new_start, date_end=new_start + timedelta(minutes=45)),
    )
    result = run_job(sync, "push")
    assert result is not None and result.outcome == "ok" and result.updated == 1 and result.created == 0, result
    assert len(emulator.live("Event")) == events_before, "no Event may be added for a series"
    occurrence = emulator.get("Event", target_sf)
    assert occurrence["StartDateTime"].startswith(new_start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"))
    assert occurrence["RecurrenceActivityId"] == master
    assert emulator.get("Event", master)["IsRecurrence"] is True
    # the echo: nothing changes here; the other occurrences and the master are untouched
    again = run_job(sync, "mirror")
    assert again is not None and again.created == 0 and again.updated == 0, again
    assert set(_rows(runtime)) == set(rows)


def test_a_master_mirrored_by_an_older_version_is_tombstoned_and_series_records_skipped(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    _, owner = _setup(runtime, emulator)
    # A plain Event, mirrored, that Salesforce later reports as a series master (as the old mirror
    # would have copied a master): the appointment made from it goes away.
    plain = emulator.create(
        "Event",
        {
            "Subject": "Was single",
            "OwnerId": owner,
            "StartDateTime": format_sf_datetime(START),
            "EndDateTime": format_sf_datetime(START + timedelta(hours=1)),
        },
    )
    # A Lightning (Recurrence 2.0) series record: GroupEventType 3, not an occurrence.
    lightning = emulator.create(
        "Event",
        {
            "Subject": "Lightning series",
            "OwnerId": owner,
            "GroupEventType": "3",
            "StartDateTime": format_sf_datetime(START),
            "EndDateTime": format_sf_datetime(START + timedelta(hours=1)),
        },
    )
    result = run_job(sync, "mirror")
    assert result is not None and result.created == 1, result
    assert set(_rows(runtime)) == {plain}
    emulator.objects["Event"][plain]["IsRecurrence"] = True
    emulator.update("Event", plain, {"Subject": "Now a series"})
    result = run_job(sync, "mirror")
    assert result is not None and result.deleted == 1 and result.created == 0, result
    assert _rows(runtime) == {}
    assert lightning not in _rows(runtime)


def test_emulator_refuses_to_change_series_fields(emulator: SalesforceEmulator) -> None:
    owner = emulator.create("User", {"Name": "X", "Email": "x@example.com", "IsActive": True})
    add_opportunity(emulator)
    master = _series(emulator, owner, days=2)
    occurrence = next(e["Id"] for e in emulator.live("Event") if e.get("RecurrenceActivityId") == master)
    ok, _, _, problem = emulator._write("Event", {"IsRecurrence": True}, occurrence)
    assert not ok and problem is not None and problem[0] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    ok, _, _, problem = emulator._write("Event", {"IsRecurrence": True, "RecurrenceType": "RecursYearly"}, None)
    assert not ok and problem is not None and problem[0] == "FIELD_INTEGRITY_EXCEPTION"
