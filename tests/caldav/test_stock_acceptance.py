"""A fitter's appointment calendar accepts what stock Radicale accepts, with the meaning RFC 5545 gives it.

Over real HTTP with python-caldav (and raw PUTs where a precondition is read), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import caldav
import pytest
import requests

from tests.caldav.support import DENVER, follow_up_slots, tuesday_ahead
from tests.conftest import People
from tests.support.live import LiveServer


def _ics(uid: str, lines: str, *, summary: str = "Event") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//stock//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:{summary}\r\n{lines}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _appointments(live: LiveServer, people: People, kind: str = "appointment") -> list[dict[str, Any]]:
    response = live.client(people.fitter.token).get(
        "/api/v1/appointments", params={"calendar_id": people.fitter.calendar_id, "limit": 100, "kind": kind}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return list(body["items"] if "items" in body else body["data"])


def _slots(live: LiveServer, people: People, day: date) -> int:
    return len(follow_up_slots(live.client(people.fitter.token), people.fitter.calendar_id or "", day))


def _local(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


@pytest.mark.parametrize(
    "when",
    [
        "DTSTART;TZID=America/Denver:20261201T090000\r\n",  # no DTEND, no DURATION: ends at its start
        "DTSTART;TZID=America/Denver:20261201T090000\r\nDTEND;TZID=America/Denver:20261201T090000\r\n",
        "DTSTART:20261201T160000Z\r\nDURATION:PT0S\r\n",
    ],
    ids=["no-end", "end-equals-start", "zero-duration"],
)
def test_an_event_taking_no_time_is_stored_and_blocks_nothing(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People, when: str
) -> None:
    fitter_calendar.save_event(_ics("instant@test", when, summary="Call back"))
    event = fitter_calendar.event_by_uid("instant@test")
    assert "SUMMARY:Call back" in event.data
    found: list[caldav.CalendarObjectResource] = fitter_calendar.search(
        start=datetime(2026, 12, 1, 15, tzinfo=UTC), end=datetime(2026, 12, 1, 17, tzinfo=UTC), event=True
    )
    assert [str(e.icalendar_component["UID"]) for e in found] == ["instant@test"]
    assert _appointments(live, people) == []  # a calendar-only event: no appointment takes no time


def test_a_date_without_end_is_a_one_day_busy_block(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    # no customer, no type: the fitter's own day away (a busy block), listed when asked for
    fitter_calendar.save_event(_ics("day@test", "DTSTART;VALUE=DATE:20261221\r\n", summary="Trade fair"))
    assert _appointments(live, people) == []
    (appointment,) = _appointments(live, people, kind="busy")
    assert appointment["meta"]["kind"] == "busy"
    start = datetime.fromisoformat(appointment["date_start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(appointment["date_end"].replace("Z", "+00:00"))
    assert start.astimezone(DENVER) == datetime(2026, 12, 21, tzinfo=DENVER)
    assert end - start == timedelta(days=1)


def test_a_year_long_event_is_accepted_and_blocks_availability(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    day = tuesday_ahead()
    assert _slots(live, people, day) > 0
    first = datetime.combine(day - timedelta(days=100), time(8), tzinfo=DENVER)
    last = first.replace(year=first.year + 1)
    when = f"DTSTART;TZID=America/Denver:{_local(first)}\r\nDTEND;TZID=America/Denver:{_local(last)}\r\n"
    fitter_calendar.save_event(_ics("year@test", when, summary="Sabbatical"))
    assert "SUMMARY:Sabbatical" in fitter_calendar.event_by_uid("year@test").data
    assert _slots(live, people, day) == 0
    assert _appointments(live, people) == []  # longer than an appointment may last: calendar-only


def test_a_vacation_blocks_unless_transparent(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    day = tuesday_ahead()
    before = _slots(live, people, day)
    start, end = day - timedelta(days=7), day + timedelta(days=14)  # three weeks
    dates = f"DTSTART;VALUE=DATE:{start:%Y%m%d}\r\nDTEND;VALUE=DATE:{end:%Y%m%d}\r\n"
    fitter_calendar.save_event(_ics("free@test", dates + "TRANSP:TRANSPARENT\r\n", summary="Partner away"))
    assert _slots(live, people, day) == before
    fitter_calendar.save_event(_ics("vacation@test", dates, summary="Vacation"))
    assert _slots(live, people, day) == 0
    fitter_calendar.event_by_uid("vacation@test").delete()
    assert _slots(live, people, day) == before


def test_an_unknown_appointment_type_is_kept_as_written(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    when = "DTSTART:20261201T160000Z\r\nDTEND:20261201T170000Z\r\nX-APPOINTMENT-TYPE:Wax-Removal\r\n"
    fitter_calendar.save_event(_ics("typed@test", when, summary="Ear care"))
    (appointment,) = _appointments(live, people)
    assert appointment["meta"]["type"] == "FOLLOW_UP"
    assert appointment["meta"]["type_as_written"] == "Wax-Removal"
    assert "X-APPOINTMENT-TYPE:Wax-Removal" in fitter_calendar.event_by_uid("typed@test").data


def test_a_resource_holding_only_an_overridden_occurrence_is_that_occurrence(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    lines = (
        "RECURRENCE-ID;TZID=America/Denver:20261201T090000\r\n"
        "DTSTART;TZID=America/Denver:20261201T110000\r\nDTEND;TZID=America/Denver:20261201T120000\r\n"
        "X-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
    )
    # python-caldav's save_event would look for the series to merge the occurrence into: PUT it as is.
    assert fitter_calendar.url is not None and fitter_calendar.client is not None
    url = str(fitter_calendar.url.join("series.ics"))
    body = _ics("series@test", lines, summary="Moved check-up")
    put = fitter_calendar.client.put(url, body, {"Content-Type": "text/calendar"})
    assert put.status == 201, put.raw
    (appointment,) = _appointments(live, people)
    assert (appointment["name"], appointment["date_start"], appointment["date_end"]) == (
        "Moved check-up",
        "2026-12-01T18:00:00.000Z",
        "2026-12-01T19:00:00.000Z",
    )
    assert "RECURRENCE-ID" in fitter_calendar.event_by_uid("series@test").data


def test_an_appointment_cannot_become_an_event_taking_no_time(live: LiveServer, people: People) -> None:
    auth = (people.fitter.username, people.fitter.password)
    url = f"{live.base_url}/dav/{auth[0]}/appointments/visit.ics"
    timed = "DTSTART:20261201T160000Z\r\nDTEND:20261201T170000Z\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
    created = requests.put(url, data=_ics("visit@test", timed, summary="Visit"), auth=auth, timeout=30)
    assert created.status_code == 201, created.text
    refused = requests.put(
        url, data=_ics("visit@test", "DTSTART:20261201T160000Z\r\n", summary="Visit"), auth=auth, timeout=30
    )
    assert refused.status_code == 403, refused.text
    assert "valid-calendar-data" in refused.text
    (appointment,) = _appointments(live, people)
    assert (appointment["date_start"], appointment["date_end"]) == (
        "2026-12-01T16:00:00.000Z",
        "2026-12-01T17:00:00.000Z",
    )
    assert "DTEND:20261201T170000Z" in requests.get(url, auth=auth, timeout=30).text


def test_a_transparent_event_of_the_fitter_leaves_the_day_bookable(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    day = tuesday_ahead()
    before = _slots(live, people, day)
    assert before > 0
    start = datetime.combine(day, time(9), tzinfo=DENVER)
    when = (
        f"DTSTART;TZID=America/Denver:{_local(start)}\r\nDTEND;TZID=America/Denver:{_local(start.replace(hour=17))}\r\n"
    )
    fitter_calendar.save_event(_ics("reachable@test", when + "TRANSP:TRANSPARENT\r\n", summary="Reachable by phone"))
    assert "TRANSP:TRANSPARENT" in fitter_calendar.event_by_uid("reachable@test").data
    assert _slots(live, people, day) == before
    assert _appointments(live, people, kind="all") == []
    # the same event opaque occupies the day: a busy block of the fitter
    fitter_calendar.save_event(_ics("office@test", when, summary="Office day"))
    assert _slots(live, people, day) == 0
    assert [a["meta"].get("kind") for a in _appointments(live, people, kind="all")] == ["busy"]


def _sequence(live: LiveServer, appointment_id: str) -> int:
    with live.runtime.uow() as uow:
        row = uow.appointments.get(appointment_id)
        assert row is not None
        return int(row.sequence)


def test_a_status_only_change_raises_sequence(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    # RFC 5545 §3.8.7.4: a new STATUS is a new revision, on every channel.
    timed = "DTSTART:20261201T160000Z\r\nDTEND:20261201T170000Z\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
    fitter_calendar.save_event(_ics("status@test", timed + "STATUS:TENTATIVE\r\n", summary="Visit"))
    (appointment,) = _appointments(live, people)
    assert appointment["status"] == "RESERVED" and _sequence(live, appointment["id"]) == 0
    event = fitter_calendar.event_by_uid("status@test")
    event.data = _ics("status@test", timed + "STATUS:CONFIRMED\r\n", summary="Visit")
    event.save()
    (appointment,) = _appointments(live, people)
    assert appointment["status"] == "BOOKED" and _sequence(live, appointment["id"]) == 1
    patched = live.client(people.fitter.token).patch(
        f"/api/v1/appointments/{appointment['id']}", json={"status": "RESCHEDULED"}
    )
    assert patched.status_code == 200, patched.text
    assert _sequence(live, appointment["id"]) == 2
    assert "SEQUENCE:2" in fitter_calendar.event_by_uid("status@test").data


def test_a_cancelled_appointment_has_one_sequence_on_every_channel(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    """A client's item is re-rendered by merging into its text; a feed renders afresh. Both wrote the stored
    SEQUENCE plus one once cancelled (the cancellation's revision): the merge wrote the stored one alone."""
    timed = "DTSTART:20261201T160000Z\r\nDTEND:20261201T170000Z\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
    fitter_calendar.save_event(_ics("cancel@test", timed + "STATUS:CONFIRMED\r\n", summary="Visit"))
    (appointment,) = _appointments(live, people)
    api = live.client(people.fitter.token)
    cancelled = api.post(f"/api/v1/appointments/{appointment['id']}/cancel", json={"reason": "customer called"})
    assert cancelled.status_code == 200, cancelled.text
    issued = api.post(f"/api/v1/calendars/{people.fitter.calendar_id}/feeds", json={"name": "G", "privacy": "full"})
    assert issued.status_code == 201, issued.text
    feed = live.client().get(f"/feeds/{issued.json()['secret']}.ics").text
    stored = _sequence(live, appointment["id"])

    def written(text: str) -> list[str]:
        return sorted(line for line in text.splitlines() if line.startswith(("SEQUENCE:", "STATUS:")))

    assert written(feed) == [f"SEQUENCE:{stored + 1}", "STATUS:CANCELLED"], feed
    item = fitter_calendar.event_by_uid("cancel@test").data
    assert written(item) == written(feed), item


def test_an_all_day_event_is_all_day_on_every_channel(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    dates = "DTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261226\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
    fitter_calendar.save_event(_ics("allday@test", dates, summary="Home visits"))
    (appointment,) = _appointments(live, people)
    assert appointment["meta"]["all_day"] is True
    assert (appointment["date_start"], appointment["date_end"]) == (
        "2026-12-25T07:00:00.000Z",  # midnight to midnight in the calendar's zone (America/Denver)
        "2026-12-26T07:00:00.000Z",
    )
    issued = live.client(people.fitter.token).post(
        f"/api/v1/calendars/{people.fitter.calendar_id}/feeds", json={"name": "Phone", "privacy": "minimal"}
    )
    assert issued.status_code == 201, issued.text
    secret = issued.json()["secret"]
    feed = live.client().get(f"/feeds/{secret}.ics").text.replace("\r\n ", "")
    assert "DTSTART;VALUE=DATE:20261225" in feed and "DTEND;VALUE=DATE:20261226" in feed
    assert "T000000" not in feed.split("BEGIN:VEVENT", 1)[1]
    for viewer in ("America/New_York", "America/Denver", "Asia/Tokyo"):
        page = live.client().get(f"/calendar/{secret}.json", params={"week": "2026-12-21", "tz": viewer}).json()
        days = {d["date"] for d in page["days"] for e in d["all_day"] if e["id"] == appointment["id"]}
        timed = [e for d in page["days"] for e in d["timed"] if e["id"] == appointment["id"]]
        assert (days, timed) == ({"2026-12-25"}, []), viewer
    # an edit over CalDAV back to a timed event ends the all-day nature
    event = fitter_calendar.event_by_uid("allday@test")
    event.data = _ics("allday@test", "DTSTART:20261225T160000Z\r\nDTEND:20261225T170000Z\r\n", summary="Visit")
    event.save()
    (appointment,) = _appointments(live, people)
    assert appointment["meta"].get("all_day") is False and appointment["date_start"] == "2026-12-25T16:00:00.000Z"
