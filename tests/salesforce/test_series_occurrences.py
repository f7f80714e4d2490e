"""A series made here whose occurrences were changed over REST, pushed to the strict Salesforce emulator with
the real simple-salesforce client (SQLite and PostgreSQL): still **one** record at the series' own first
occurrence, never at a moved occurrence's time (not even when the first one is moved), its moved and
cancelled occurrences named in the Description's series line; the echo and a later Salesforce edit leave the
series and its occurrences as they are here.

Failed before: the pushed record said nothing of the changed occurrences (Salesforce users saw the series as
if none had been moved or cancelled).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests

from caldav_bridge.converters.salesforce import format_sf_datetime
from caldav_bridge.converters.salesforce_series import MAX_NOTED, series_description
from caldav_bridge.model.appointment import Appointment
from caldav_bridge.model.timestamps import format_timestamp
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.store.sf_tables import SfLinkRow
from sf_emulator.emulator import SalesforceEmulator
from tests.caldav.conftest import client_for
from tests.conftest import People
from tests.support.live import LiveServer

BERLIN = ZoneInfo("Europe/Berlin")
RULE = "FREQ=WEEKLY;COUNT=4"


def _ok(result: Any, **counts: int) -> None:
    assert result is not None and result.outcome == "ok", result
    for name, value in counts.items():
        assert getattr(result, name) == value, (name, result)


def _series_ics(first: datetime) -> str:
    local = first.astimezone(BERLIN)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:weekly-sf@test\r\n"
        "DTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=Europe/Berlin:{local:%Y%m%dT%H%M%S}\r\n"
        f"DTEND;TZID=Europe/Berlin:{local + timedelta(minutes=30):%Y%m%dT%H%M%S}\r\n"
        f"RRULE:{RULE}\r\nSUMMARY:Check-in\r\nDESCRIPTION:Bring the charger\r\n"
        "X-APPOINTMENT-TYPE:FOLLOW_UP\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_changed_occurrences_are_named_on_the_series_record_never_its_time(
    live: LiveServer, people: People, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    auth = (people.fitter.username, people.fitter.password)
    api = live.client(people.fitter.token)
    zone = BERLIN  # the series' zone (its DTSTART's TZID), which the line names
    day = (datetime.now(BERLIN) + timedelta(days=10)).date()
    first = datetime(day.year, day.month, day.day, 9, tzinfo=BERLIN).astimezone(UTC)
    week = [first + timedelta(weeks=n) for n in range(4)]
    put = requests.put(
        f"{live.base_url}/dav/{auth[0]}/appointments/weekly-sf.ics", data=_series_ics(first), auth=auth, timeout=30
    )
    assert put.status_code == 201, put.text
    _ok(run_job(sync, "push"), created=1)
    (series,) = api.get("/api/v1/appointments", params={"calendar_id": people.fitter.calendar_id}).json()["items"]
    path = f"/api/v1/appointments/{series['id']}/occurrences"

    # the first occurrence moved an hour later, the 2nd two hours later, the 3rd cancelled, the 4th retitled
    for n, change in (
        (0, {"date_start": week[0] + timedelta(hours=1), "date_end": week[0] + timedelta(hours=1, minutes=30)}),
        (1, {"date_start": week[1] + timedelta(hours=2), "date_end": week[1] + timedelta(hours=2, minutes=30)}),
        (2, {"cancelled": True}),
        (3, {"name": "Check-in (last)"}),
    ):
        body = {k: format_timestamp(v) if isinstance(v, datetime) else v for k, v in change.items()}
        r = api.patch(f"{path}/{format_timestamp(week[n])}", json=body)
        assert r.status_code == 200, r.text
    _ok(run_job(sync, "push"), updated=1)

    (event,) = emulator.live("Event")  # still one record, no Salesforce series
    assert not event.get("IsRecurrence")
    assert (event["StartDateTime"], event["EndDateTime"]) == (
        format_sf_datetime(first),
        format_sf_datetime(first + timedelta(minutes=30)),
    )  # the series' own first occurrence, never a moved occurrence's time

    def local(moment: datetime) -> str:
        return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"

    def to(moment: datetime) -> str:
        return f"{local(moment)}-{moment.astimezone(zone) + timedelta(minutes=30):%H:%M}"

    moved_first = f"{local(week[0])} moved to {to(week[0] + timedelta(hours=1))}"
    moved_second = f"{local(week[1])} moved to {to(week[1] + timedelta(hours=2))}"
    assert event["Description"] == (
        "Bring the charger\n\n"
        f"[Series: RRULE:{RULE}; this record is its first occurrence; changed occurrences (Europe/Berlin): "
        f"{moved_first}, {moved_second}, {local(week[2])} cancelled]"
    )

    # the echo copies nothing back; a Salesforce edit comes back without moving the series or its occurrences
    _ok(run_job(sync, "mirror"), updated=0, created=0)
    before = api.get(f"/api/v1/appointments/{series['id']}").json()
    emulator.update("Event", event["Id"], {"Subject": "Check-in (room 2)"})
    _ok(run_job(sync, "mirror"), updated=1)
    after = api.get(f"/api/v1/appointments/{series['id']}").json()
    assert after["name"] == "Check-in (room 2)" and after["description"] == "Bring the charger"
    assert (after["date_start"], after["date_end"]) == (before["date_start"], before["date_end"])
    assert after["meta"]["recurrence"] == before["meta"]["recurrence"]
    assert len(after["meta"]["recurrence"]["overrides"]) == 4
    with live.runtime.uow() as uow:
        assert uow.session.query(SfLinkRow).filter_by(sf_id=event["Id"]).one().appointment_id == series["id"]


def test_the_series_line_names_at_most_max_noted_changes() -> None:
    first = datetime(2026, 1, 6, 8, tzinfo=UTC)
    overrides = [
        {
            "recurrence_id": format_timestamp(first + timedelta(days=n)),
            "date_start": format_timestamp(first + timedelta(days=n)),
            "date_end": format_timestamp(first + timedelta(days=n, hours=1)),
            "cancelled": True,
        }
        for n in range(1, MAX_NOTED + 6)
    ]
    recurrence = {"rrule": "FREQ=DAILY", "timezone": "UTC", "exdates": [], "rdates": [], "overrides": overrides}
    appointment = Appointment.model_validate(
        {
            "id": "00000000-0000-4000-8000-000000000001",
            "calendar": {"id": "c1"},
            "date_start": first,
            "date_end": first + timedelta(hours=1),
            "created_at": first,
            "updated_at": first,
            "name": "Daily",
            "status": "BOOKED",
            "meta": {"type": "FOLLOW_UP", "recurrence": recurrence},
        }
    )
    note = series_description(appointment, "UTC") or ""
    assert note.count(" cancelled") == MAX_NOTED and note.endswith(", and 5 more]")
    assert note.startswith(
        "[Series: RRULE:FREQ=DAILY; this record is its first occurrence; changed occurrences (UTC): "
    )


def _override_ics(original: datetime, start: datetime) -> str:
    """The override VEVENT a phone writes for "this event only" (the series' SUMMARY and DESCRIPTION copied)."""
    return (
        "BEGIN:VEVENT\r\nUID:weekly-sf@test\r\nDTSTAMP:20261101T000000Z\r\n"
        f"RECURRENCE-ID;TZID=Europe/Berlin:{original.astimezone(BERLIN):%Y%m%dT%H%M%S}\r\n"
        f"DTSTART;TZID=Europe/Berlin:{start.astimezone(BERLIN):%Y%m%dT%H%M%S}\r\n"
        f"DTEND;TZID=Europe/Berlin:{start.astimezone(BERLIN) + timedelta(minutes=30):%Y%m%dT%H%M%S}\r\n"
        "SUMMARY:Check-in\r\nDESCRIPTION:Bring the charger\r\nEND:VEVENT\r\n"
    )


def test_a_phones_moved_and_deleted_occurrences_are_named_as_rests_are(
    live: LiveServer, people: People, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    """A phone (python-caldav) moves the 2nd occurrence and deletes the 3rd (EXDATE) of its own series: the
    pushed Description names them as it names REST's changes, the history has them (channel caldav), and the same
    body saved again pushes nothing. Failed before: the EXDATE was not named and no history entry was made."""
    api = live.client(people.fitter.token)
    day = (datetime.now(BERLIN) + timedelta(days=10)).date()
    first = datetime(day.year, day.month, day.day, 9, tzinfo=BERLIN).astimezone(UTC)
    week = [first + timedelta(weeks=n) for n in range(4)]
    (calendar,) = client_for(live, people.fitter.username, people.fitter.password).principal().calendars()
    calendar.save_event(_series_ics(first))
    _ok(run_job(sync, "push"), created=1)
    (series,) = api.get("/api/v1/appointments", params={"calendar_id": people.fitter.calendar_id}).json()["items"]
    before = len(api.get(f"/api/v1/appointments/{series['id']}/history").json()["items"])

    moved_to = week[1] + timedelta(hours=2)
    exdate = f"EXDATE;TZID=Europe/Berlin:{week[2].astimezone(BERLIN):%Y%m%dT%H%M%S}\r\n"
    text = (
        _series_ics(first)
        .replace("RRULE:", exdate + "RRULE:")
        .replace("END:VCALENDAR", _override_ics(week[1], moved_to) + "END:VCALENDAR")
    )
    event = calendar.event_by_uid("weekly-sf@test")
    event.data = text
    event.save()
    _ok(run_job(sync, "push"), updated=1)

    def local(moment: datetime) -> str:
        return f"{moment.astimezone(BERLIN):%Y-%m-%d %H:%M}"

    (record,) = emulator.live("Event")
    assert record["Description"] == (
        "Bring the charger\n\n"
        f"[Series: RRULE:{RULE}; this record is its first occurrence; changed occurrences (Europe/Berlin): "
        f"{local(week[1])} moved to {local(moved_to)}-{moved_to.astimezone(BERLIN) + timedelta(minutes=30):%H:%M}, "
        f"{local(week[2])} cancelled]"
    )
    assert record["StartDateTime"] == format_sf_datetime(first)
    history = api.get(f"/api/v1/appointments/{series['id']}/history").json()["items"][before:]
    assert [(h["recurrence_id"], h["changed"], h["channel"]) for h in history] == [
        (format_timestamp(week[1]), ["date_start", "date_end"], "caldav"),
        (format_timestamp(week[2]), ["cancelled"], "caldav"),
    ]

    # saved again unchanged: nothing to push, no new history
    event = calendar.event_by_uid("weekly-sf@test")
    event.data = text
    event.save()
    _ok(run_job(sync, "push"), updated=0, created=0)
    assert len(api.get(f"/api/v1/appointments/{series['id']}/history").json()["items"]) == before + 2
    _ok(run_job(sync, "mirror"), updated=0, created=0)  # the echo copies nothing back
