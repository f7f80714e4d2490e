"""Mirror and write-back against the emulator over loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from caldav_bridge.converters.salesforce import format_sf_datetime
from caldav_bridge.model.requests import AppointmentDraft, RescheduleRequest
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce import push as push_mod
from caldav_bridge.salesforce.mirror import UNASSIGNED_CALENDAR
from caldav_bridge.salesforce.runner import dead_letters, run_job, status
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import appointments, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.tables import AppointmentRow, CalendarRow, OutboxRow
from sf_emulator.emulator import INVALID_MARK, SalesforceEmulator

EXT = "Appointment_Service_Id__c"
#: Opportunities the tests' records relate to (the org must hold what a WhatId points at).
OPP_THERE, OPP_HERE = "006000000000001AAA", "006000000000777AAA"


@pytest.fixture(autouse=True)
def _opportunities(emulator: SalesforceEmulator) -> None:
    for rid, name in ((OPP_THERE, "Hearing aids, left and right"), (OPP_HERE, "Hearing aid booked here")):
        emulator.create("Opportunity", {"Name": name, "StageName": "Qualification", "CloseDate": "2027-01-31"}, rid=rid)


T0 = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=3)


def _fitter(rt: Runtime, name: str = "fitter.sf", email: str = "fitter@example.com") -> str:
    users.add_user(rt.uow(), name, "fitter", email=email, timezone="America/Denver")
    with rt.uow() as uow:
        user = uow.users.by_username(name)
        assert user is not None
        return uow.calendars.ids_owned_by(user.id)[0]


def _event(
    emu: SalesforceEmulator, owner: str | None, subject: str = "Fitting", start: datetime = T0, **extra: object
) -> str:
    fields = {
        "Subject": subject,
        "StartDateTime": format_sf_datetime(start),
        "EndDateTime": format_sf_datetime(start + timedelta(hours=1)),
        "OwnerId": owner,
        "Appointment_Type__c": "FOLLOW_UP",
        "Appointment_Status__c": "BOOKED",
        **extra,
    }
    return emu.create("Event", fields)


def _row_by_sf(rt: Runtime, sf_id: str) -> AppointmentRow | None:
    with rt.uow() as uow:
        link = uow.session.scalars(select(SfLinkRow).where(SfLinkRow.sf_id == sf_id)).first()
        return None if link is None else uow.session.get(AppointmentRow, link.appointment_id)


def _outbox_count(rt: Runtime) -> int:
    with rt.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(OutboxRow)) or 0


def _draft(calendar_id: str, name: str = "Booked here", start: datetime = T0) -> AppointmentDraft:
    return AppointmentDraft.model_validate(
        {
            "calendar": {"id": calendar_id},
            "date_start": start,
            "date_end": start + timedelta(minutes=45),
            "name": name,
            "meta": {"type": "INITIAL", "salesforce": {"opportunity_gid": "006000000000777AAA"}},
            "status": "BOOKED",
        }
    )


def test_mirror_creates_updates_reschedules_deletes_and_undeletes(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    calendar_id = _fitter(runtime)
    owner = emulator.create(
        "User",
        {"Name": "Fitter SF", "Email": "Fitter@Example.com", "IsActive": True, "TimeZoneSidKey": "America/Denver"},
    )
    contact = emulator.create("Contact", {"FirstName": "Jane", "LastName": "Doe"})
    ids = [
        _event(emulator, owner, f"Fitting {i}", T0 + timedelta(hours=i), WhoId=contact, WhatId="006000000000001AAA")
        for i in range(20)
    ]
    result = run_job(sync, "mirror")
    assert result is not None and result.outcome == "ok", result
    assert result.created == 20
    row = _row_by_sf(runtime, ids[0])
    assert row is not None and row.calendar_id == calendar_id
    assert row.sf_appointment_gid == ids[0] and row.sf_opportunity_gid == "006000000000001AAA"
    assert [g.first_name for g in row.guests] == ["Jane"] and row.type == "FOLLOW_UP"
    assert _outbox_count(runtime) == 0, "mirrored changes must not be queued back to Salesforce"

    # a second run is a no-op (overlap replays are skipped)
    again = run_job(sync, "mirror")
    assert again is not None and again.created == again.updated == 0

    emulator.update(
        "Event",
        ids[0],
        {
            "Subject": "Fitting (moved)",
            "StartDateTime": format_sf_datetime(T0 + timedelta(days=1)),
            "EndDateTime": format_sf_datetime(T0 + timedelta(days=1, hours=2)),
        },
    )
    emulator.update("Event", ids[1], {"Appointment_Status__c": "CANCELLED"})
    emulator.delete("Event", ids[2])
    result = run_job(sync, "mirror")
    assert result is not None and (result.updated, result.deleted) == (2, 1), result
    moved = _row_by_sf(runtime, ids[0])
    assert moved is not None and moved.name == "Fitting (moved)" and moved.sequence == 1
    assert moved.date_start == T0 + timedelta(days=1)
    cancelled = _row_by_sf(runtime, ids[1])
    assert cancelled is not None and cancelled.status == "CANCELLED"
    gone = _row_by_sf(runtime, ids[2])
    assert gone is not None and gone.deleted_at is not None

    emulator.undelete("Event", ids[2])
    result = run_job(sync, "mirror")
    assert result is not None and result.updated == 1
    back = _row_by_sf(runtime, ids[2])
    assert back is not None and back.deleted_at is None
    assert _outbox_count(runtime) == 0

    # visible to the REST API and the CalDAV store
    with runtime.uow() as uow:
        stored = appointments.get(uow, system_actor(), moved.id)
    assert stored.appointment.name == "Fitting (moved)"
    try:
        from caldav_bridge.store.dav_tables import DavItemRow
    except ImportError:  # pragma: no cover
        return
    with runtime.uow() as uow:
        item = uow.session.scalars(select(DavItemRow).where(DavItemRow.appointment_id == moved.id)).first()
        assert item is not None and "Fitting (moved)" in item.text


def test_unknown_owner_is_unassigned_then_rehomed(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    calendar_id = _fitter(runtime, "fitter.late", "late@example.com")
    # a Salesforce user whose email does not (yet) match any fitter here
    late = emulator.create("User", {"Name": "Late", "Email": "late.typo@example.com", "IsActive": True})
    sf_id = _event(emulator, late)
    run_job(sync, "mirror")
    row = _row_by_sf(runtime, sf_id)
    assert row is not None
    with runtime.uow() as uow:
        calendar = uow.session.get(CalendarRow, row.calendar_id)
        assert calendar is not None and calendar.name == UNASSIGNED_CALENDAR
    assert status(runtime.uow(), runtime.settings)["unassigned"] == 1
    # the owner becomes known: the appointment moves to their calendar on the next run
    emulator.update("User", late, {"Email": "late@example.com"})
    run_job(sync, "mirror")
    row = _row_by_sf(runtime, sf_id)
    assert row is not None and row.calendar_id == calendar_id


def test_push_creates_one_record_per_appointment_and_the_mirror_ignores_the_echo(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    calendar_id = _fitter(runtime)
    actor = system_actor("api")
    created = [
        appointments.create(runtime.uow(), actor, _draft(calendar_id, f"Booked {i}", T0 + timedelta(hours=i)))
        for i in range(12)
    ]
    first = created[0].appointment
    appointments.reschedule(
        runtime.uow(),
        actor,
        str(first.id),
        RescheduleRequest(date_start=T0 + timedelta(days=2), date_end=T0 + timedelta(days=2, hours=1)),
    )
    appointments.cancel  # noqa: B018 - (cancellation covered below)
    result = run_job(sync, "push")
    assert result is not None and result.outcome == "ok" and result.created == 12, result
    events = emulator.live("Event")
    assert len(events) == 12
    assert sorted(e[EXT] for e in events) == sorted(str(c.appointment.id) for c in created)
    moved = next(e for e in events if e[EXT] == str(first.id))
    assert moved["StartDateTime"].startswith((T0 + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    row = _row_by_sf(runtime, moved["Id"])
    assert row is not None and row.sf_appointment_gid == moved["Id"]
    sequence = row.sequence
    # the echo comes back through the mirror: nothing changes, no outbox row, no SEQUENCE bump
    before = _outbox_count(runtime)
    mirrored = run_job(sync, "mirror")
    assert mirrored is not None and mirrored.created == 0 and mirrored.updated == 0, mirrored
    assert _outbox_count(runtime) == before
    row = _row_by_sf(runtime, moved["Id"])
    assert row is not None and row.sequence == sequence
    # a cancellation sets the status and ShowAs Free, on the same record
    appointments.cancel(
        runtime.uow(),
        actor,
        str(first.id),
        __import__("caldav_bridge.model.requests", fromlist=["CancelRequest"]).CancelRequest(reason="x"),
    )
    run_job(sync, "push")
    record = emulator.get("Event", moved["Id"])
    assert record["ShowAs"] == "Free" and record["Appointment_Status__c"] == "CANCELLED" and not record["IsDeleted"]
    assert len(emulator.live("Event")) == 12


def test_lost_answer_and_crash_between_call_and_commit_do_not_duplicate(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    calendar_id = _fitter(runtime)
    actor = system_actor("api")
    a = appointments.create(runtime.uow(), actor, _draft(calendar_id, "Lost answer")).appointment
    emulator.inject("lost", path=r"/composite/sobjects/Event/", method="PATCH")
    sync.backoff_base = timedelta(minutes=1)
    result = run_job(sync, "push")
    assert result is not None and result.failed == 1
    assert len(emulator.live("Event")) == 1  # applied, but we never heard
    with runtime.uow() as uow:
        uow.session.execute(update(OutboxRow).values(available_at=datetime.now(UTC)))
        uow.commit()
    # the mirror sees our record before the retry: it links it and does not copy it
    run_job(sync, "mirror")
    with runtime.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(AppointmentRow)) == 1
    result = run_job(sync, "push")
    assert result is not None and result.outcome == "ok" and result.updated == 1, result
    assert [e[EXT] for e in emulator.live("Event")] == [str(a.id)]

    # the process dies after Salesforce answered and before the local commit
    b = appointments.create(runtime.uow(), actor, _draft(calendar_id, "Crash", T0 + timedelta(hours=3))).appointment

    def die() -> None:
        raise SystemExit("killed")

    sync.claim_lease = timedelta(seconds=0)
    with pytest.raises(SystemExit):
        push_mod.push(sync, sync.gateway_factory(), after_call=die)
    assert len(emulator.live("Event")) == 2
    result = run_job(sync, "push")
    assert result is not None and result.outcome == "ok"
    assert sorted(e[EXT] for e in emulator.live("Event")) == sorted([str(a.id), str(b.id)])


def test_two_workers_at_once_push_each_appointment_once(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    calendar_id = _fitter(runtime)
    actor = system_actor("api")
    ids = [
        str(
            appointments.create(
                runtime.uow(), actor, _draft(calendar_id, f"A{i}", T0 + timedelta(hours=i))
            ).appointment.id
        )
        for i in range(60)
    ]
    sync.push_batch_size = 7
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            push_mod.push(sync, sync.gateway_factory())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    events = emulator.live("Event")
    assert sorted(e[EXT] for e in events) == sorted(ids)
    with runtime.uow() as uow:
        states = {
            state: n
            for state, n in uow.session.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state))
        }
    assert states == {"sent": 60}


def test_validation_errors_are_dead_letters_and_can_be_retried(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    calendar_id = _fitter(runtime)
    actor = system_actor("api")
    bad = appointments.create(runtime.uow(), actor, _draft(calendar_id, f"Bad {INVALID_MARK}")).appointment
    appointments.create(runtime.uow(), actor, _draft(calendar_id, "Good"))
    result = run_job(sync, "push")
    assert result is not None and result.outcome == "partial" and result.failed == 1
    letters = dead_letters(runtime.uow())
    assert [d["appointment_id"] for d in letters] == [str(bad.id)]
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in letters[0]["last_error"]
    # fixed, then retried
    from caldav_bridge.model.requests import AppointmentPatch

    appointments.update(runtime.uow(), actor, str(bad.id), AppointmentPatch.model_validate({"name": "Fixed"}))
    assert push_mod.retry_dead(runtime.uow()) == 1
    result = run_job(sync, "push")
    assert result is not None and result.outcome == "ok"
    assert sorted(e["Subject"] for e in emulator.live("Event")) == ["Fixed", "Good"]


def test_limit_exceeded_ends_the_run_and_transient_errors_back_off(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    calendar_id = _fitter(runtime)
    actor = system_actor("api")
    appointments.create(runtime.uow(), actor, _draft(calendar_id, "Later"))
    emulator.inject("limit", path=r"/composite/")
    result = run_job(sync, "push")
    assert result is not None and result.outcome == "limited"
    assert status(runtime.uow(), runtime.settings)["outbox"]["pending"] == 1
    sync.backoff_base = timedelta(minutes=1)
    emulator.inject("unavailable", path=r"/composite/")
    result = run_job(sync, "push")
    assert result is not None and result.failed == 1
    with runtime.uow() as uow:
        row = uow.session.scalars(select(OutboxRow)).one()
        assert row.state == "pending" and row.last_error and "503" in row.last_error
        assert row.available_at > datetime.now(UTC) + timedelta(seconds=20)  # backed off
        row.available_at = datetime.now(UTC)
        uow.commit()
    result = run_job(sync, "push")
    assert result is not None and result.outcome == "ok" and len(emulator.live("Event")) == 1


def test_slow_answers_time_out_and_expired_sessions_reauthenticate_once(
    runtime: Runtime, emulator: SalesforceEmulator
) -> None:
    from tests.salesforce.conftest import make_context

    # The timeout applies to every call, logins too: 0.5 s failed a re-login on a loaded machine (three pytest
    # workers on two cores) with "login failed: ReadTimeout"; 2 s is ample for the emulator and far from the delay.
    ctx = make_context(runtime, emulator, timeout=2.0)
    _event(emulator, emulator.integration_user)
    emulator.inject("slow", path=r"/query", delay=5.0)
    result = run_job(ctx, "mirror")
    assert result is not None and result.outcome == "failed" and "no answer" in result.errors[0]
    emulator.inject("expire")
    result = run_job(ctx, "mirror")
    assert result is not None and result.outcome == "ok" and result.created == 1
    emulator.inject("expire", count=None)
    result = run_job(ctx, "mirror")
    assert result is not None and result.outcome == "failed" and "INVALID_SESSION_ID" in result.errors[0]
    emulator.clear_faults()


def test_reconcile_tombstones_records_purged_without_trace(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    ids = [_event(emulator, emulator.integration_user, f"E{i}", T0 + timedelta(hours=i)) for i in range(5)]
    run_job(sync, "mirror")
    emulator.purge("Event", ids[0])
    result = run_job(sync, "mirror")
    assert result is not None and result.deleted == 0
    result = run_job(sync, "reconcile")
    assert result is not None and result.deleted == 1
    row = _row_by_sf(runtime, ids[0])
    assert row is not None and row.deleted_at is not None
    assert _outbox_count(runtime) == 0


def test_one_runner_per_job(runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext) -> None:
    from caldav_bridge.salesforce.state import acquire_lease, release_lease

    assert acquire_lease(runtime.uow(), "sf:mirror", "other-host:1", timedelta(minutes=5))
    assert run_job(sync, "mirror", holder="me:2") is None
    release_lease(runtime.uow(), "sf:mirror", "other-host:1")
    assert run_job(sync, "mirror", holder="me:2") is not None
