"""python-caldav against the live server over loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import caldav
import requests
from sqlalchemy import select

from caldav_bridge.store.tables import AuditRow, OutboxRow
from tests.caldav.conftest import client_for
from tests.caldav.support import BASE, dav_session, event_ics
from tests.conftest import People
from tests.support.audit import audit_trail
from tests.support.factories import appointment_body
from tests.support.live import LiveServer


def _api_list(live: LiveServer, token: str, calendar_id: str) -> list[dict]:
    response = live.client(token).get("/api/v1/appointments", params={"calendar_id": calendar_id, "limit": 100})
    assert response.status_code == 200, response.text
    return response.json()["items"] if "items" in response.json() else response.json()["data"]


def test_discovery_principal_and_calendar(live: LiveServer, fitter_dav: caldav.DAVClient, people: People) -> None:
    well_known = requests.request("PROPFIND", live.base_url + "/.well-known/caldav", allow_redirects=False, timeout=10)
    assert well_known.status_code == 301 and well_known.headers["Location"] == "/dav/"
    principal = fitter_dav.principal()
    assert principal.url.path == f"/dav/{people.fitter.username}/"
    calendars = principal.calendars()
    assert [c.url.path for c in calendars] == [f"/dav/{people.fitter.username}/appointments/"]
    assert calendars[0].get_display_name() == people.fitter.username


def test_event_created_over_caldav_is_an_appointment_with_outbox_row(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    fitter_calendar.save_event(event_ics("dav-1@test", summary="Follow-up at home"))
    items = _api_list(live, people.fitter.token, people.fitter.calendar_id or "")
    assert [(a["name"], a["meta"]["type"], a["status"]) for a in items] == [
        ("Follow-up at home", "FOLLOW_UP", "BOOKED")
    ]
    appointment = items[0]
    assert appointment["date_start"] == "2026-12-01T16:00:00.000Z"  # 09:00 America/Denver
    assert appointment["meta"]["timezone"] == "America/Denver"
    with live.runtime.uow() as uow:
        outbox = list(uow.session.scalars(select(OutboxRow).where(OutboxRow.appointment_id == appointment["id"])))
        audit = list(uow.session.scalars(select(AuditRow).where(AuditRow.appointment_id == appointment["id"])))
    assert [o.operation for o in outbox] == ["upsert"]
    assert ("create", "caldav") in {(a.action, a.channel) for a in audit}
    # the client reads back what it wrote
    event = fitter_calendar.event_by_uid("dav-1@test")
    assert "X-CLIENT-COLOR:teal" in event.data and "BEGIN:VALARM" in event.data
    reads = audit_trail(live.runtime, AuditRow.appointment_id == appointment["id"], AuditRow.action == "read")
    assert {(a.channel, a.actor) for a in reads} >= {("caldav", people.fitter.username)}


def test_edit_with_if_match_then_rest_edit_keeps_client_extras(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    fitter_calendar.save_event(event_ics("dav-2@test"))
    url = str(fitter_calendar.event_by_uid("dav-2@test").url)
    dav = dav_session(people.fitter.username, people.fitter.password)
    got = dav.get(url, timeout=10)
    etag = got.headers["ETag"]
    changed = event_ics("dav-2@test", summary="Moved to 10", start="20261201T100000", end="20261201T110000")
    stale = dav.put(url, data=changed, headers={"If-Match": '"nope"', "Content-Type": "text/calendar"}, timeout=10)
    assert stale.status_code == 412
    ok = dav.put(url, data=changed, headers={"If-Match": etag, "Content-Type": "text/calendar"}, timeout=10)
    assert ok.status_code == 204, ok.text
    (appointment,) = _api_list(live, people.fitter.token, people.fitter.calendar_id or "")
    assert appointment["name"] == "Moved to 10" and appointment["date_start"] == "2026-12-01T17:00:00.000Z"
    # a REST edit re-renders the item, keeping the VALARM and the X- property
    before = dav.get(url, timeout=10).headers["ETag"]
    assert dav.get(url, timeout=10).headers["ETag"] == before  # unchanged: same ETag
    patched = live.client(people.fitter.token).patch(
        f"/api/v1/appointments/{appointment['id']}", json={"name": "Renamed"}
    )
    assert patched.status_code == 200, patched.text
    after = dav.get(url, timeout=10)
    assert after.headers["ETag"] != before
    assert "SUMMARY:Renamed" in after.text
    assert "X-CLIENT-COLOR:teal" in after.text and "TRIGGER:-PT15M" in after.text
    assert "TZID=America/Denver" in after.text and "BEGIN:VTIMEZONE" in after.text


def test_delete_over_caldav_deletes_the_appointment(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    fitter_calendar.save_event(event_ics("dav-3@test"))
    (appointment,) = _api_list(live, people.fitter.token, people.fitter.calendar_id or "")
    fitter_calendar.event_by_uid("dav-3@test").delete()
    assert live.client(people.fitter.token).get(f"/api/v1/appointments/{appointment['id']}").status_code == 404
    with live.runtime.uow() as uow:
        ops = [
            o.operation
            for o in uow.session.scalars(select(OutboxRow).where(OutboxRow.appointment_id == appointment["id"]))
        ]
    assert ops == ["upsert", "delete"]


def test_rest_appointment_reads_back_over_caldav(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    created = live.client(people.fitter.token).post(
        "/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or "")
    )
    assert created.status_code == 201, created.text
    found: list[caldav.CalendarObjectResource] = fitter_calendar.search(
        start=BASE - timedelta(days=1), end=BASE + timedelta(days=1), event=True
    )
    assert len(found) == 1
    text = found[0].data
    assert f"UID:{created.json()['id']}" in text
    assert "BEGIN:VTIMEZONE" in text and "TZID:America/Denver" in text
    assert "DTSTART;TZID=America/Denver:20261201T090000" in text
    assert "ATTENDEE" in text and "X-GUEST-ID=cust-1" in text
    assert "X-APPOINTMENT-TYPE:INITIAL" in text


def test_time_range_search(live: LiveServer, fitter_calendar: caldav.Calendar) -> None:
    for day in range(1, 8):
        fitter_calendar.save_event(
            event_ics(f"range-{day}@test", start=f"202612{day:02d}T090000", end=f"202612{day:02d}T100000")
        )
    found: list[caldav.CalendarObjectResource] = fitter_calendar.search(
        start=datetime(2026, 12, 3, tzinfo=BASE.tzinfo), end=datetime(2026, 12, 5, tzinfo=BASE.tzinfo), event=True
    )
    assert sorted(str(e.icalendar_component["UID"]) for e in found) == ["range-3@test", "range-4@test"]


def test_incremental_sync_with_token(live: LiveServer, fitter_calendar: caldav.Calendar, people: People) -> None:
    fitter_calendar.save_event(event_ics("sync-1@test"))
    fitter_calendar.save_event(event_ics("sync-2@test", start="20261202T090000", end="20261202T100000"))
    objects = fitter_calendar.objects_by_sync_token(load_objects=True)
    assert len(list(objects)) == 2
    token = objects.sync_token
    fitter_calendar.event_by_uid("sync-1@test").delete()
    live.client(people.fitter.token).post(
        "/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or "")
    )
    delta = fitter_calendar.objects_by_sync_token(sync_token=token, load_objects=False)
    hrefs = sorted(str(o.url).rsplit("/", 1)[-1] for o in delta)
    assert len(hrefs) == 2  # one deleted, one created through REST
    assert delta.sync_token != token
    again = fitter_calendar.objects_by_sync_token(sync_token=delta.sync_token, load_objects=False)
    assert list(again) == []


def test_rights(live: LiveServer, people: People) -> None:
    path = f"/dav/{people.fitter.username}/appointments/"
    other = dav_session(people.other_fitter.username, people.other_fitter.password)
    assert other.request("PROPFIND", live.base_url + path, headers={"Depth": "0"}, timeout=10).status_code in (403, 404)
    put = other.put(live.base_url + path + "x.ics", data=event_ics("x@test"), timeout=10)
    assert put.status_code == 403
    dispatcher = client_for(live, people.dispatcher.username, people.dispatcher.password)
    calendar = dispatcher.calendar(url=live.base_url + path)
    assert calendar.get_display_name() == people.fitter.username
    denied = dav_session(people.dispatcher.username, people.dispatcher.password).put(
        live.base_url + path + "y.ics", data=event_ics("y@test"), timeout=10
    )
    assert denied.status_code == 403
    anonymous = requests.request("PROPFIND", live.base_url + path, timeout=10)
    assert anonymous.status_code == 401
