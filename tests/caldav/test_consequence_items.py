"""A change made over CalDAV whose consequences change other appointments: their CalDAV items follow.

Regression: a CalDAV PUT that cancelled an INITIAL appointment cancelled its TECH_SETUP call in the
store, but the TECH_SETUP's CalDAV item still said CONFIRMED/BOOKED (the item of every change in that
transaction was left to the DAV store, which writes only the item the client sent).
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import caldav

from caldav_bridge.runtime import Runtime
from caldav_bridge.scheduling import calendar_rules
from caldav_bridge.scheduling.rules import AvailabilityRules
from caldav_bridge.services.actor import system_actor
from tests.caldav.conftest import client_for
from tests.conftest import People
from tests.scheduling.conftest import WEEKDAYS, build_world
from tests.support.factories import iso
from tests.support.live import LiveServer

NY = ZoneInfo("America/New_York")


def _at(day: date, clock: str) -> datetime:
    hours, minutes = map(int, clock.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=NY)


def test_caldav_cancel_of_an_initial_rerenders_its_tech_setup_item(
    live: LiveServer, runtime: Runtime, people: People
) -> None:
    world = build_world(runtime)
    consultant = people.consultant
    assert consultant.calendar_id
    rules = {"weekly_hours": {d: [{"start": "09:00", "end": "17:00"}] for d in WEEKDAYS}, "durations": {"INITIAL": 60}}
    calendar_rules.set_rules(
        runtime.uow(), system_actor(), consultant.calendar_id, AvailabilityRules.model_validate(rules)
    )
    api = live.client(people.admin.token)
    booked = api.post(
        "/api/v1/bookings/initial",
        json={
            "calendar_id": consultant.calendar_id,
            "date_start": iso(_at(world.day(3), "10:00")),
            "name": "Consultation",
            "guests": [{"id": "cust-1", "first_name": "Jane", "last_name": "Doe"}],
        },
    )
    assert booked.status_code == 201, booked.text
    initial_id = booked.json()["appointment"]["id"]
    tech = booked.json()["tech_setup"]["appointment"]
    tech_url = f"{live.base_url}/dav/_calendars/{tech['calendar']['id']}/{tech['id']}.ics"
    reader = client_for(live, people.admin.username, people.admin.password)
    before = caldav.Event(client=reader, url=tech_url)
    before.load()
    assert "STATUS:CONFIRMED" in before.data and "X-APPOINTMENT-STATUS:BOOKED" in before.data

    dav = client_for(live, consultant.username, consultant.password)
    calendar = dav.principal().calendars()[0]
    event = calendar.event_by_url(f"{calendar.url}{initial_id}.ics")
    event.data = event.data.replace("STATUS:CONFIRMED", "STATUS:CANCELLED")
    event.save()

    assert api.get(f"/api/v1/appointments/{initial_id}").json()["status"] == "CANCELLED"
    assert api.get(f"/api/v1/appointments/{tech['id']}").json()["status"] == "CANCELLED"
    after = caldav.Event(client=reader, url=tech_url)
    after.load()
    assert "STATUS:CANCELLED" in after.data and "X-APPOINTMENT-STATUS:CANCELLED" in after.data
    assert after.data != before.data
