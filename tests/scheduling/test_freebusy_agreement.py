"""The CalDAV free-busy report and the availability API agree: on a day with appointments from the
REST API (one cancelled) and a recurring event written over CalDAV, a slot is offered exactly when no
FREEBUSY period of the CalDAV report overlaps it (the calendar's rules here have no buffers)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import requests

from tests.conftest import People
from tests.support.factories import iso
from tests.support.live import LiveServer

DENVER = ZoneInfo("America/Denver")
FREEBUSY_QUERY = (
    '<?xml version="1.0" encoding="utf-8" ?><C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">'
    '<C:time-range start="{start}" end="{end}"/></C:free-busy-query>'
)


def _utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def test_caldav_free_busy_agrees_with_availability(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    auth = (people.fitter.username, people.fitter.password)
    calendar_id = people.fitter.calendar_id
    today = datetime.now(DENVER).date()
    day = today + timedelta(days=14 + (1 - today.weekday()) % 7)  # a Tuesday two weeks or more ahead
    local = lambda h, m=0: datetime.combine(day, time(h, m), tzinfo=DENVER)  # noqa: E731
    for start, minutes, status in ((local(9), 60, "BOOKED"), (local(13, 30), 45, "INITIAL"), (local(15), 60, "BOOKED")):
        body = {
            "calendar": {"id": calendar_id},
            "date_start": iso(start),
            "date_end": iso(start + timedelta(minutes=minutes)),
            "name": "Visit",
            "meta": {"type": "FOLLOW_UP"},
            "status": status,
        }
        created = api.post("/api/v1/appointments", json=body)
        assert created.status_code == 201, created.text
    cancelled = created.json()["id"]
    assert api.post(f"/api/v1/appointments/{cancelled}/cancel", json={"reason": "no"}).status_code == 200
    first = local(11) - timedelta(weeks=1)  # weekly since last week: this week's 11:00 is its second occurrence
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:standup@test\r\n"
        "DTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=America/Denver:{first.strftime('%Y%m%dT%H%M%S')}\r\n"
        f"DTEND;TZID=America/Denver:{(first + timedelta(minutes=30)).strftime('%Y%m%dT%H%M%S')}\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Stand-up\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    put = requests.put(f"{live.base_url}/dav/{auth[0]}/appointments/standup.ics", data=ics, auth=auth, timeout=30)
    assert put.status_code == 201, put.text

    day_start, day_end = local(0).astimezone(UTC), (local(0) + timedelta(days=1)).astimezone(UTC)
    report = requests.request(
        "REPORT",
        f"{live.base_url}/dav/{auth[0]}/appointments/",
        data=FREEBUSY_QUERY.format(start=day_start.strftime("%Y%m%dT%H%M%SZ"), end=day_end.strftime("%Y%m%dT%H%M%SZ")),
        auth=auth,
        headers={"Depth": "1", "Content-Type": "application/xml"},
        timeout=30,
    )
    assert report.status_code == 200, report.text
    busy = []
    for line in report.text.replace("\r\n ", "").splitlines():
        if line.startswith("FREEBUSY") and "FBTYPE=FREE:" not in line:  # a cancelled event is FBTYPE=FREE
            for period in line.split(":", 1)[1].split(","):
                a, b = period.split("/")
                busy.append((_utc(a), _utc(b)))
    local_busy = sorted(
        (a.astimezone(DENVER).strftime("%H:%M"), b.astimezone(DENVER).strftime("%H:%M")) for a, b in busy
    )
    assert local_busy == [("09:00", "10:00"), ("11:00", "11:30"), ("13:30", "14:15")]

    offered = api.get(
        "/api/v1/availability",
        params={"calendar_id": calendar_id, "type": "FOLLOW_UP", "from": iso(day_start), "to": iso(day_end)},
    )
    assert offered.status_code == 200, offered.text
    slots = {datetime.fromisoformat(s["start_utc"].replace("Z", "+00:00")) for s in offered.json()["slots"]}
    duration = timedelta(minutes=offered.json()["duration_minutes"])
    candidate = local(9)
    while candidate + duration <= local(17):  # the default rules: 09:00-17:00 on a 15-minute grid
        free = not any(candidate < b and a < candidate + duration for a, b in busy)
        assert (candidate in slots) == free, candidate.strftime("%H:%M")
        candidate += timedelta(minutes=15)
