"""A fitter's own time put into the appointment calendar from a phone ("Lunch", "Dentist": no customer, no
appointment type) is a busy block, not a customer appointment, on every channel.

Over real HTTP with python-caldav, the REST API, the feeds, the calendar page's JSON, the availability API,
webhooks and the Salesforce emulator; SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import caldav
from sqlalchemy import select

from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.webhooks.tables import WebhookDeliveryRow, WebhookSubscriptionRow
from sf_emulator.emulator import SalesforceEmulator, running_emulator
from tests.caldav.support import DENVER, follow_up_slots, tuesday_ahead
from tests.conftest import People
from tests.salesforce.conftest import make_context
from tests.support.factories import appointment_body
from tests.support.live import LiveServer


def _ics(uid: str, start: datetime, end: datetime, *, summary: str, extra: str = "") -> str:
    local = "%Y%m%dT%H%M%S"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//phone//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:{summary}\r\n"
        f"DTSTART;TZID=America/Denver:{start.astimezone(DENVER):{local}}\r\n"
        f"DTEND;TZID=America/Denver:{end.astimezone(DENVER):{local}}\r\n"
        f"LOCATION:Dr. Smith, 12 Main St\r\nDESCRIPTION:Root canal\r\n{extra}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _listed(live: LiveServer, people: People, kind: str | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"calendar_id": people.fitter.calendar_id, "limit": 100}
    if kind is not None:
        params["kind"] = kind
    response = live.client(people.fitter.token).get("/api/v1/appointments", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _slots(live: LiveServer, people: People, day: date) -> list[tuple[datetime, datetime]]:
    return follow_up_slots(live.client(people.fitter.token), people.fitter.calendar_id or "", day)


def _overlapping(slots: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> int:
    return sum(1 for a, b in slots if a < end and b > start)


def _feed_secret(live: LiveServer, people: People, privacy: str) -> str:
    issued = live.client(people.fitter.token).post(
        f"/api/v1/calendars/{people.fitter.calendar_id}/feeds", json={"name": f"Phone {privacy}", "privacy": privacy}
    )
    assert issued.status_code == 201, issued.text
    return str(issued.json()["secret"])


def _feed(live: LiveServer, secret: str) -> str:
    response = live.client().get(f"/feeds/{secret}.ics")
    assert response.status_code == 200, response.text
    return response.text.replace("\r\n ", "")


def _page_events(live: LiveServer, secret: str, day: date) -> list[dict[str, Any]]:
    monday = day - timedelta(days=day.weekday())
    response = live.client().get(f"/calendar/{secret}.json", params={"week": monday.isoformat(), "tz": "UTC"})
    assert response.status_code == 200, response.text
    page = response.json()
    return [e for d in page["days"] for e in (*d["timed"], *d["all_day"])]


def _subscribe(rt: Runtime) -> None:
    with rt.uow() as uow:
        uow.session.add(
            WebhookSubscriptionRow(
                url="https://hooks.example.com/in",
                events={"types": ["appointment.created", "appointment.updated", "appointment.cancelled"]},
                secret="s" * 32,
                created_at=datetime.now(UTC),
            )
        )
        uow.commit()


def _webhook_events(rt: Runtime, appointment_id: str) -> list[str]:
    with rt.uow() as uow:
        stmt = select(WebhookDeliveryRow.event_type).where(WebhookDeliveryRow.appointment_id == appointment_id)
        return sorted(uow.session.scalars(stmt))


def test_lunch_from_a_phone_is_a_busy_block_on_every_channel(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    _subscribe(live.runtime)
    day = tuesday_ahead()
    lunch_start = datetime.combine(day, time(12), tzinfo=DENVER)
    lunch_end = lunch_start + timedelta(hours=1)
    before = _slots(live, people, day)
    assert _overlapping(before, lunch_start, lunch_end) > 0

    fitter_calendar.save_event(_ics("lunch@phone", lunch_start, lunch_end, summary="Lunch with Bob"))

    # REST: not among the customer appointments; listed when asked for
    assert _listed(live, people) == []
    (block,) = _listed(live, people, "busy")
    assert block["meta"]["kind"] == "busy" and block["name"] == "Lunch with Bob" and block["guests"] == []
    assert [a["id"] for a in _listed(live, people, "all")] == [block["id"]]
    # availability: the hour is taken, the rest of the day is not
    after = _slots(live, people, day)
    assert _overlapping(after, lunch_start, lunch_end) == 0
    assert len(after) > 0
    # feeds and the page: "Busy" without its title, place or notes at busy and minimal; all of it at full
    for privacy in ("busy", "minimal"):
        secret = _feed_secret(live, people, privacy)
        feed = _feed(live, secret)
        assert "SUMMARY:Busy" in feed, privacy
        for detail in ("Lunch", "Bob", "Smith", "Root canal", "X-APPOINTMENT-TYPE"):
            assert detail not in feed, (privacy, detail)
        (shown,) = [e for e in _page_events(live, secret, day) if e["id"] == block["id"]]
        assert shown["title"] == "Busy", privacy
        assert "Lunch" not in str(shown) and "Smith" not in str(shown) and "Root canal" not in str(shown)
    full = _feed(live, _feed_secret(live, people, "full"))
    assert "SUMMARY:Lunch with Bob" in full and "DESCRIPTION:Root canal" in full
    # webhooks: no appointment events for the fitter's own time
    assert _webhook_events(live.runtime, block["id"]) == []

    # made transparent on the phone ("free to book"), it is free time: no busy block, the hour bookable again
    event = fitter_calendar.event_by_uid("lunch@phone")
    event.data = _ics("lunch@phone", lunch_start, lunch_end, summary="Lunch with Bob", extra="TRANSP:TRANSPARENT\r\n")
    event.save()
    assert _listed(live, people, "all") == []
    assert _overlapping(_slots(live, people, day), lunch_start, lunch_end) > 0
    assert "TRANSP:TRANSPARENT" in fitter_calendar.event_by_uid("lunch@phone").data


def test_a_busy_block_naming_a_type_becomes_a_customer_appointment(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    _subscribe(live.runtime)
    start = datetime.combine(tuesday_ahead(), time(9), tzinfo=DENVER)
    fitter_calendar.save_event(_ics("visit@phone", start, start + timedelta(hours=1), summary="Visit"))
    (block,) = _listed(live, people, "busy")
    event = fitter_calendar.event_by_uid("visit@phone")
    typed = _ics(
        "visit@phone", start, start + timedelta(hours=1), summary="Visit", extra="X-APPOINTMENT-TYPE:INITIAL\r\n"
    )
    event.data = typed
    event.save()
    (appointment,) = _listed(live, people)
    assert appointment["id"] == block["id"] and "kind" not in appointment["meta"]
    assert appointment["meta"]["type"] == "INITIAL"
    assert _listed(live, people, "busy") == []
    assert _webhook_events(live.runtime, block["id"]) == ["appointment.updated"]
    # dropping the type again (clients drop X- properties) does not turn an appointment into a busy block
    event = fitter_calendar.event_by_uid("visit@phone")
    event.data = _ics("visit@phone", start, start + timedelta(hours=1), summary="Visit")
    event.save()
    assert [a["id"] for a in _listed(live, people)] == [block["id"]]


def test_a_busy_block_changed_over_rest_stays_one_on_the_phone(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    start = datetime.combine(tuesday_ahead(), time(13), tzinfo=DENVER)
    fitter_calendar.save_event(_ics("gym@phone", start, start + timedelta(hours=1), summary="Gym"))
    (block,) = _listed(live, people, "busy")
    patched = live.client(people.fitter.token).patch(f"/api/v1/appointments/{block['id']}", json={"name": "Gym class"})
    assert patched.status_code == 200, patched.text
    event = fitter_calendar.event_by_uid("gym@phone")
    assert "SUMMARY:Gym class" in event.data and "X-APPOINTMENT-TYPE" not in event.data  # no type written into it
    event.data = event.data.replace("SUMMARY:Gym class", "SUMMARY:Gym")  # the phone edits it back
    event.save()
    (again,) = _listed(live, people, "busy")
    assert (again["id"], again["name"]) == (block["id"], "Gym")
    assert _listed(live, people) == []
    # made over REST, its CalDAV item carries no type either
    body = appointment_body(people.fitter.calendar_id or "", start=start + timedelta(hours=3), name="Errand")
    created = live.client(people.fitter.token).post(
        "/api/v1/appointments", json={**body, "guests": [], "meta": {"type": "FOLLOW_UP", "kind": "busy"}}
    )
    assert created.status_code == 201, created.text
    item = fitter_calendar.event_by_url(f"{fitter_calendar.url}{created.json()['id']}.ics")
    item.load()
    assert "SUMMARY:Errand" in item.data and "X-APPOINTMENT-TYPE" not in item.data


def test_rest_creates_and_refuses_busy_blocks(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    start = datetime.combine(tuesday_ahead(), time(15), tzinfo=DENVER)
    body = appointment_body(people.fitter.calendar_id or "", start=start, name="Dentist")
    with_guests = {**body, "meta": {"type": "FOLLOW_UP", "kind": "busy"}}
    refused = api.post("/api/v1/appointments", json=with_guests)
    assert refused.status_code == 422, refused.text
    assert "guests" in refused.text
    unknown = api.post("/api/v1/appointments", json={**body, "meta": {"type": "FOLLOW_UP", "kind": "holiday"}})
    assert unknown.status_code == 422 and "kind" in unknown.text, unknown.text
    created = api.post("/api/v1/appointments", json={**with_guests, "guests": []})
    assert created.status_code == 201, created.text
    assert [a["id"] for a in _listed(live, people, "busy")] == [created.json()["id"]]
    assert _listed(live, people) == []
    patched = api.patch(
        f"/api/v1/appointments/{created.json()['id']}", json={"guests": [{"id": "cust-9", "first_name": "Ann"}]}
    )
    assert patched.status_code == 422, patched.text
    bad = api.get("/api/v1/appointments", params={"kind": "holiday"})
    assert bad.status_code == 400 or bad.status_code == 422, bad.text


def test_salesforce_gets_no_appointment_and_at_most_a_detail_less_busy_event(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    start = datetime.combine(tuesday_ahead(), time(12), tzinfo=DENVER)
    fitter_calendar.save_event(_ics("dentist@phone", start, start + timedelta(hours=2), summary="Dentist"))
    (block,) = _listed(live, people, "busy")
    with running_emulator(SalesforceEmulator(page_size=7)) as emu:
        sync = make_context(live.runtime, emu)
        pushed = run_job(sync, "push")
        assert pushed is not None and pushed.created == 0, pushed
        assert emu.live("Event") == []

        # the setting: a busy Event without details, so that dispatchers see the fitter is away
        sync.mapping = replace(sync.mapping, push_busy_blocks=True)
        live.client(people.fitter.token).patch(f"/api/v1/appointments/{block['id']}", json={"description": "Molar"})
        pushed = run_job(sync, "push")
        assert pushed is not None and pushed.created == 1, pushed
        (record,) = emu.live("Event")
        assert record["Subject"] == "Busy" and record["ShowAs"] == "Busy"
        assert record["StartDateTime"].startswith(start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"))
        assert not record.get("WhoId") and not record.get("WhatId")
        for detail in ("Dentist", "Molar", "Smith", "Root canal"):
            assert detail not in str(record), detail
        # the echo (and a dispatcher's edit) never rewrites the fitter's own time
        emu.update("Event", record["Id"], {"Subject": "Out"})
        mirrored = run_job(sync, "mirror")
        assert mirrored is not None and mirrored.updated == 0, mirrored
        (again,) = _listed(live, people, "busy")
        assert (again["name"], again["description"]) == ("Dentist", "Molar")

        # deleted on the phone: the busy Event goes too
        fitter_calendar.event_by_uid("dentist@phone").delete()
        pushed = run_job(sync, "push")
        assert pushed is not None and pushed.deleted == 1, pushed
        assert emu.live("Event") == []
