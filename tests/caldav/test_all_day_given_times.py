"""An all-day appointment (a phone's ``DTSTART;VALUE=DATE``) given times over REST becomes timed on every channel,
as one occurrence of an all-day series does (``timed``): REST's ``meta.all_day`` false, the CalDAV item's DTSTART
a DATE-TIME in the calendar's zone, the feed's too, the page's timed row; and the phone's next save keeps it.
A request that says ``meta.all_day: true`` with times that are not midnights of the calendar's zone is a 422
naming ``meta.all_day``. SQLite and PostgreSQL.

Failed before: the PATCH answered 200 with ``meta.all_day`` still true, so REST said 09:00-10:00 while CalDAV, the
feed and the page said the whole (next) day, and the phone's next save undid the REST edit; a create with
``all_day: true`` at 06:30Z-07:30Z on a Denver calendar was stored and exported as a two-day event.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import caldav
import icalendar
import pytest

from tests.caldav.support import DENVER, tuesday_ahead
from tests.conftest import People
from tests.support.factories import iso
from tests.support.live import Api, LiveServer

UID = "fair-day@phone"


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), DENVER)


def _all_day_ics(day: date) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//all-day//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{UID}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;VALUE=DATE:{day:%Y%m%d}\r\nDTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}\r\n"
        "SUMMARY:Trade fair\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _written(calendar: caldav.Calendar, api: Api, people: People, day: date) -> dict[str, Any]:
    calendar.save_event(_all_day_ics(day))
    listed = api.get("/api/v1/appointments", params={"calendar_id": people.fitter.calendar_id}).json()["items"]
    (item,) = [i for i in listed if i["meta"].get("ical_uid") == UID]
    assert item["meta"]["all_day"] is True
    return dict(item)


def _master(calendar: caldav.Calendar) -> Any:
    (event,) = icalendar.Calendar.from_ical(calendar.event_by_uid(UID).data).walk("VEVENT")
    return event


def _errors(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    return [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize("how", ["patch", "reschedule"])
def test_times_given_to_an_all_day_appointment_make_it_timed_everywhere(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People, how: str
) -> None:
    day = tuesday_ahead()
    api = live.client(people.fitter.token)
    item = _written(fitter_calendar, api, people, day)
    times = {"date_start": iso(_at(day + timedelta(days=1), 9)), "date_end": iso(_at(day + timedelta(days=1), 10))}
    if how == "patch":
        changed = api.patch(f"/api/v1/appointments/{item['id']}", json=times)
    else:
        changed = api.post(f"/api/v1/appointments/{item['id']}/reschedule", json=times)
    assert changed.status_code == 200, changed.text
    assert changed.json()["meta"]["all_day"] is False

    master = _master(fitter_calendar)  # the CalDAV item: times in the calendar's zone, no longer dates
    assert master.decoded("DTSTART") == _at(day + timedelta(days=1), 9)
    assert master.decoded("DTEND") == _at(day + timedelta(days=1), 10)
    assert str(master["DTSTART"].params.get("TZID")) == "America/Denver"

    issued = api.post(
        f"/api/v1/calendars/{people.fitter.calendar_id}/feeds", json={"name": "day", "privacy": "full"}
    ).json()
    feed = icalendar.Calendar.from_ical(live.client().get(f"/feeds/{issued['secret']}.ics").content)
    (event,) = feed.walk("VEVENT")
    assert event.decoded("DTSTART") == _at(day + timedelta(days=1), 9)

    monday = day - timedelta(days=day.weekday())
    page = live.client().get(f"/calendar/{issued['secret']}.json", params={"week": monday.isoformat()}).json()
    timed = [e["id"] for d in page["days"] for e in d["timed"]]
    all_day = [e["id"] for d in page["days"] for e in d["all_day"]]
    assert (timed, all_day) == ([item["id"]], [])

    # the phone saves what it read back: the REST change stands
    fitter_calendar.save_event(fitter_calendar.event_by_uid(UID).data)
    again = api.get(f"/api/v1/appointments/{item['id']}").json()
    assert again["meta"]["all_day"] is False
    assert (again["date_start"][:19], again["date_end"][:19]) == (times["date_start"][:19], times["date_end"][:19])


def test_other_midnights_keep_it_all_day(live: LiveServer, fitter_calendar: caldav.Calendar, people: People) -> None:
    day = tuesday_ahead()
    api = live.client(people.fitter.token)
    item = _written(fitter_calendar, api, people, day)
    later = day + timedelta(days=2)
    changed = api.patch(
        f"/api/v1/appointments/{item['id']}",
        json={"date_start": iso(_at(later, 0)), "date_end": iso(_at(later + timedelta(days=1), 0))},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["meta"]["all_day"] is True
    assert _master(fitter_calendar).decoded("DTSTART") == later


def test_all_day_said_with_times_that_are_no_midnights_is_a_422(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    day = tuesday_ahead()
    api = live.client(people.fitter.token)
    body = {
        "calendar": {"id": people.fitter.calendar_id},
        "date_start": iso(_at(day, 6, 30).replace(tzinfo=UTC)),  # 06:30Z-07:30Z: the night in Denver
        "date_end": iso(_at(day, 7, 30).replace(tzinfo=UTC)),
        "name": "Trade fair",
        "meta": {"type": "FOLLOW_UP", "all_day": True},
    }
    assert _errors(api.post("/api/v1/appointments", json=body)) == ["meta.all_day"]
    midnights = {**body, "date_start": iso(_at(day, 0)), "date_end": iso(_at(day + timedelta(days=1), 0))}
    created = api.post("/api/v1/appointments", json=midnights)
    assert created.status_code == 201, created.text
    assert created.json()["meta"]["all_day"] is True

    item = _written(fitter_calendar, api, people, day + timedelta(days=7))
    path = f"/api/v1/appointments/{item['id']}"
    nine = {"date_start": iso(_at(day, 9)), "date_end": iso(_at(day, 10))}
    assert _errors(api.patch(path, json={**nine, "meta": {"all_day": True}})) == ["meta.all_day"]
    timed = api.patch(path, json=nine)
    assert timed.status_code == 200, timed.text
    assert _errors(api.patch(path, json={"meta": {"all_day": True}})) == ["meta.all_day"]  # its times: 09:00
    unchanged = api.get(path).json()
    assert (unchanged["meta"]["all_day"], unchanged["date_start"][:19]) == (False, nine["date_start"][:19])
