"""Recurrence rules that never occur or cost too much are refused on PUT, cheaply, and store nothing;
an infinite high-frequency event stored over CalDAV keeps availability cheap and busy.

On SQLite and PostgreSQL, over real HTTP. Budgets are CPU time of the server's threads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from caldav_bridge.store.dav_tables import DavItemRow
from caldav_bridge.store.tables import AppointmentRow, OutboxRow
from tests.caldav.support import dav_session, event_ics
from tests.conftest import People
from tests.support.cpu import CPU_BUDGET, least_server_cpu
from tests.support.live import LiveServer


def _counts(live: LiveServer) -> tuple[int, ...]:
    with live.runtime.uow() as uow:
        return tuple(
            int(uow.session.scalar(select(func.count()).select_from(t)) or 0)
            for t in (AppointmentRow, OutboxRow, DavItemRow)
        )


@pytest.fixture
def dav(live: LiveServer, people: People) -> tuple[requests.Session, str]:
    return dav_session(people.fitter.username, people.fitter.password), (
        f"{live.base_url}/dav/{people.fitter.username}/appointments/"
    )


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=DAILY;COUNT=2;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=MINUTELY;UNTIL=20361201T000000Z;BYMONTH=4;BYMONTHDAY=31",
    ],
)
def test_a_rule_that_never_occurs_is_refused_cheaply(
    live: LiveServer, dav: tuple[requests.Session, str], rule: str
) -> None:
    """Defect 1: the PUT answered 201 after ~60 s and 30 s of CPU under the storage lock."""
    session, url = dav
    before = _counts(live)
    body = event_ics("never@test", extra=f"RRULE:{rule}\r\n")
    response, seconds = least_server_cpu(lambda: session.put(url + "never.ics", data=body, timeout=30))
    assert response.status_code == 403, response.text
    assert "valid-calendar-data" in response.text and "urn:ietf:params:xml:ns:caldav" in response.text
    assert seconds < CPU_BUDGET
    assert _counts(live) == before


def test_an_exrule_that_never_occurs_is_refused(live: LiveServer, dav: tuple[requests.Session, str]) -> None:
    session, url = dav
    before = _counts(live)
    body = event_ics("ex@test", extra="RRULE:FREQ=WEEKLY\r\nEXRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31\r\n")
    response, seconds = least_server_cpu(lambda: session.put(url + "ex.ics", data=body, timeout=30))
    assert response.status_code == 403 and "valid-calendar-data" in response.text
    assert seconds < CPU_BUDGET
    assert _counts(live) == before


def test_ordinary_recurring_events_are_still_stored(live: LiveServer, dav: tuple[requests.Session, str]) -> None:
    session, url = dav
    for n, rule in enumerate(("FREQ=WEEKLY", "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", "FREQ=YEARLY;COUNT=20")):
        response = session.put(url + f"ok{n}.ics", data=event_ics(f"ok{n}@test", extra=f"RRULE:{rule}\r\n"), timeout=30)
        assert response.status_code == 201, (rule, response.text)
        assert f"RRULE:{rule}" in session.get(url + f"ok{n}.ics", timeout=10).text


def test_an_infinite_secondly_event_keeps_availability_cheap_and_busy(live: LiveServer, people: People) -> None:
    """Defect 2: a week's availability cost 21 s of CPU and showed the time after 2,000 seconds free."""
    api = live.client(people.admin.token)
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    body = event_ics(
        "secondly@test",
        start=started.strftime("%Y%m%dT%H%M%S"),
        end=(started + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%S"),
        tzid=None,
        extra="RRULE:FREQ=SECONDLY\r\n",
    )
    day = (datetime.now(UTC) + timedelta(days=7)).date()
    window = {
        "calendar_id": people.fitter.calendar_id,
        "type": "FOLLOW_UP",
        "from": f"{day}T00:00:00Z",
        "to": f"{day + timedelta(days=7)}T00:00:00Z",
    }
    free = api.get("/api/v1/availability", params=window)
    assert free.status_code == 200 and free.json()["slots"], free.text  # the week has slots before
    session = dav_session(people.fitter.username, people.fitter.password)
    put = session.put(f"{live.base_url}/dav/{people.fitter.username}/appointments/s.ics", data=body, timeout=30)
    assert put.status_code == 201, put.text
    response, seconds = least_server_cpu(lambda: api.get("/api/v1/availability", params=window))
    assert response.status_code == 200, response.text
    assert seconds < CPU_BUDGET
    assert response.json()["slots"] == []


#: Radicale's ``event_full_day_rrule_until_5000y.ics`` (its test ``test_add_event_with_rrule_until_5000y_limit_2000000``
#: stores it with ``max_vevent_rrule_occurrence`` raised to 2,000,000): a daily all-day event until the year 7006,
#: 1.8 million occurrences. Counting them is 12 s of Radicale's CPU and its ``Item.time_range`` 23 s more.
UNTIL_7006 = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r\n"
    "BEGIN:VTIMEZONE\r\nLAST-MODIFIED:20040110T032845Z\r\nTZID:US/Eastern\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:20000404T020000\r\nRRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4\r\nTZNAME:EDT\r\n"
    "TZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nEND:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\nDTSTART:20001026T020000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nTZNAME:EST\r\n"
    "TZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    "BEGIN:VEVENT\r\nDTSTART;TZID=US/Eastern:20060102\r\nDTEND;TZID=US/Eastern:20060103\r\n"
    "RRULE:FREQ=DAILY;UNTIL=70060101\r\nSUMMARY:Recurring event with until +5000y\r\n"
    "UID:event_full_day_rrule_until_5000y\r\nDTSTAMP:20060102T094829Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.mark.parametrize("calendar", ["appointments", "own"])
def test_a_daily_event_until_the_year_7006_is_refused_cheaply(live: LiveServer, people: People, calendar: str) -> None:
    """Whatever Radicale's occurrence limit, our server refuses this body before Radicale counts it (a finite rule
    must end within ``CHECK_YEARS`` of scanning), in the fitter's appointment calendar and in one the client made.
    This is why the Radicale suite runs without that test (``tests/caldav/test_conformance.LEFT_OUT``)."""
    fitter = people.fitter
    session = dav_session(fitter.username, fitter.password)
    url = f"{live.base_url}/dav/{fitter.username}/{calendar}/"
    if calendar == "own":
        made = session.request("MKCALENDAR", url, timeout=30)
        assert made.status_code == 201, made.text
    before = _counts(live)
    response, seconds = least_server_cpu(lambda: session.put(url + "until-7006.ics", data=UNTIL_7006, timeout=30))
    assert response.status_code == 403, response.text
    assert "valid-calendar-data" in response.text and "urn:ietf:params:xml:ns:caldav" in response.text
    assert seconds < CPU_BUDGET
    assert _counts(live) == before
    assert session.get(url + "until-7006.ics", timeout=10).status_code == 404
