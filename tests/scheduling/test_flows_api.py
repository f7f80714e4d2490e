"""The customer journey through the REST API on a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from caldav_bridge.runtime import Runtime
from caldav_bridge.scheduling import booking, calendar_rules
from caldav_bridge.scheduling.rules import ExceptionDraft
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.tables import OutboxRow, StatusHistoryRow
from tests.conftest import People
from tests.scheduling.conftest import World
from tests.support.factories import iso
from tests.support.live import Api, LiveServer

NY, DENVER, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("America/Denver"), ZoneInfo("Europe/Berlin")


def at(day: date, clock: str, zone: ZoneInfo) -> datetime:
    hours, minutes = map(int, clock.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=zone)


@pytest.fixture
def api(live: LiveServer, people: People) -> Api:
    return live.client(people.admin.token)


def initial_body(world: World, start: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "team_id": world.consultants,
        "date_start": iso(start),
        "name": "Consultation w/Jane",
        "guests": [{"id": "cust-1", "first_name": "Jane", "last_name": "Doe", "timezone": "America/Chicago"}],
        "meta": {"salesforce": {"opportunity_gid": "0069E00000HbsUrQAJ", "customer_gid": "0039E00001"}},
        **extra,
    }


def slots(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/v1/availability", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["slots"])


def test_availability_is_in_the_requesters_zone_and_names_members(api: Api, world: World) -> None:
    thursday = world.day(3)
    got = slots(
        api,
        team_id=world.consultants,
        type="INITIAL",
        **{"from": iso(at(thursday, "00:00", NY)), "to": iso(at(thursday, "23:59", NY))},
        timezone="Asia/Tokyo",
    )
    # 09:00-17:00 New York, hourly: 8 slots, shown in Tokyo time (+09:00), first 23:00 Tokyo.
    assert len(got) == 8
    assert got[0]["start"] == at(thursday, "09:00", NY).astimezone(ZoneInfo("Asia/Tokyo")).isoformat()
    assert got[0]["start"].endswith("+09:00")
    assert {s["calendar_id"] for s in got} <= {world.c1, world.c2}


def test_slots_use_the_canonical_date_start_and_date_end_and_keep_the_old_names(api: Api, world: World) -> None:
    thursday = world.day(3)
    got = slots(
        api,
        calendar_id=world.c1,
        type="INITIAL",
        **{"from": iso(at(thursday, "00:00", NY)), "to": iso(at(thursday, "23:59", NY))},
        timezone="Asia/Tokyo",
    )
    assert got
    first = at(thursday, "09:00", NY).astimezone(ZoneInfo("UTC"))
    assert got[0]["date_start"] == first.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert got[0]["date_end"] == (first + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    for slot in got:  # the deprecated names, for one deprecation cycle, say the same
        assert slot["start_utc"] == slot["date_start"] and slot["end_utc"] == slot["date_end"]
        local = datetime.fromisoformat(slot["start"])
        assert local.utcoffset() == timedelta(hours=9)
        assert local == datetime.fromisoformat(slot["date_start"].replace("Z", "+00:00"))


def test_lead_conversion_books_initial_and_tech_setup_two_days_before(api: Api, world: World, runtime: Runtime) -> None:
    thursday = world.day(3)
    created = api.post("/api/v1/bookings/initial", json=initial_body(world, at(thursday, "10:00", NY)))
    assert created.status_code == 201, created.text
    body = created.json()
    initial = body["appointment"]
    assert initial["status"] == "BOOKED" and initial["meta"]["type"] == "INITIAL"
    tech = body["tech_setup"]
    assert tech["status"] == "booked" and tech["requested_date"] == world.day(1).isoformat()
    assert tech["chosen_date"] == world.day(1).isoformat() and tech["fallback"] is False
    tech_start = datetime.fromisoformat(tech["appointment"]["date_start"].replace("Z", "+00:00"))
    assert tech_start == at(world.day(1), "09:00", DENVER)  # the tech-setup team's first slot that Tuesday
    assert tech["appointment"]["meta"]["type"] == "TECH_SETUP"
    assert tech["appointment"]["calendar"]["id"] in {world.t1, world.t2}
    assert tech["appointment"]["guests"][0]["id"] == "cust-1"
    with runtime.uow() as uow:  # both reach Salesforce through the outbox
        for appointment_id in (initial["id"], tech["appointment"]["id"]):
            assert uow.session.query(OutboxRow).filter_by(appointment_id=appointment_id).count() == 1


def test_tech_setup_falls_back_to_the_nearest_earlier_day(api: Api, world: World, runtime: Runtime) -> None:
    wednesday = world.day(2)
    # Monday (two days before Wednesday) is a holiday for the tech-setup team: the Friday before it is chosen.
    calendar_rules.put_exception(
        runtime.uow(), system_actor(), world.tech, ExceptionDraft(date=world.day(0), hours=[], reason="holiday")
    )
    created = api.post("/api/v1/bookings/initial", json=initial_body(world, at(wednesday, "11:00", NY)))
    assert created.status_code == 201, created.text
    tech = created.json()["tech_setup"]
    assert tech["status"] == "booked" and tech["fallback"] is True
    assert tech["requested_date"] == world.day(0).isoformat()
    assert tech["chosen_date"] == world.day(-3).isoformat()  # Friday; the weekend has no hours
    assert "nearest earlier day" in tech["detail"]


def test_proposed_mode_holds_the_tech_setup_until_confirmed(
    api: Api, world: World, runtime: Runtime, live: LiveServer
) -> None:
    live.runtime.settings = runtime.settings.replace(scheduling_tech_setup_mode="proposed")
    created = api.post("/api/v1/bookings/initial", json=initial_body(world, at(world.day(3), "13:00", NY)))
    assert created.status_code == 201, created.text
    tech = created.json()["tech_setup"]
    assert tech["status"] == "proposed" and tech["appointment"]["status"] == "RESERVED"
    confirmed = api.post(f"/api/v1/bookings/{tech['appointment']['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["appointment"]["status"] == "BOOKED"


def test_hold_keeps_the_slot_then_expires(api: Api, world: World, runtime: Runtime) -> None:
    start = at(world.day(4), "09:00", NY)
    window = {"from": iso(start), "to": iso(start + timedelta(hours=1))}
    held = api.post(
        "/api/v1/bookings/initial", json=initial_body(world, start, calendar_id=world.c1, team_id=None, hold=True)
    )
    assert held.status_code == 201, held.text
    body = held.json()
    assert body["appointment"]["status"] == "RESERVED" and body["hold_expires_at"] and body["tech_setup"] is None
    assert slots(api, calendar_id=world.c1, type="INITIAL", **window) == []
    again = api.post("/api/v1/bookings/initial", json=initial_body(world, start, calendar_id=world.c1, team_id=None))
    assert again.status_code == 409 and again.headers["Content-Type"] == "application/problem+json"
    expires = datetime.fromisoformat(body["hold_expires_at"].replace("Z", "+00:00"))
    assert booking.expire_holds(runtime.uow(), now=expires - timedelta(seconds=1)) == 0
    assert booking.expire_holds(runtime.uow(), now=expires + timedelta(seconds=1)) == 1
    appointment = api.get(f"/api/v1/appointments/{body['appointment']['id']}").json()
    assert appointment["status"] == "CANCELLED"
    with runtime.uow() as uow:
        reasons = [h.reason for h in uow.session.query(StatusHistoryRow).filter_by(appointment_id=appointment["id"])]
    assert reasons[-1] == "hold expired"
    assert len(slots(api, calendar_id=world.c1, type="INITIAL", **window)) == 1
    late = api.post(f"/api/v1/bookings/{body['appointment']['id']}/confirm")
    assert late.status_code == 409


def test_confirming_an_initial_hold_schedules_its_tech_setup(api: Api, world: World) -> None:
    start = at(world.day(3), "15:00", NY)
    held = api.post("/api/v1/bookings/initial", json=initial_body(world, start, hold=True)).json()
    confirmed = api.post(f"/api/v1/bookings/{held['appointment']['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["hold_expires_at"] is None
    assert confirmed.json()["tech_setup"]["status"] == "booked"


def test_team_assignment_round_robin_and_least_loaded(
    api: Api, world: World, runtime: Runtime, live: LiveServer
) -> None:
    day = world.day(1)
    first = api.post("/api/v1/bookings/initial", json=initial_body(world, at(day, "09:00", NY)))
    second = api.post("/api/v1/bookings/initial", json=initial_body(world, at(day, "11:00", NY)))
    members = [first.json()["appointment"]["calendar"]["id"], second.json()["appointment"]["calendar"]["id"]]
    assert sorted(members) == sorted([world.c1, world.c2])  # round robin alternates
    # Availability names the member next in turn: c1 was assigned first, so c2... then c1 again.
    offered = slots(
        api,
        team_id=world.consultants,
        type="INITIAL",
        **{"from": iso(at(day, "13:00", NY)), "to": iso(at(day, "14:00", NY))},
    )
    assert offered[0]["calendar_id"] == members[0]
    # Least loaded: give c2 three more appointments that day; c1 is offered everything free.
    live.runtime.settings = runtime.settings.replace(scheduling_assignment="least_loaded")
    for hour in ("14:00", "15:00", "16:00"):
        made = api.post(
            "/api/v1/bookings/initial", json=initial_body(world, at(day, hour, NY), calendar_id=world.c2, team_id=None)
        )
        assert made.status_code == 201, made.text
    offered = slots(
        api,
        team_id=world.consultants,
        type="INITIAL",
        **{"from": iso(at(day, "09:00", NY)), "to": iso(at(day, "17:00", NY))},
    )
    c1_busy = iso(at(day, "09:00" if members[0] == world.c1 else "11:00", NY)).replace("Z", ".000Z")
    assert {s["calendar_id"] for s in offered if s["start_utc"] != c1_busy} == {world.c1}
    assert [s["calendar_id"] for s in offered if s["start_utc"] == c1_busy] == [world.c2]


def test_fitting_and_follow_up_respect_travel_buffers(api: Api, world: World) -> None:
    initial = api.post("/api/v1/bookings/initial", json=initial_body(world, at(world.day(3), "09:00", NY))).json()
    tech_id = initial["tech_setup"]["appointment"]["id"]
    friday = world.day(4)
    fitting = api.post(
        "/api/v1/bookings/fitting",
        json={"calendar_id": world.f1, "appointment_id": tech_id, "date_start": iso(at(friday, "08:00", BERLIN))},
    )
    assert fitting.status_code == 201, fitting.text
    fit = fitting.json()["appointment"]
    assert fit["meta"]["type"] == "FOLLOW_UP" and fit["meta"]["purpose"] == "FITTING"
    assert fit["date_end"] == iso(at(friday, "09:30", BERLIN)).replace("Z", ".000Z")
    assert fit["meta"]["salesforce"]["opportunity_gid"] == "0069E00000HbsUrQAJ"
    # 30 minutes of travel after the fitting: 09:30 is not offered, 10:00 is.
    offered = slots(
        api,
        calendar_id=world.f1,
        type="FOLLOW_UP",
        **{"from": iso(at(friday, "08:00", BERLIN)), "to": iso(at(friday, "12:00", BERLIN))},
        timezone="Europe/Berlin",
    )
    starts = [s["start"] for s in offered]
    assert at(friday, "09:30", BERLIN).isoformat() not in starts
    assert starts[0] == at(friday, "10:00", BERLIN).isoformat()
    refused = api.post(
        "/api/v1/bookings/follow-up",
        json={"calendar_id": world.f1, "appointment_id": fit["id"], "date_start": iso(at(friday, "09:30", BERLIN))},
    )
    assert refused.status_code == 409 and "buffer" in refused.json()["detail"]
    follow = api.post(
        "/api/v1/bookings/follow-up",
        json={"calendar_id": world.f1, "appointment_id": fit["id"], "date_start": iso(at(friday, "10:00", BERLIN))},
    )
    assert follow.status_code == 201, follow.text
    # The lunch break is no slot either.
    lunch = api.post(
        "/api/v1/bookings/follow-up",
        json={"calendar_id": world.f2, "appointment_id": fit["id"], "date_start": iso(at(friday, "12:00", BERLIN))},
    )
    assert lunch.status_code == 409 and "working hours" in lunch.json()["detail"]


def test_busy_time_from_any_channel_blocks_slots(api: Api, world: World) -> None:
    day = world.day(2)
    other = {
        "calendar": {"id": world.c1},
        "date_start": iso(at(day, "09:30", NY)),
        "date_end": iso(at(day, "10:30", NY)),
        "name": "Entered in the plain API",
        "meta": {"type": "FOLLOW_UP"},
    }
    assert api.post("/api/v1/appointments", json=other).status_code == 201
    offered = slots(
        api,
        calendar_id=world.c1,
        type="INITIAL",
        **{"from": iso(at(day, "09:00", NY)), "to": iso(at(day, "12:00", NY))},
        timezone="America/New_York",
    )
    assert [s["start"] for s in offered] == [at(day, "11:00", NY).isoformat()]


def test_reschedule_offers_and_moves_the_tech_setup_and_cancel_cascades(api: Api, world: World) -> None:
    created = api.post("/api/v1/bookings/initial", json=initial_body(world, at(world.day(3), "09:00", NY))).json()
    initial_id, tech = created["appointment"]["id"], created["tech_setup"]["appointment"]
    moved = api.post(
        f"/api/v1/bookings/{initial_id}/reschedule", json={"date_start": iso(at(world.day(4), "09:00", NY))}
    )
    assert moved.status_code == 200, moved.text
    offer = moved.json()["tech_setup_offer"]
    assert offer["appointment_id"] == tech["id"] and offer["moved"] is False
    assert offer["date_start"].startswith(world.day(2).isoformat())
    assert moved.json()["appointment"]["status"] == "RESCHEDULED"
    again = api.post(
        f"/api/v1/bookings/{initial_id}/reschedule",
        json={"date_start": iso(at(world.day(4), "10:00", NY)), "move_tech_setup": True, "reason": "customer asked"},
    )
    assert again.status_code == 200, again.text
    assert again.json()["tech_setup_offer"]["moved"] is True
    tech_now = api.get(f"/api/v1/appointments/{tech['id']}").json()
    assert tech_now["date_start"].startswith(world.day(2).isoformat()) and tech_now["status"] == "RESCHEDULED"
    cancelled = api.post(f"/api/v1/bookings/{initial_id}/cancel", json={"reason": "customer withdrew"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["cancelled"] == [tech["id"]]
    assert api.get(f"/api/v1/appointments/{tech['id']}").json()["status"] == "CANCELLED"
    # Its slot is free again.
    start = datetime.fromisoformat(tech_now["date_start"].replace("Z", "+00:00"))
    offered = slots(
        api,
        calendar_id=tech["calendar"]["id"],
        type="TECH_SETUP",
        **{"from": iso(start), "to": iso(start + timedelta(minutes=30))},
    )
    assert len(offered) == 1


def test_generic_cancel_also_releases_the_slot_and_the_chain(api: Api, world: World) -> None:
    created = api.post("/api/v1/bookings/initial", json=initial_body(world, at(world.day(3), "16:00", NY))).json()
    initial_id, tech_id = created["appointment"]["id"], created["tech_setup"]["appointment"]["id"]
    assert (
        api.post(f"/api/v1/appointments/{initial_id}/cancel", json={"reason": "via the plain API"}).status_code == 200
    )
    assert api.get(f"/api/v1/appointments/{tech_id}").json()["status"] == "CANCELLED"
    again = api.post(
        "/api/v1/bookings/initial",
        json=initial_body(
            world, at(world.day(3), "16:00", NY), calendar_id=created["appointment"]["calendar"]["id"], team_id=None
        ),
    )
    assert again.status_code == 201, again.text


def test_bad_requests_are_problems(api: Api, world: World) -> None:
    day = world.day(3)
    both = api.get(
        "/api/v1/availability",
        params={
            "calendar_id": world.c1,
            "team_id": world.consultants,
            "type": "INITIAL",
            "from": iso(at(day, "09:00", NY)),
            "to": iso(at(day, "10:00", NY)),
        },
    )
    assert both.status_code == 422
    backwards = api.get(
        "/api/v1/availability",
        params={
            "calendar_id": world.c1,
            "type": "INITIAL",
            "from": iso(at(day, "10:00", NY)),
            "to": iso(at(day, "09:00", NY)),
        },
    )
    assert backwards.status_code == 422
    unknown = api.get(
        "/api/v1/availability",
        params={
            "calendar_id": "nope",
            "type": "INITIAL",
            "from": iso(at(day, "09:00", NY)),
            "to": iso(at(day, "10:00", NY)),
        },
    )
    assert unknown.status_code == 422
    # A check of several fields names the one to blame, as a body field (not "(body)").
    start = at(world.day(3), "10:00", NY)
    for body, field in (
        (initial_body(world, start, date_end=iso(start)), "date_end"),
        (initial_body(world, start, calendar_id=world.c1), "calendar_id"),
    ):
        refused = api.post("/api/v1/bookings/initial", json=body)
        assert refused.status_code == 422 and [e["field"] for e in refused.json()["errors"]] == [field], refused.text
    rules = {"weekly_hours": {"mon": [{"start": "10:00", "end": "09:00"}]}}
    refused = api.put(f"/api/v1/calendars/{world.c1}/availability-rules", json=rules)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "weekly_hours.mon.0.end"
    sunday = api.post("/api/v1/bookings/initial", json=initial_body(world, at(world.day(6), "10:00", NY)))
    assert sunday.status_code == 409 and sunday.json()["title"] == "Slot unavailable"
    soon = api.post("/api/v1/bookings/initial", json=initial_body(world, datetime.now(NY) - timedelta(days=1)))
    assert soon.status_code == 409


def test_recurring_caldav_events_are_busy_in_every_occurrence(live: LiveServer, people: People) -> None:
    """A weekly event PUT over CalDAV into the fitter's calendar (America/Denver) blocks each week's slot."""
    api = live.client(people.admin.token)
    today = datetime.now(DENVER).date()
    monday = today + timedelta(days=14 + (7 - today.weekday()) % 7)
    first = at(monday, "10:00", DENVER)
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:weekly@test\r\n"
        "DTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=America/Denver:{first.strftime('%Y%m%dT%H%M%S')}\r\n"
        f"DTEND;TZID=America/Denver:{(first + timedelta(hours=1)).strftime('%Y%m%dT%H%M%S')}\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Weekly team meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    url = f"{live.base_url}/dav/{people.fitter.username}/appointments/weekly.ics"
    put = requests.put(url, data=ics, auth=(people.fitter.username, people.fitter.password), timeout=30)
    assert put.status_code == 201, put.text
    for week in (0, 2, 4):
        day = monday + timedelta(weeks=week)
        offered = slots(
            api,
            calendar_id=people.fitter.calendar_id,
            type="FOLLOW_UP",
            timezone="America/Denver",
            **{"from": iso(at(day, "09:00", DENVER)), "to": iso(at(day, "12:00", DENVER))},
        )
        starts = {s["start"][11:16] for s in offered}
        if week < 4:
            assert not starts & {"09:30", "09:45", "10:00", "10:15", "10:30", "10:45"}, (week, starts)
            assert "09:15" in starts
            assert "11:00" in starts
        else:  # COUNT=4: the fifth week is free
            assert "10:00" in starts
