"""iCalendar that would be stored other than it says is refused with its DAV error; nothing is written.

A date with year 0 (vobject reads 00000101 as 2000-01-01), a TZID that names no zone and comes
without its VTIMEZONE (read in the calendar's zone otherwise), bytes that are not UTF-8 (decoded as
Latin-1 otherwise), an item just under the body limit. A custom TZID with its own VTIMEZONE
(Outlook's "Eastern Standard Time") is honoured.
"""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

from caldav_bridge.store.dav_tables import DavItemRow
from caldav_bridge.store.tables import AppointmentRow, OutboxRow
from tests.caldav.support import dav_session, event_ics
from tests.conftest import People
from tests.support.live import LiveServer

OUTLOOK_EASTERN = (
    "BEGIN:VTIMEZONE\r\nTZID:Eastern Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16010101T020000\r\n"
    "TZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nRRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
)


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


def _refused(response: requests.Response, status: int, precondition: str) -> None:
    assert response.status_code == status, response.text
    assert f"<X:{precondition}/>" in response.text and "urn:ietf:params:xml:ns:caldav" in response.text


def test_year_zero_is_refused(live: LiveServer, dav: tuple[requests.Session, str]) -> None:
    session, url = dav
    before = _counts(live)
    for start in ("DTSTART:00000101", "DTSTART;VALUE=DATE:00000101", "DTSTART:00000101T090000Z"):
        body = event_ics("zero@test").replace("DTSTART;TZID=America/Denver:20261201T090000", start)
        body = body.replace("DTEND;TZID=America/Denver:20261201T100000\r\n", "")
        _refused(session.put(url + "zero.ics", data=body, timeout=10), 403, "valid-calendar-data")
    body = event_ics("zero2@test", extra="EXDATE:00000101T000000Z\r\nRRULE:FREQ=DAILY;COUNT=3\r\n")
    _refused(session.put(url + "zero2.ics", data=body, timeout=10), 403, "valid-calendar-data")
    assert _counts(live) == before


@pytest.mark.parametrize("tzid", ["Mars/Base", "../../etc/passwd", "Europe/Atlantis"])
def test_an_unknown_tzid_without_its_vtimezone_is_refused(
    live: LiveServer, dav: tuple[requests.Session, str], tzid: str
) -> None:
    session, url = dav
    before = _counts(live)
    _refused(session.put(url + "tz.ics", data=event_ics("tz@test", tzid=tzid), timeout=10), 403, "valid-calendar-data")
    assert _counts(live) == before


def test_a_custom_tzid_with_its_vtimezone_is_honoured(
    live: LiveServer, dav: tuple[requests.Session, str], people: People
) -> None:
    session, url = dav
    body = event_ics("outlook@test", tzid="Eastern Standard Time").replace(
        "PRODID:-//tests//caldav//EN\r\n", "PRODID:-//tests//caldav//EN\r\n" + OUTLOOK_EASTERN
    )
    response = session.put(url + "outlook.ics", data=body, timeout=10)
    assert response.status_code == 201, response.text
    listed = live.client(people.fitter.token).get(
        "/api/v1/appointments", params={"calendar_id": people.fitter.calendar_id}
    )
    assert listed.status_code == 200, listed.text
    (appointment,) = listed.json()["items"]
    assert appointment["date_start"].startswith("2026-12-01T14:00:00")  # 09:00 at UTC-5, not in Denver's zone


def test_bytes_that_are_not_utf8_are_refused(live: LiveServer, dav: tuple[requests.Session, str]) -> None:
    session, url = dav
    before = _counts(live)
    body = event_ics("latin@test", summary="Anpassung M\udcfcller").encode("utf-8", "surrogateescape")
    assert b"M\xfcller" in body
    response = session.put(url + "latin.ics", data=body, headers={"Content-Type": "text/calendar"}, timeout=10)
    _refused(response, 400, "valid-calendar-data")
    assert _counts(live) == before
    # declared, the charset is read as declared
    declared = {"Content-Type": "text/calendar; charset=iso-8859-1"}
    assert session.put(url + "latin.ics", data=body, headers=declared, timeout=10).status_code == 201
    assert "SUMMARY:Anpassung Müller" in session.get(url + "latin.ics", timeout=10).text


def test_an_item_just_under_the_body_limit_gets_a_size_error(
    live: LiveServer, dav: tuple[requests.Session, str]
) -> None:
    session, url = dav
    limit = live.runtime.settings.max_body_bytes
    before = _counts(live)
    bare = len(event_ics("big@test", extra="DESCRIPTION:x\r\n").encode())
    lines = (limit - bare - 200) // 76
    filler = "DESCRIPTION:x\r\n" + "".join(" " + "y" * 73 + "\r\n" for _ in range(lines))
    body = event_ics("big@test", extra=filler).encode()
    assert limit - 300 < len(body) <= limit, len(body)
    response = session.put(url + "big.ics", data=body, timeout=30)
    assert response.status_code in (403, 413), response.text
    if response.status_code == 403:
        assert "max-resource-size" in response.text
    assert _counts(live) == before
