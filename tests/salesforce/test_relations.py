"""Several Whos on an Event (Shared Activities / EventRelation) and crews on a ServiceAppointment.

Against the emulator through the unmodified simple-salesforce client, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from caldav_bridge.converters.salesforce import format_sf_datetime
from caldav_bridge.model.requests import RescheduleRequest
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.mirror import CREW_META
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import appointments, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.tables import AppointmentRow, OutboxRow
from sf_emulator.emulator import SalesforceEmulator

T0 = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=3)


def _fitter(rt: Runtime, emu: SalesforceEmulator, name: str, resource: bool = False) -> tuple[str, str]:
    """A local fitter and their Salesforce User (and ServiceResource); returns (calendar id, User or resource id)."""
    email = f"{name}@example.com"
    users.add_user(rt.uow(), name, "fitter", email=email, timezone="Europe/Berlin")
    with rt.uow() as uow:
        user = uow.users.by_username(name)
        assert user is not None
        calendar_id = uow.calendars.ids_owned_by(user.id)[0]
    user_sf = emu.create("User", {"Name": name, "Email": email, "IsActive": True, "TimeZoneSidKey": "Europe/Berlin"})
    if not resource:
        return calendar_id, user_sf
    res = emu.create("ServiceResource", {"Name": name, "RelatedRecordId": user_sf, "IsActive": True})
    return calendar_id, res


def _row(rt: Runtime, sf_id: str) -> AppointmentRow:
    with rt.uow() as uow:
        link = uow.session.scalars(select(SfLinkRow).where(SfLinkRow.sf_id == sf_id)).one()
        row = uow.session.get(AppointmentRow, link.appointment_id)
        assert row is not None
        _ = list(row.guests), row.meta_extra  # loaded before the session closes
        return row


def _guests(rt: Runtime, sf_id: str) -> list[tuple[str | None, str | None]]:
    return [(g.person_id, g.first_name) for g in sorted(_row(rt, sf_id).guests, key=lambda g: g.position)]


def _event(emu: SalesforceEmulator, owner: str, i: int, **extra: object) -> str:
    start = T0 + timedelta(hours=i)
    return emu.create(
        "Event",
        {
            "Subject": f"Fitting {i}",
            "StartDateTime": format_sf_datetime(start),
            "EndDateTime": format_sf_datetime(start + timedelta(hours=1)),
            "OwnerId": owner,
            **extra,
        },
    )


# ----------------------------------------------------------------------------------------- Shared Activities


def test_every_who_becomes_a_guest_queried_once_per_page(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    _, owner = _fitter(runtime, emulator, "whos")
    c1, c2, c3 = (
        emulator.create("Contact", {"FirstName": first, "LastName": "Doe", "Email": f"{first}@example.com"})
        for first in ("Ann", "Ben", "Cy")
    )
    lead = emulator.create("Lead", {"FirstName": "Lee", "LastName": "Lead"})
    shared = _event(emulator, owner, 0, EventWhoIds=[c1, c2, lead])
    plain = [_event(emulator, owner, i, WhoId=c3) for i in range(1, 15)]
    assert emulator.get("Event", shared)["WhoId"] == c1  # the first Who is the primary
    emulator.stats.queried.clear()
    result = run_job(sync, "mirror")  # page size 10: two pages of Events
    assert result is not None and result.outcome == "ok" and result.created == 15, result
    queried = emulator.stats.queried
    # each of the two Event pages asks once for the relations of its Events (then the relation
    # changes of the run are read by their own watermark, relation_sync)
    assert queried.count("Event") == 2, queried
    assert sum(1 for a, b in itertools.pairwise(queried) if (a, b) == ("Event", "EventRelation")) == 2
    assert _guests(runtime, shared) == [(c1, "Ann"), (c2, "Ben"), (lead, "Lee")]
    assert _row(runtime, shared).sf_customer_gid == c1
    assert _guests(runtime, plain[0]) == [(c3, "Cy")]
    # patient detail stays out: only names and time zones are kept
    with runtime.uow() as uow:
        from caldav_bridge.store.tables import PersonRow

        person = uow.session.get(PersonRow, c1)
        assert person is not None and not hasattr(person, "email")

    # a Who added in Salesforce (the Event is modified with it): the appointment gains a guest
    emulator.relate(plain[0], c1)
    result = run_job(sync, "mirror")
    assert result is not None and result.updated == 1, result
    assert _guests(runtime, plain[0]) == [(c3, "Cy"), (c1, "Ann")]
    # and one removed
    emulator.update("Event", shared, {"EventWhoIds": [c1, lead]})
    result = run_job(sync, "mirror")
    assert result is not None and result.updated == 1, result
    assert _guests(runtime, shared) == [(c1, "Ann"), (lead, "Lee")]
    again = run_job(sync, "mirror")
    assert again is not None and again.updated == again.created == 0, again


def test_relation_changes_alone_are_followed_by_their_own_watermark(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    _, owner = _fitter(runtime, emulator, "apirel")
    c1 = emulator.create("Contact", {"FirstName": "Ann", "LastName": "Doe"})
    c2 = emulator.create("Contact", {"FirstName": "Ben", "LastName": "Doe"})
    sf_id = _event(emulator, owner, 0, WhoId=c1)
    run_job(sync, "mirror")
    event_stamp = emulator.get("Event", sf_id)["SystemModstamp"]
    relation = emulator.relate(sf_id, c2, touch_event=False)  # only the EventRelation row changes
    assert relation is not None and emulator.get("Event", sf_id)["SystemModstamp"] == event_stamp
    result = run_job(sync, "mirror")
    assert result is not None and result.outcome == "ok" and result.updated == 1, result
    assert _guests(runtime, sf_id) == [(c1, "Ann"), (c2, "Ben")]
    with runtime.uow() as uow:
        assert uow.session.scalar(select(OutboxRow.id).limit(1)) is None, "mirrored guests are not queued back"
    emulator.delete("EventRelation", relation)
    result = run_job(sync, "mirror")
    assert result is not None and result.updated == 1, result
    assert _guests(runtime, sf_id) == [(c1, "Ann")]
    again = run_job(sync, "mirror")
    assert again is not None and again.updated == 0, again


def test_push_keeps_the_primary_who_and_the_other_relations(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    _, owner = _fitter(runtime, emulator, "keeper")
    c1 = emulator.create("Contact", {"FirstName": "Ann", "LastName": "Doe"})
    c2 = emulator.create("Contact", {"FirstName": "Ben", "LastName": "Doe"})
    sf_id = _event(emulator, owner, 0, EventWhoIds=[c1, c2])
    run_job(sync, "mirror")
    row = _row(runtime, sf_id)
    appointments.reschedule(
        runtime.uow(),
        system_actor("api"),
        row.id,
        RescheduleRequest(date_start=T0 + timedelta(days=1), date_end=T0 + timedelta(days=1, hours=1)),
    )
    result = run_job(sync, "push")
    assert result is not None and result.outcome == "ok" and result.updated == 1, result
    event = emulator.get("Event", sf_id)
    assert event["WhoId"] == c1
    assert sorted(emulator._who_relations(sf_id)) == sorted([c1, c2])
    echo = run_job(sync, "mirror")
    assert echo is not None and echo.updated == 0, echo
    assert _guests(runtime, sf_id) == [(c1, "Ann"), (c2, "Ben")]


def test_local_guests_survive_the_echo_and_salesforce_whos_merge_in(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    from caldav_bridge.model.requests import AppointmentDraft

    calendar_id, _ = _fitter(runtime, emulator, "local")
    run_job(sync, "mirror")  # the fitter's User becomes known
    primary = emulator.create("Contact", {"FirstName": "Ann", "LastName": "Doe"})
    other = emulator.create("Contact", {"FirstName": "Ben", "LastName": "Doe"})
    draft = AppointmentDraft.model_validate(
        {
            "calendar": {"id": calendar_id},
            "date_start": T0,
            "date_end": T0 + timedelta(hours=1),
            "name": "Booked here",
            "guests": [
                {"id": primary, "first_name": "Ann"},
                {"id": "cust-1001", "first_name": "Margaret"},
                {"first_name": "Companion"},
            ],
            "meta": {"type": "INITIAL", "salesforce": {"customer_gid": primary}},
            "status": "BOOKED",
        }
    )
    created = appointments.create(runtime.uow(), system_actor("api"), draft).appointment
    result = run_job(sync, "push")
    assert result is not None and result.created == 1, result
    sf_id = emulator.live("Event")[0]["Id"]
    assert emulator.get("Event", sf_id)["WhoId"] == primary
    echo = run_job(sync, "mirror")
    assert echo is not None and echo.updated == 0, echo
    names = [g.first_name for g in sorted(_row(runtime, sf_id).guests, key=lambda g: g.position)]
    assert names == ["Ann", "Margaret", "Companion"], "guests that are not Salesforce Whos are the service's own"
    emulator.relate(sf_id, other)
    result = run_job(sync, "mirror")
    assert result is not None and result.updated == 1, result
    names = [g.first_name for g in sorted(_row(runtime, sf_id).guests, key=lambda g: g.position)]
    assert names == ["Ann", "Ben", "Margaret", "Companion"]
    assert _row(runtime, sf_id).id == str(created.id)


def test_org_without_shared_activities_uses_who_id_and_asks_once_per_run(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    emulator.shared_activities = False
    _, owner = _fitter(runtime, emulator, "single")
    c1 = emulator.create("Contact", {"FirstName": "Ann", "LastName": "Doe"})
    ids = [_event(emulator, owner, i, WhoId=c1) for i in range(15)]
    emulator.stats.queried.clear()
    result = run_job(sync, "mirror")
    assert result is not None and result.outcome == "ok" and result.created == 15, result
    assert emulator.stats.queried.count("EventRelation") == 1  # INVALID_FIELD once, then not asked again
    assert _guests(runtime, ids[0]) == [(c1, "Ann")]


# ----------------------------------------------------------------------------------------- crews


@pytest.fixture
def sa_sync(sync: SyncContext) -> SyncContext:
    sync.mapping = replace(sync.mapping, mode="service_appointment")
    return sync


def _service_appointment(emu: SalesforceEmulator, subject: str, i: int = 0) -> str:
    start = T0 + timedelta(hours=i)
    return emu.create(
        "ServiceAppointment",
        {
            "Subject": subject,
            "SchedStartTime": format_sf_datetime(start),
            "SchedEndTime": format_sf_datetime(start + timedelta(hours=1)),
            "Status": "Scheduled",
        },
    )


def _assign(emu: SalesforceEmulator, sa: str, resource: str, primary: bool | None = None) -> str:
    fields: dict[str, object] = {"ServiceAppointmentId": sa, "ServiceResourceId": resource}
    if primary is not None:
        fields["IsPrimaryResource"] = primary
    return emu.create("AssignedResource", fields)


@pytest.mark.parametrize("primary_field", [True, False], ids=["IsPrimaryResource", "no-IsPrimaryResource"])
def test_a_crew_lives_in_the_primary_calendar_and_the_others_are_recorded(
    runtime: Runtime, emulator: SalesforceEmulator, sa_sync: SyncContext, primary_field: bool
) -> None:
    emulator.primary_resource_field = primary_field
    cal_a, res_a = _fitter(runtime, emulator, "crew.a", resource=True)
    cal_b, res_b = _fitter(runtime, emulator, "crew.b", resource=True)
    res_x = emulator.create("ServiceResource", {"Name": "Contractor", "IsActive": True})  # no User here
    sa = _service_appointment(emulator, "Crew job")
    _assign(emulator, sa, res_b)  # earliest created
    ar_a = _assign(emulator, sa, res_a, primary=True if primary_field else None)
    _assign(emulator, sa, res_x)
    result = run_job(sa_sync, "mirror")
    assert result is not None and result.outcome == "ok" and result.created == 1, result
    row = _row(runtime, sa)
    if primary_field:  # IsPrimaryResource wins over creation order
        assert row.calendar_id == cal_a
        assert (row.meta_extra or {})[CREW_META] == [
            {"resource_gid": res_b, "calendar_id": cal_b},
            {"resource_gid": res_x, "calendar_id": None},
        ]
    else:  # the earliest-created assignment is the primary
        assert row.calendar_id == cal_b
        assert (row.meta_extra or {})[CREW_META] == [
            {"resource_gid": res_a, "calendar_id": cal_a},
            {"resource_gid": res_x, "calendar_id": None},
        ]
    with runtime.uow() as uow:
        assert uow.session.scalar(select(OutboxRow.id).limit(1)) is None

    # a member leaves (only the AssignedResource changes): the crew is read again, the calendar stays
    leaving = next(r["Id"] for r in emulator.live("AssignedResource") if r["ServiceResourceId"] == res_x)
    emulator.delete("AssignedResource", leaving)
    result = run_job(sa_sync, "mirror")
    assert result is not None and result.updated == 1, result
    row = _row(runtime, sa)
    assert [m["resource_gid"] for m in (row.meta_extra or {})[CREW_META]] == [res_b if primary_field else res_a]
    # the primary leaves: the next one (by the same rule) holds the appointment
    primary_ar = (
        ar_a
        if primary_field
        else next(r["Id"] for r in emulator.live("AssignedResource") if r["ServiceResourceId"] == res_b)
    )
    emulator.delete("AssignedResource", primary_ar)
    result = run_job(sa_sync, "mirror")
    assert result is not None and result.updated == 1, result
    row = _row(runtime, sa)
    assert row.calendar_id == (cal_b if primary_field else cal_a)
    assert CREW_META not in (row.meta_extra or {})
    again = run_job(sa_sync, "mirror")
    assert again is not None and again.updated == 0, again


def test_moving_a_crew_appointment_to_a_member_swaps_the_assignments(
    runtime: Runtime, emulator: SalesforceEmulator, sa_sync: SyncContext
) -> None:
    emulator.primary_resource_field = False
    cal_a, res_a = _fitter(runtime, emulator, "swap.a", resource=True)
    cal_b, res_b = _fitter(runtime, emulator, "swap.b", resource=True)
    sa = _service_appointment(emulator, "Swap job")
    first = _assign(emulator, sa, res_a)
    second = _assign(emulator, sa, res_b)
    run_job(sa_sync, "mirror")
    row = _row(runtime, sa)
    assert row.calendar_id == cal_a
    with runtime.uow() as uow:  # a dispatcher moves it to the other crew member's calendar
        stored = uow.session.get(AppointmentRow, row.id)
        assert stored is not None
        stored.calendar_id = cal_b
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
    assert emulator.get("AssignedResource", first)["ServiceResourceId"] == res_b  # the primary is now b's
    assert emulator.get("AssignedResource", second)["ServiceResourceId"] == res_a  # a stays in the crew
    assert len(emulator.live("AssignedResource")) == 2
    result = run_job(sa_sync, "mirror")
    assert result is not None and result.outcome == "ok", result
    row = _row(runtime, sa)
    assert row.calendar_id == cal_b, "the mirror's rule agrees with the push: no move back"
    assert [m["resource_gid"] for m in (row.meta_extra or {})[CREW_META]] == [res_a]
