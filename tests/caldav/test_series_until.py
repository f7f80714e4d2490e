"""A series whose RRULE UNTIL is a date or a floating time while DTSTART has a zone (older Outlook, Thunderbird), and
an all-day series whose UNTIL is a UTC time: stored over CalDAV and shown, occurrence for occurrence, by the calendar
page, REST ``?expand=true`` and availability. SQLite and PostgreSQL.

RFC 5545 wants UNTIL in UTC when DTSTART has a zone; clients send otherwise, and UNTIL is inclusive: a floating UNTIL
is read in DTSTART's zone, a date UNTIL means through that day (there). An all-day DTSTART's UTC UNTIL is an instant,
compared with the occurrences' starts (midnight in the calendar's zone).

Failed before: the first were stored (201), then the page and REST expand answered 500 (dateutil: "RRULE UNTIL values
must be specified in UTC when DTSTART is timezone-aware") and availability left the series out (free time where the
fitter is busy); the all-day one was refused at PUT with the same message.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import requests

from tests.caldav.support import DENVER, dav_session, fmt, tuesday_ahead
from tests.caldav.test_series_channels import slot_starts
from tests.conftest import People
from tests.support.factories import iso
from tests.support.live import Api, LiveServer


def _day(d: date) -> str:
    return f"{d:%Y%m%d}"


def _at(d: date, hour: int) -> datetime:
    return datetime.combine(d, time(hour), DENVER)


def _timed(uid: str, d0: date, hour: int, until: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//until//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=America/Denver:{_day(d0)}T{hour:02d}0000\r\n"
        f"DTEND;TZID=America/Denver:{_day(d0)}T{hour + 1:02d}0000\r\n"
        f"RRULE:FREQ=DAILY;UNTIL={until}\r\nSUMMARY:{uid}\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _all_day(uid: str, d0: date, until: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//until//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;VALUE=DATE:{_day(d0)}\r\nDTEND;VALUE=DATE:{_day(d0 + timedelta(days=1))}\r\n"
        f"RRULE:FREQ=DAILY;UNTIL={until}\r\nSUMMARY:{uid}\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _put(live: LiveServer, people: People, name: str, body: str) -> None:
    session = dav_session(people.fitter.username, people.fitter.password)
    url = f"{live.base_url}/dav/{people.fitter.username}/appointments/{name}.ics"
    response = session.put(url, data=body, timeout=30)
    assert response.status_code == 201, response.text


def _expanded(api: Api, calendar_id: str, start: datetime, end: datetime) -> dict[str, list[str]]:
    """Occurrence starts (UTC) by title, as REST ``?expand=true`` lists them."""
    params = {"calendar_id": calendar_id, "from": iso(start), "to": iso(end), "expand": "true"}
    response = api.get("/api/v1/appointments", params=params)
    assert response.status_code == 200, response.text
    found: dict[str, list[str]] = {}
    for item in response.json()["items"]:
        found.setdefault(item["name"], []).append(item["date_start"])
    return found


def _page(live: LiveServer, api: Api, calendar_id: str, weeks: list[date]) -> dict[str, list[str]]:
    """What the calendar page (JSON, full privacy) shows by title: the timed events' starts, the all-day ones' dates."""
    issued = api.post(f"/api/v1/calendars/{calendar_id}/feeds", json={"name": "page", "privacy": "full"})
    assert issued.status_code == 201, issued.text
    shown: dict[str, set[str]] = {}
    for week in weeks:
        for path in (f"/calendar/{issued.json()['secret']}", f"/calendar/{issued.json()['secret']}.json"):
            response: requests.Response = live.client().get(path, params={"week": week.isoformat()})
            assert response.status_code == 200, (path, response.text[:300])
        for day in response.json()["days"]:
            for event in day["timed"]:
                shown.setdefault(event["title"], set()).add(event["start"])
            for event in day["all_day"]:
                shown.setdefault(event["title"], set()).add(day["date"])
    return {title: sorted(values) for title, values in shown.items()}


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_a_date_or_floating_until_is_read_in_the_zone_of_dtstart(live: LiveServer, people: People) -> None:
    d0 = tuesday_ahead()
    days = [d0 + timedelta(days=i) for i in range(7)]
    # through Thursday (a DATE): Tue, Wed, Thu at 10:00; up to Friday 13:00 (floating, inclusive): Tue to Fri at 13:00
    _put(live, people, "until-date", _timed("until-date", d0, 10, _day(days[2])))
    _put(live, people, "until-floating", _timed("until-floating", d0, 13, f"{_day(days[3])}T130000"))
    api = live.client(people.fitter.token)
    calendar_id = people.fitter.calendar_id or ""
    expected = {
        "until-date": [_utc(_at(d, 10)) for d in days[:3]],
        "until-floating": [_utc(_at(d, 13)) for d in days[:4]],
    }
    assert _expanded(api, calendar_id, _at(d0 - timedelta(days=1), 0), _at(d0 + timedelta(days=8), 0)) == expected
    mondays = sorted({d - timedelta(days=d.weekday()) for d in days})
    page = _page(live, api, calendar_id, mondays)
    assert {t: [_utc(datetime.fromisoformat(s)) for s in v] for t, v in page.items()} == expected
    slots = slot_starts(api, calendar_id, _at(d0, 0), _at(days[6], 23))
    busy = {(i, hour) for i in range(7) for hour in (10, 13) if _at(days[i], hour).astimezone(UTC) not in slots}
    # the weekend (days 4 and 5) has no working hours: busy too
    assert busy == {(0, 10), (1, 10), (2, 10), (0, 13), (1, 13), (2, 13), (3, 13), (4, 10), (4, 13), (5, 10), (5, 13)}


def test_an_all_day_series_with_a_utc_until(live: LiveServer, people: People) -> None:
    d0 = tuesday_ahead()
    days = [d0 + timedelta(days=i) for i in range(5)]
    # the UTC instant of Thursday's midnight in the calendar's zone: the last occurrence starts then
    _put(live, people, "all-day-utc", _all_day("all-day-utc", d0, fmt(_at(days[2], 0))))
    # an instant before Wednesday's midnight there: Tuesday only
    _put(live, people, "all-day-early", _all_day("all-day-early", d0, fmt(_at(days[1], 0) - timedelta(hours=1))))
    # the RFC's own form (a DATE): through Wednesday
    _put(live, people, "all-day-date", _all_day("all-day-date", d0, _day(days[1])))
    api = live.client(people.fitter.token)
    calendar_id = people.fitter.calendar_id or ""
    found = _expanded(api, calendar_id, _at(d0 - timedelta(days=1), 0), _at(d0 + timedelta(days=8), 0))
    assert found == {
        "all-day-utc": [_utc(_at(d, 0)) for d in days[:3]],
        "all-day-early": [_utc(_at(d0, 0))],
        "all-day-date": [_utc(_at(d, 0)) for d in days[:2]],
    }
    page = _page(live, api, calendar_id, sorted({d - timedelta(days=d.weekday()) for d in days}))
    assert page == {
        "all-day-utc": [d.isoformat() for d in days[:3]],
        "all-day-early": [d0.isoformat()],
        "all-day-date": [d.isoformat() for d in days[:2]],
    }
