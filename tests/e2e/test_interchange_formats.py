"""The OLS, iCalendar and Salesforce shapes in the one interchange, over real HTTP on SQLite and PostgreSQL:
``?format=``, ``/export/{format}``, ``/import/{format}``, a whole ``.ics`` file in (a fitter's old calendar,
recurring events included) and a calendar out as ``.ics``; and the demo's code tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest

from caldav_bridge.model.queries import AppointmentFilters
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import interchange
from caldav_bridge.services.actor import system_actor
from config import DEMO_CONFIG, Settings, load_settings
from feeds.cli.admin import run_demo
from tests.conftest import People
from tests.support.factories import appointment_body
from tests.support.live import Api, LiveServer

ICS = {"Content-Type": "text/calendar"}
#: A fitter's old calendar, as another program exports it. Times are in the window the test asks for.
OLD_CALENDAR = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Old Program//EN
X-WR-CALNAME:Fitter Denver
BEGIN:VTIMEZONE
TZID:America/Denver
BEGIN:STANDARD
DTSTART:19701101T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
TZOFFSETFROM:-0600
TZOFFSETTO:-0700
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700308T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
TZOFFSETFROM:-0700
TZOFFSETTO:-0600
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:single-1@old
DTSTAMP:20261101T000000Z
DTSTART;TZID=America/Denver:20261201T090000
DTEND;TZID=America/Denver:20261201T100000
SUMMARY:Fitting Jane Doe
DESCRIPTION:Bring the audiogram
LOCATION:12 Main St
STATUS:CONFIRMED
END:VEVENT
BEGIN:VEVENT
UID:allday-1@old
DTSTAMP:20261101T000000Z
DTSTART;VALUE=DATE:20261203
SUMMARY:Training day
END:VEVENT
BEGIN:VEVENT
UID:weekly-1@old
DTSTAMP:20261101T000000Z
DTSTART;TZID=America/Denver:20261207T140000
DTEND;TZID=America/Denver:20261207T143000
RRULE:FREQ=WEEKLY;COUNT=4
EXDATE;TZID=America/Denver:20261214T140000
SUMMARY:Follow-up Bob
X-APPOINTMENT-TYPE:FOLLOW_UP
END:VEVENT
BEGIN:VEVENT
UID:weekly-1@old
DTSTAMP:20261101T000000Z
RECURRENCE-ID;TZID=America/Denver:20261221T140000
DTSTART;TZID=America/Denver:20261221T160000
DTEND;TZID=America/Denver:20261221T163000
SUMMARY:Follow-up Bob (moved)
END:VEVENT
BEGIN:VEVENT
UID:minutely@old
DTSTAMP:20261101T000000Z
DTSTART:20261201T090000Z
DTEND:20261201T090100Z
RRULE:FREQ=MINUTELY
SUMMARY:Ping
END:VEVENT
BEGIN:VEVENT
UID:backwards@old
DTSTAMP:20261101T000000Z
DTSTART:20261202T100000Z
DTEND:20261202T090000Z
SUMMARY:Broken
END:VEVENT
BEGIN:VEVENT
UID:nostart@old
DTSTAMP:20261101T000000Z
SUMMARY:No start
END:VEVENT
END:VCALENDAR
""".replace("\n", "\r\n")
WINDOW = {"from": "2026-11-01T00:00:00Z", "to": "2027-02-01T00:00:00Z"}


def _create(api: Api, calendar_id: str, **overrides: Any) -> dict[str, Any]:
    response = api.post("/api/v1/appointments", json=appointment_body(calendar_id, **overrides))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_get_and_export_in_the_ols_ical_and_salesforce_shapes(live: LiveServer, people: People) -> None:
    api = live.client(people.dispatcher.token)
    created = _create(api, people.fitter.calendar_id or "", status="BOOKED")
    url = f"/api/v1/appointments/{created['id']}"
    ols = api.get(url, params={"format": "ols"})
    assert ols.status_code == 200, ols.text
    assert ols.json()["date_v2"] == created["date_start"] and ols.json()["id"] == created["id"]
    assert ols.json()["opportunity_gid"] == "0069E00000HbsUrQAJ" and ols.json()["status"] == "scheduled"
    ical = api.get(url, params={"format": "ical"}).json()
    assert ical["uid"] == created["id"] and ical["status"] == "CONFIRMED" and ical["x_appointment_status"] == "BOOKED"
    assert ical["dtstart"] == "2026-12-01T16:00:00Z" and ical["summary"] == created["name"]
    sf = api.get(url, params={"format": "salesforce"}).json()
    assert sf["attributes"] == {"type": "Event"} and sf["Appointment_Service_Id__c"] == created["id"]
    assert sf["StartDateTime"] == "2026-12-01T16:00:00.000+0000" and sf["WhatId"] == "0069E00000HbsUrQAJ"
    for fmt in ("ols", "ical", "salesforce"):
        page = api.get(f"/api/v1/export/{fmt}").json()
        assert len(page["items"]) == 1 and page["errors"] == [], fmt


def test_each_new_format_imports_what_it_exports_into_another_calendar(live: LiveServer, people: People) -> None:
    api = live.client(people.dispatcher.token)
    created = _create(api, people.fitter.calendar_id or "", status="BOOKED")
    target = people.other_fitter.calendar_id
    for fmt in ("ols", "ical", "salesforce"):
        item = api.get(f"/api/v1/appointments/{created['id']}", params={"format": fmt}).json()
        item = {**item, "id": f"{fmt}-copy"} if fmt == "ols" else item
        item = {**item, "uid": "ical-copy"} if fmt == "ical" else item
        item = {**item, "Appointment_Service_Id__c": "sf-copy"} if fmt == "salesforce" else item
        result = api.post(f"/api/v1/import/{fmt}", json=item, params={"calendar_id": target}).json()
        (first,) = result["results"]
        assert first["status"] == "created", (fmt, first)
        copy = api.get(f"/api/v1/appointments/{first['id']}").json()
        assert copy["date_start"] == created["date_start"] and copy["calendar"]["id"] == target, fmt
        again = api.post(f"/api/v1/import/{fmt}", json=item, params={"calendar_id": target}).json()
        assert again["results"][0]["status"] == "unchanged", (fmt, again)


def test_a_whole_ics_file_imports_every_event_with_per_item_errors(live: LiveServer, people: People) -> None:
    api = live.client(people.dispatcher.token)
    cal = people.fitter.calendar_id
    params = {"calendar_id": cal, **WINDOW}
    response = api.post("/api/v1/import/ical", data=OLD_CALENDAR.encode(), headers=ICS, params=params)
    assert response.status_code == 200, response.text
    data = response.json()
    by_source = {r["source_id"]: r for r in data["results"]}
    created = {s for s, r in by_source.items() if r["status"] == "created"}
    # The single event, the all-day one, and the weekly series: 4 weeks less the EXDATE, one moved.
    assert created == {
        "single-1@old",
        "allday-1@old",
        "weekly-1@old/20261207T210000Z",
        "weekly-1@old/20261221T210000Z",
        "weekly-1@old/20261228T210000Z",
    }
    errors = {s: r["errors"] for s, r in by_source.items() if r["status"] == "error"}
    assert (
        errors["minutely@old"][0]["field"] == "rrule"
        and "more often than daily" in errors["minutely@old"][0]["message"]
    )
    assert errors["backwards@old"][0]["field"] == "dtend"
    assert errors["nostart@old"][0]["field"] == "dtstart"
    assert data["summary"]["created"] == 5 and data["summary"]["error"] == 3
    listed = api.get("/api/v1/appointments", params={"calendar_id": cal, "limit": 50}).json()["items"]
    by_name = {a["name"]: a for a in listed}
    assert by_name["Fitting Jane Doe"]["date_start"] == "2026-12-01T16:00:00.000Z"
    assert by_name["Fitting Jane Doe"]["meta"]["location"] == "12 Main St"
    assert by_name["Fitting Jane Doe"]["status"] == "BOOKED"
    assert by_name["Follow-up Bob (moved)"]["date_start"] == "2026-12-21T23:00:00.000Z"
    assert by_name["Follow-up Bob"]["meta"]["type"] == "FOLLOW_UP"
    assert by_name["Training day"]["meta"]["all_day"] is True
    # Importing the same file again changes nothing.
    again = api.post("/api/v1/import/ical", data=OLD_CALENDAR.encode(), headers=ICS, params=params).json()
    assert again["summary"]["created"] == 0 and again["summary"]["unchanged"] == 5


def test_bad_ics_bodies_are_clear_errors(live: LiveServer, people: People) -> None:
    api = live.client(people.dispatcher.token)
    params = {"calendar_id": people.fitter.calendar_id}
    not_ics = api.post("/api/v1/import/ical", data=b"hello", headers=ICS, params=params)
    assert not_ics.status_code == 422 and not_ics.json()["errors"][0]["field"] == "(body)"
    other = api.post("/api/v1/import/blueprint", data=OLD_CALENDAR.encode(), headers=ICS, params=params)
    assert other.status_code == 422 and "ical format only" in other.json()["errors"][0]["message"]
    too_wide = api.post(
        "/api/v1/import/ical",
        data=OLD_CALENDAR.encode(),
        headers=ICS,
        params={**params, "from": "2020-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"},
    )
    assert too_wide.status_code == 422 and too_wide.json()["errors"][0]["field"] == "to"
    assert api.get("/api/v1/appointments").json()["items"] == []


def test_a_calendar_exports_as_an_ics_file_that_imports_again(live: LiveServer, people: People) -> None:
    api = live.client(people.dispatcher.token)
    cal = people.fitter.calendar_id or ""
    start = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    made = [_create(api, cal, start=start + timedelta(days=i), name=f"Visit {i}") for i in range(3)]
    response = api.get(f"/api/v1/calendars/{cal}/appointments.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    assert "attachment" in response.headers["Content-Disposition"]
    parsed = icalendar.Calendar.from_ical(response.content)
    events = list(parsed.walk("VEVENT"))
    assert sorted(str(e["UID"]) for e in events) == sorted(a["id"] for a in made)
    assert [str(z["TZID"]) for z in parsed.walk("VTIMEZONE")] == ["America/Denver"]
    # Into another calendar: every event comes back with its times.
    target = people.other_fitter.calendar_id
    result = api.post(
        "/api/v1/import/ical", data=response.content, headers=ICS, params={"calendar_id": target, **WINDOW}
    ).json()
    assert result["summary"]["created"] == 3
    copies = api.get("/api/v1/appointments", params={"calendar_id": target}).json()["items"]
    assert sorted(c["date_start"] for c in copies) == sorted(a["date_start"] for a in made)
    # A calendar the token does not reach is a 404.
    fitter = live.client(people.fitter.token)
    assert fitter.get(f"/api/v1/calendars/{target}/appointments.ics").status_code == 404


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the exports do not depend on the database
@pytest.mark.usefixtures("demo")
def test_the_demo_settings_make_every_export_work(settings: Settings) -> None:
    database_url, data_dir = settings.database_url, settings.data_dir  # holding the demo already (``demo``)
    rt = Runtime.from_settings(
        load_settings(environ={}, config_file=DEMO_CONFIG, database_url=database_url, data_dir=data_dir)
    )
    run_demo(rt)  # as `serve --demo` does on start (with the demo's settings): it finds the demo there
    plain = Runtime.from_settings(load_settings(environ={}, database_url=database_url, data_dir=data_dir))
    try:
        for fmt in ("calendly", "timekit", "onsched", "blueprint", "ols", "ical", "salesforce", "canonical"):
            entries = list(
                interchange.export_stream(
                    rt.uow(), system_actor(), fmt, AppointmentFilters(), options=rt.converter_options[fmt]
                )
            )
            items = [e for e in entries if isinstance(e, dict)]
            failed = [e for e in entries if isinstance(e, interchange.ExportError)]
            assert items, fmt
            # Only what the format has no code for at all remains: Calendly has no INITIAL/RESERVED status,
            # Timekit no RESERVED; no type is ever missing a code.
            assert all(err.field == "status" for e in failed for err in e.errors), (fmt, failed[:1])
        # Without the demo's tables, the error says how to configure one.
        missing = list(
            interchange.export_stream(
                plain.uow(),
                system_actor(),
                "calendly",
                AppointmentFilters(),
                options=plain.converter_options["calendly"],
            )
        )
        messages = [err.message for e in missing if isinstance(e, interchange.ExportError) for err in e.errors]
        assert any("calendly_event_types" in m and "APPOINTMENTS_CALENDLY_EVENT_TYPES" in m for m in messages)
    finally:
        rt.close()
        plain.close()
