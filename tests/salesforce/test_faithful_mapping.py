"""Faithful mapping both ways (issue 18): every guest, all-day, ShowAs, WorkType/ServiceTerritory, series.

Against the strict emulator over a real socket with the unmodified simple-salesforce client, on SQLite and
PostgreSQL (the ``runtime`` fixture's two backends).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from caldav_bridge.converters.salesforce import format_sf_datetime
from caldav_bridge.model.requests import AppointmentDraft, AppointmentPatch, CancelRequest
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce import preflight
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import appointments, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.tables import AppointmentRow
from sf_emulator.emulator import SalesforceEmulator
from sf_emulator.org import make_id
from tests.conftest import People
from tests.salesforce.conftest import add_opportunity
from tests.support.live import LiveServer

BERLIN = ZoneInfo("Europe/Berlin")
DAY = (datetime.now(UTC) + timedelta(days=10)).date()
T0 = datetime(DAY.year, DAY.month, DAY.day, 9, tzinfo=BERLIN).astimezone(UTC)


def _fitter(rt: Runtime, emu: SalesforceEmulator, name: str) -> tuple[str, str]:
    """A fitter (calendar in Europe/Berlin) and their Salesforce User; returns (calendar id, User id)."""
    email = f"{name}@example.com"
    users.add_user(rt.uow(), name, "fitter", email=email, timezone="Europe/Berlin")
    with rt.uow() as uow:
        user = uow.users.by_username(name)
        assert user is not None
        calendar_id = uow.calendars.ids_owned_by(user.id)[0]
    user_sf = emu.create("User", {"Name": name, "Email": email, "IsActive": True, "TimeZoneSidKey": "Europe/Berlin"})
    return calendar_id, user_sf


def _create(rt: Runtime, calendar_id: str, **fields: Any) -> str:
    body: dict[str, Any] = {
        "calendar": {"id": calendar_id},
        "date_start": T0,
        "date_end": T0 + timedelta(hours=1),
        "name": "Fitting",
        "meta": {"type": "FOLLOW_UP"},
        "status": "BOOKED",
        **fields,
    }
    return str(appointments.create(rt.uow(), system_actor("api"), AppointmentDraft.model_validate(body)).appointment.id)


def _patch(rt: Runtime, appointment_id: str, **fields: Any) -> None:
    appointments.update(rt.uow(), system_actor("api"), appointment_id, AppointmentPatch.model_validate(fields))


def _row(rt: Runtime, appointment_id: str) -> AppointmentRow:
    with rt.uow() as uow:
        row = uow.appointments.including_deleted(appointment_id)
        assert row is not None
        _ = list(row.guests), row.meta_extra
        return row


def _sf_id(rt: Runtime, appointment_id: str) -> str:
    with rt.uow() as uow:
        link = uow.session.get(SfLinkRow, appointment_id)
        assert link is not None and link.sf_id
        return link.sf_id


def _guest_ids(rt: Runtime, appointment_id: str) -> list[str | None]:
    return [g.person_id for g in sorted(_row(rt, appointment_id).guests, key=lambda g: g.position)]


def _ok(result: Any, **counts: int) -> None:
    assert result is not None and result.outcome == "ok", result
    for name, value in counts.items():
        assert getattr(result, name) == value, (name, result)


# ----------------------------------------------------------------------------------------- every guest


def test_every_contact_and_lead_guest_is_related_on_push_and_the_echo_changes_nothing(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    calendar_id, _ = _fitter(runtime, emulator, "everyone")
    run_job(sync, "mirror")
    c1 = emulator.create("Contact", {"FirstName": "Ann", "LastName": "Doe"})
    c2 = emulator.create("Contact", {"FirstName": "Ben", "LastName": "Doe"})
    lead = emulator.create("Lead", {"FirstName": "Lee", "LastName": "Lead"})
    aid = _create(
        runtime,
        calendar_id,
        guests=[{"id": c1, "first_name": "Ann"}, {"id": c2}, {"first_name": "Companion"}, {"id": lead}],
        meta={"type": "FOLLOW_UP", "salesforce": {"customer_gid": c1}},
    )
    _ok(run_job(sync, "push"), created=1)
    sf_id = _sf_id(runtime, aid)
    event = emulator.get("Event", sf_id)
    assert event["WhoId"] == c1  # the customer is the primary Who
    assert sorted(emulator._who_relations(sf_id)) == sorted([c1, c2, lead])  # not only the first
    _ok(run_job(sync, "mirror"), updated=0)  # our own write coming back
    assert _guest_ids(runtime, aid)[:2] == [c1, c2] and len(_guest_ids(runtime, aid)) == 4

    # a guest removed here is no longer related there; one related there becomes a guest here
    _patch(runtime, aid, guests=[{"id": c1}, {"id": lead}])
    _ok(run_job(sync, "push"), updated=1)
    assert sorted(emulator._who_relations(sf_id)) == sorted([c1, lead])
    c3 = emulator.create("Contact", {"FirstName": "Cy", "LastName": "Doe"})
    emulator.relate(sf_id, c3)
    _ok(run_job(sync, "mirror"), updated=1)
    assert set(_guest_ids(runtime, aid)) == {c1, lead, c3}


def test_without_shared_activities_the_first_guest_is_the_who_and_the_rest_are_kept(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    emulator.shared_activities = False  # EventWhoIds is an unknown field in such an org (INVALID_FIELD)
    calendar_id, _ = _fitter(runtime, emulator, "single")
    run_job(sync, "mirror")
    c1 = emulator.create("Contact", {"FirstName": "Ann", "LastName": "Doe"})
    c2 = emulator.create("Contact", {"FirstName": "Ben", "LastName": "Doe"})
    aid = _create(runtime, calendar_id, guests=[{"id": c1}, {"id": c2}])  # no customer_gid: the first guest
    result = run_job(sync, "push")
    _ok(result, created=1, failed=0)
    assert result is not None
    assert any("only the first is related" in note for note in result.errors), result.errors  # recorded in the run
    event = emulator.get("Event", _sf_id(runtime, aid))
    assert event["WhoId"] == c1
    _ok(run_job(sync, "mirror"), updated=0)
    assert _guest_ids(runtime, aid) == [c1, c2]  # the second guest is not lost


# ----------------------------------------------------------------------------------------- all-day


def test_an_all_day_appointment_is_an_all_day_event_both_ways(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    calendar_id, owner = _fitter(runtime, emulator, "allday")
    run_job(sync, "mirror")
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=BERLIN)  # two local days, Berlin midnights
    aid = _create(
        runtime,
        calendar_id,
        date_start=start.astimezone(UTC),
        date_end=(start + timedelta(days=2)).astimezone(UTC),
        meta={"type": "FOLLOW_UP", "all_day": True},
    )
    _ok(run_job(sync, "push"), created=1)
    sf_id = _sf_id(runtime, aid)
    event = emulator.get("Event", sf_id)
    assert event["IsAllDayEvent"] is True
    assert event["ActivityDate"] == DAY.isoformat()  # the local date, not the UTC one (22:00 or 23:00 the day before)
    assert event["StartDateTime"].startswith(f"{DAY.isoformat()}T00:00:00")  # midnight GMT, as Salesforce keeps it
    assert event["EndDateTime"].startswith(f"{(DAY + timedelta(days=1)).isoformat()}T00:00:00")  # the last day
    assert event["DurationInMinutes"] == 2 * 1440
    _ok(run_job(sync, "mirror"), updated=0)  # the echo leaves the Berlin midnights alone
    row = _row(runtime, aid)
    assert row.date_start == start.astimezone(UTC) and (row.meta_extra or {}).get("all_day") is True

    # an all-day Event made in Salesforce lands on its dates in the fitter's zone
    made = emulator.create(
        "Event", {"Subject": "Trade fair", "IsAllDayEvent": True, "ActivityDate": DAY.isoformat(), "OwnerId": owner}
    )
    _ok(run_job(sync, "mirror"), created=1)
    with runtime.uow() as uow:
        link = uow.session.query(SfLinkRow).filter_by(sf_id=made).one()
        fair = uow.appointments.including_deleted(link.appointment_id)
        assert fair is not None
        assert fair.date_start == start.astimezone(UTC)
        assert fair.date_end == (start + timedelta(days=1)).astimezone(UTC)
        assert (fair.meta_extra or {}).get("all_day") is True

    # made timed here: Salesforce gets a timed Event again
    _patch(runtime, aid, meta={"all_day": False}, date_start=T0, date_end=T0 + timedelta(hours=1))
    _ok(run_job(sync, "push"), updated=1)
    event = emulator.get("Event", sf_id)
    assert event["IsAllDayEvent"] is False and event["StartDateTime"] == format_sf_datetime(T0)


def test_the_emulator_keeps_all_day_events_as_a_real_org_does(emulator: SalesforceEmulator) -> None:
    owner = emulator.create("User", {"Name": "o", "Email": "o@example.com", "IsActive": True})
    rid = emulator.create(
        "Event",
        {
            "Subject": "x",
            "IsAllDayEvent": True,
            "StartDateTime": "2031-03-04T15:30:00.000+0000",  # a time of day is dropped
            "DurationInMinutes": 3 * 1440,
            "OwnerId": owner,
        },
    )
    event = emulator.get("Event", rid)
    assert event["ActivityDate"] == "2031-03-04"
    assert event["StartDateTime"] == "2031-03-04T00:00:00.000+0000"
    assert event["EndDateTime"] == "2031-03-06T00:00:00.000+0000"
    assert event["DurationInMinutes"] == 3 * 1440
    one = emulator.create(
        "Event", {"Subject": "y", "IsAllDayEvent": True, "ActivityDate": date(2031, 3, 9).isoformat()}
    )
    assert emulator.get("Event", one)["DurationInMinutes"] == 1440  # neither end nor duration: one day


# ----------------------------------------------------------------------------------------- ShowAs


@pytest.mark.parametrize(("show_as", "written"), [("free", "Free"), ("out_of_office", "OutOfOffice")])
def test_show_as_follows_the_appointments_transparency_both_ways(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext, show_as: str, written: str
) -> None:
    calendar_id, _ = _fitter(runtime, emulator, "showas")
    run_job(sync, "mirror")
    aid = _create(runtime, calendar_id, meta={"type": "FOLLOW_UP", "show_as": show_as})
    plain = _create(runtime, calendar_id, date_start=T0 + timedelta(hours=2), date_end=T0 + timedelta(hours=3))
    _ok(run_job(sync, "push"), created=2)
    sf_id = _sf_id(runtime, aid)
    assert emulator.get("Event", sf_id)["ShowAs"] == written
    assert emulator.get("Event", _sf_id(runtime, plain))["ShowAs"] == "Busy"
    _ok(run_job(sync, "mirror"), updated=0)
    # changed in Salesforce: read back into meta.show_as; Busy is the default and clears it
    emulator.update("Event", sf_id, {"ShowAs": "Busy"})
    emulator.update("Event", _sf_id(runtime, plain), {"ShowAs": written})
    _ok(run_job(sync, "mirror"), updated=2)
    assert "show_as" not in (_row(runtime, aid).meta_extra or {})
    assert (_row(runtime, plain).meta_extra or {}).get("show_as") == show_as
    # a cancellation is written Free, and its Free coming back is not read as a transparency
    appointments.cancel(runtime.uow(), system_actor("api"), aid, CancelRequest(reason="ill"))
    _ok(run_job(sync, "push"), updated=1)
    assert emulator.get("Event", sf_id)["ShowAs"] == "Free"
    _ok(run_job(sync, "mirror"), updated=0)
    assert "show_as" not in (_row(runtime, aid).meta_extra or {})


# ----------------------------------------------------------------------------------------- ServiceAppointment


@pytest.fixture
def sa_sync(sync: SyncContext) -> SyncContext:
    sync.mapping = replace(sync.mapping, mode="service_appointment")
    return sync


def test_service_appointments_get_work_type_and_territory_from_calendar_or_team_settings(
    runtime: Runtime, emulator: SalesforceEmulator, sa_sync: SyncContext
) -> None:
    calendar_id, user_sf = _fitter(runtime, emulator, "crewless")
    other_calendar, _ = _fitter(runtime, emulator, "defaulted")
    emulator.create("ServiceResource", {"Name": "crewless", "RelatedRecordId": user_sf, "IsActive": True})
    fitting = emulator.create("WorkType", {"Name": "Fitting", "EstimatedDuration": 60, "DurationType": "Minutes"})
    general = emulator.create("WorkType", {"Name": "General", "EstimatedDuration": 30, "DurationType": "Minutes"})
    north = emulator.create("ServiceTerritory", {"Name": "North", "IsActive": True})
    sa_sync.mapping = replace(
        sa_sync.mapping, work_types={calendar_id: fitting, "*": general}, service_territories={"*": north}
    )
    report = preflight.check(sa_sync.gateway_factory(), sa_sync.mapping)
    assert report.ok, report.problems
    run_job(sa_sync, "mirror")
    meta = {"type": "FOLLOW_UP", "salesforce": {"opportunity_gid": add_opportunity(emulator)}}  # ParentRecordId
    mine = _create(runtime, calendar_id, meta=meta)
    theirs = _create(runtime, other_calendar, meta=meta)
    _ok(run_job(sa_sync, "push"), created=2)
    record = emulator.get("ServiceAppointment", _sf_id(runtime, mine))
    assert (record["WorkTypeId"], record["ServiceTerritoryId"]) == (fitting, north)
    assert emulator.get("ServiceAppointment", _sf_id(runtime, theirs))["WorkTypeId"] == general  # the "*" entry


def test_sync_check_refuses_work_types_and_territories_the_org_lacks(
    runtime: Runtime, emulator: SalesforceEmulator, sa_sync: SyncContext
) -> None:
    closed = emulator.create("ServiceTerritory", {"Name": "Closed", "IsActive": False})
    missing = make_id("08q", 987_654)  # well formed, but no such WorkType
    sa_sync.mapping = replace(sa_sync.mapping, work_types={"*": missing}, service_territories={"cal-1": closed})
    report = preflight.check(sa_sync.gateway_factory(), sa_sync.mapping)
    lines = [p.line() for p in report.problems]
    assert not report.ok
    assert f"WorkType: {missing} (for every other calendar) does not exist" in lines, lines
    assert f"ServiceTerritory: {closed} (for calendar cal-1) is not active" in lines, lines


# ----------------------------------------------------------------------------------------- series


def test_a_series_made_over_caldav_is_one_record_at_its_first_occurrence_with_its_rule_named(
    live: LiveServer, people: People, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    auth = (people.fitter.username, people.fitter.password)
    first = T0 + timedelta(days=1)
    local = first.astimezone(BERLIN)
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:weekly@test\r\n"
        "DTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=Europe/Berlin:{local.strftime('%Y%m%dT%H%M%S')}\r\n"
        f"DTEND;TZID=Europe/Berlin:{(local + timedelta(minutes=30)).strftime('%Y%m%dT%H%M%S')}\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Check-in\r\nDESCRIPTION:Bring the charger\r\n"
        "X-APPOINTMENT-TYPE:FOLLOW_UP\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    url = f"{live.base_url}/dav/{auth[0]}/appointments/weekly.ics"
    put = requests.put(url, data=ics, auth=auth, timeout=30)
    assert put.status_code == 201, put.text
    _ok(run_job(sync, "push"), created=1)
    (event,) = emulator.live("Event")  # one record, not one per occurrence, and no Salesforce series
    assert event["StartDateTime"] == format_sf_datetime(first)
    assert not event.get("IsRecurrence")
    assert (
        event["Description"]
        == "Bring the charger\n\n[Series: RRULE:FREQ=WEEKLY;COUNT=3; this record is its first occurrence]"
    )
    _ok(run_job(sync, "mirror"), updated=0, created=0)  # the echo: the note is not copied into the description
    emulator.update("Event", event["Id"], {"Subject": "Check-in (moved room)"})
    _ok(run_job(sync, "mirror"), updated=1)
    with live.runtime.uow() as uow:
        link = uow.session.query(SfLinkRow).filter_by(sf_id=event["Id"]).one()
        row = uow.appointments.including_deleted(link.appointment_id)
        assert row is not None
        assert row.name == "Check-in (moved room)" and row.description == "Bring the charger"
        assert (row.meta_extra or {}).get("recurrence", {}).get("rrule") == "FREQ=WEEKLY;COUNT=3"  # still a series here
