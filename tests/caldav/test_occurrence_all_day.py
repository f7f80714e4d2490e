"""One occurrence of an all-day series (DTSTART;VALUE=DATE, as Apple Calendar and python-caldav write one)
changed over REST stays all-day: in the stored item python-caldav reads back (RECURRENCE-ID;VALUE=DATE,
DTSTART;VALUE=DATE, the master still a DATE), in ``?expand=true``, in the feed and in availability; unless the
change gives it times, which makes that one occurrence timed (RECURRENCE-ID still a DATE, as RFC 5545 wants).
SQLite and PostgreSQL.

Failed before: the override (and the re-rendered master) got DATE-TIMEs at midnight, so Apple and python-caldav
saw timed events from midnight to midnight, and an occurrence given times was shown all-day in the feed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import caldav
import icalendar
import recurring_ical_events

from caldav_bridge.model.timestamps import format_timestamp
from tests.caldav.test_series_channels import DENVER, Days, future_tuesday, slot_starts
from tests.conftest import People
from tests.support.factories import iso
from tests.support.live import Api, LiveServer

UID = "weekly-fair@phone"


def _day(d: date) -> str:
    return f"{d:%Y%m%d}"


def _all_day_series(d0: date) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//all-day//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{UID}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;VALUE=DATE:{_day(d0)}\r\nDTEND;VALUE=DATE:{_day(d0 + timedelta(days=1))}\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Trade fair\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _midnight(d: date) -> datetime:
    return datetime.combine(d, datetime.min.time(), DENVER).astimezone(UTC)


def _rid(moment: datetime) -> str:
    return format_timestamp(moment.astimezone(UTC))


def _item(calendar: caldav.Calendar) -> tuple[Any, dict[date, Any]]:
    """The master VEVENT and the override VEVENTs by their RECURRENCE-ID date, as python-caldav reads the item."""
    parsed = icalendar.Calendar.from_ical(calendar.event_by_uid(UID).data)
    master, overrides = None, {}
    for event in parsed.walk("VEVENT"):
        if event.get("RECURRENCE-ID") is None:
            master = event
        else:
            rid = event.decoded("RECURRENCE-ID")
            assert type(rid) is date, event.to_ical()  # VALUE=DATE, as the master's DTSTART
            assert event["RECURRENCE-ID"].params.get("VALUE") == "DATE"
            overrides[rid] = event
    return master, overrides


def _expanded(api: Api, calendar_id: str, days: Days) -> dict[str, tuple[str, str, bool]]:
    params = {"calendar_id": calendar_id, "from": iso(days.at(-1, 0)), "to": iso(days.at(30, 0)), "expand": "true"}
    r = api.get("/api/v1/appointments", params=params)
    assert r.status_code == 200, r.text
    return {
        i["recurrence_id"]: (i["date_start"], i["date_end"], i["meta"].get("all_day") is True)
        for i in r.json()["items"]
        if i["recurrence_id"]
    }


def _feed(live: LiveServer, api: Api, calendar_id: str, days: Days) -> list[tuple[Any, Any]]:
    """(DTSTART, DTEND) of each occurrence, as icalendar + recurring-ical-events expand the feed."""
    issued = api.post(f"/api/v1/calendars/{calendar_id}/feeds", json={"name": "fair", "privacy": "full"})
    assert issued.status_code == 201, issued.text
    body = live.client().get(f"/feeds/{issued.json()['secret']}.ics").content
    found = recurring_ical_events.of(icalendar.Calendar.from_ical(body)).between(days.at(-1, 0), days.at(30, 0))
    return sorted(((e.decoded("DTSTART"), e.decoded("DTEND")) for e in found), key=lambda p: str(p[0]))


def test_an_all_day_occurrence_stays_all_day_unless_given_times(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    days = future_tuesday()
    d0 = days.d0
    fitter_calendar.save_event(_all_day_series(d0))
    api = live.client(people.fitter.token)
    calendar_id = people.fitter.calendar_id or ""
    (series,) = api.get("/api/v1/appointments", params={"calendar_id": calendar_id}).json()["items"]
    path = f"/api/v1/appointments/{series['id']}/occurrences"
    week = [d0 + timedelta(weeks=n) for n in range(4)]

    # retitled only; moved to the next day (midnight to midnight in the calendar's zone); given times
    renamed = api.patch(f"{path}/{_rid(_midnight(week[1]))}", json={"name": "Trade fair (hall 2)"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["meta"]["all_day"] is True
    next_day = week[2] + timedelta(days=1)
    moved = api.patch(
        f"{path}/{_rid(_midnight(week[2]))}",
        json={"date_start": iso(_midnight(next_day)), "date_end": iso(_midnight(next_day + timedelta(days=1)))},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["meta"]["all_day"] is True
    timed = api.patch(
        f"{path}/{_rid(_midnight(week[3]))}",
        json={"date_start": iso(days.at(21, 10)), "date_end": iso(days.at(21, 12))},
    )
    assert timed.status_code == 200, timed.text
    assert timed.json()["meta"]["all_day"] is False

    # the stored item, as python-caldav (and Apple, over CalDAV) reads it
    master, overrides = _item(fitter_calendar)
    assert type(master.decoded("DTSTART")) is date and master.decoded("DTSTART") == d0
    assert "RRULE" in master
    assert set(overrides) == {week[1], week[2], week[3]}
    assert (overrides[week[1]].decoded("DTSTART"), overrides[week[1]].decoded("DTEND")) == (
        week[1],
        week[1] + timedelta(days=1),
    )
    assert str(overrides[week[1]]["SUMMARY"]) == "Trade fair (hall 2)"
    assert overrides[week[2]].decoded("DTSTART") == next_day
    assert type(overrides[week[2]].decoded("DTSTART")) is date
    start = overrides[week[3]].decoded("DTSTART")
    assert isinstance(start, datetime) and start == days.at(21, 10)
    assert overrides[week[3]]["DTSTART"].params.get("TZID") == "America/Denver"

    # REST: each occurrence all-day on its dates, the timed one with its times
    assert _expanded(api, calendar_id, days) == {
        _rid(_midnight(week[0])): (_rid(_midnight(week[0])), _rid(_midnight(week[0] + timedelta(days=1))), True),
        _rid(_midnight(week[1])): (_rid(_midnight(week[1])), _rid(_midnight(week[1] + timedelta(days=1))), True),
        _rid(_midnight(week[2])): (_rid(_midnight(next_day)), _rid(_midnight(next_day + timedelta(days=1))), True),
        _rid(_midnight(week[3])): (_rid(days.at(21, 10)), _rid(days.at(21, 12)), False),
    }
    # the feed: dates for the all-day ones, times for the timed one
    assert _feed(live, api, calendar_id, days) == [
        (week[0], week[0] + timedelta(days=1)),
        (week[1], week[1] + timedelta(days=1)),
        (next_day, next_day + timedelta(days=1)),
        (days.at(21, 10), days.at(21, 12)),
    ]
    # availability: the timed occurrence takes 10:00 to 12:00 only; the moved all-day one its new day
    slots = slot_starts(api, calendar_id, days.at(14, 0), days.at(22, 0))
    assert (days.at(21, 10).astimezone(UTC) in slots, days.at(21, 14).astimezone(UTC) in slots) == (False, True)
    assert (days.at(14, 10).astimezone(UTC) in slots, days.at(15, 10).astimezone(UTC) in slots) == (True, False)

    # a phone's all-day override is changed in place, not doubled: back to all-day with midnights
    again = api.patch(
        f"{path}/{_rid(_midnight(week[3]))}",
        json={"date_start": iso(_midnight(week[3])), "date_end": iso(_midnight(week[3] + timedelta(days=1)))},
    )
    assert again.status_code == 200, again.text
    _, overrides = _item(fitter_calendar)
    assert len(overrides) == 3 and type(overrides[week[3]].decoded("DTSTART")) is date
