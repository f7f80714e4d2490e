"""Bad CalDAV input gets its DAV status (and RFC precondition element), stores nothing, never 500."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
import requests
from sqlalchemy import func, select

from caldav_bridge.store.dav_tables import DavItemRow
from caldav_bridge.store.tables import AppointmentRow, AuditRow, OutboxRow
from tests.caldav.support import dav_session, event_ics
from tests.conftest import People
from tests.support.audit import audit_trail
from tests.support.live import LiveServer


def _counts(live: LiveServer) -> tuple[int, int, int]:
    with live.runtime.uow() as uow:
        return tuple(  # type: ignore[return-value]
            int(uow.session.scalar(select(func.count()).select_from(t)) or 0)
            for t in (AppointmentRow, OutboxRow, DavItemRow)
        )


@pytest.fixture
def dav(live: LiveServer, people: People) -> tuple[requests.Session, str]:
    return dav_session(people.fitter.username, people.fitter.password), (
        f"{live.base_url}/dav/{people.fitter.username}/appointments/"
    )


def test_malformed_icalendar(live: LiveServer, dav: tuple[requests.Session, str]) -> None:
    session, url = dav
    before = _counts(live)
    for body in ("BEGIN:VCALENDAR\r\nthis is not ical\r\n", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"):
        response = session.put(url + "bad.ics", data=body, headers={"Content-Type": "text/calendar"}, timeout=10)
        assert response.status_code == 400, response.text
        assert "valid-calendar-data" in response.text
    assert _counts(live) == before


def test_dtend_before_dtstart(live: LiveServer, dav: tuple[requests.Session, str]) -> None:
    session, url = dav
    before = _counts(live)
    body = event_ics("backwards@test", start="20261201T100000", end="20261201T090000")
    response = session.put(url + "backwards.ics", data=body, timeout=10)
    assert response.status_code == 403, response.text
    assert "<X:valid-calendar-data/>" in response.text and "urn:ietf:params:xml:ns:caldav" in response.text
    assert _counts(live) == before


def test_zero_length_event_is_kept_but_is_no_appointment(live: LiveServer, dav: tuple[requests.Session, str]) -> None:
    # RFC 5545 §3.6.1 allows DTEND = DTSTART (stock Radicale stores it): a calendar-only event.
    session, url = dav
    body = event_ics("zero@test", start="20261201T100000", end="20261201T100000")
    response = session.put(url + "zero.ics", data=body, timeout=10)
    assert response.status_code == 201, response.text
    assert _counts(live)[0] == 0
    assert "UID:zero@test" in session.get(url + "zero.ics", timeout=10).text


def test_uid_already_used(live: LiveServer, dav: tuple[requests.Session, str]) -> None:
    session, url = dav
    assert session.put(url + "one.ics", data=event_ics("same@test"), timeout=10).status_code == 201
    before = _counts(live)
    response = session.put(url + "two.ics", data=event_ics("same@test"), timeout=10)
    assert response.status_code == 409
    assert "no-uid-conflict" in response.text
    assert _counts(live) == before


def test_body_too_large(live: LiveServer, dav: tuple[requests.Session, str]) -> None:
    session, url = dav
    big = event_ics("big@test", extra="DESCRIPTION:" + "x" * 70 + "\r\n " + ("y" * 74 + "\r\n ") * 140_000 + "z\r\n")
    assert len(big) > 10_000_000
    try:
        response = session.put(url + "big.ics", data=big, timeout=30)
    except requests.ConnectionError:  # the server may close the connection instead of reading 10 MB
        pass
    else:
        assert response.status_code == 413
    assert _counts(live)[0] == 0


def test_component_the_calendar_does_not_accept(live: LiveServer, people: People) -> None:
    session = dav_session(people.fitter.username, people.fitter.password)
    url = f"{live.base_url}/dav/{people.fitter.username}/events-only/"
    mkcalendar = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
        '<C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>'
        "</D:prop></D:set></C:mkcalendar>"
    )
    assert session.request("MKCALENDAR", url, data=mkcalendar, timeout=10).status_code == 201
    todo = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VTODO\r\nUID:todo@test\r\n"
        "DTSTAMP:20261101T000000Z\r\nSUMMARY:Order batteries\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
    response = session.put(url + "todo.ics", data=todo, timeout=10)
    assert response.status_code == 403, response.text
    assert "supported-calendar-component" in response.text
    # a user's own calendar holds plain items, not appointments
    assert session.put(url + "event.ics", data=event_ics("own@test"), timeout=10).status_code == 201
    assert _counts(live)[0] == 0


def test_vtodo_in_the_appointment_calendar_is_a_plain_item(live: LiveServer, dav: tuple[requests.Session, str]) -> None:
    session, url = dav
    todo = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VTODO\r\nUID:todo2@test\r\n"
        "DTSTAMP:20261101T000000Z\r\nSUMMARY:Call back\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
    assert session.put(url + "todo.ics", data=todo, timeout=10).status_code == 201
    stored = session.get(url + "todo.ics", timeout=10).text
    assert "UID:todo2@test" in stored and "SUMMARY:Call back" in stored
    assert _counts(live)[0] == 0


def test_refused_status_change_is_a_conflict(live: LiveServer, dav: tuple[requests.Session, str]) -> None:
    session, url = dav
    assert session.put(url + "c.ics", data=event_ics("c@test", status="CANCELLED"), timeout=10).status_code == 201
    before = _counts(live)
    response = session.put(url + "c.ics", data=event_ics("c@test", status="CONFIRMED"), timeout=10)
    assert response.status_code == 409, response.text
    assert _counts(live) == before


MULTIGET = (
    '<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    "<D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>%srequest-id.ics</D:href></C:calendar-multiget>"
)


def test_an_unusable_request_id_is_replaced_not_stored(live: LiveServer, dav: tuple[requests.Session, str]) -> None:
    """A client's ``X-Request-ID`` longer than the audit column (64) or holding other characters used to go into the
    audit rows as sent: on PostgreSQL the write and the audited read failed. The REST edge's rule holds here too."""
    session, url = dav
    body = event_ics("request-id@test", start="20261201T100000", end="20261201T110000")
    for request_id in ("r" * 65, "two words; and more"):
        headers = {"X-Request-ID": request_id}
        put = session.put(url + "request-id.ics", data=body, headers=headers, timeout=10)
        assert put.status_code in (201, 204), put.text
        got = session.get(url + "request-id.ics", headers=headers, timeout=10)
        assert got.status_code == 200 and "UID:request-id@test" in got.text
        listed = session.request(
            "REPORT", url, data=MULTIGET % urlparse(url).path, headers={**headers, "Depth": "1"}, timeout=10
        )
        assert listed.status_code == 207 and "UID:request-id@test" in listed.text  # the listings' own answer
    ids = {row.request_id for row in audit_trail(live.runtime, AuditRow.channel == "caldav")}
    assert len(ids) >= 6 and all(i and len(i) == 32 for i in ids)  # a new id each, none of what was sent


def _raw_event(uid: str, times: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//caldav//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n{times}SUMMARY:Far away\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.mark.parametrize(
    "times",
    [
        "DTSTART:99991231T230000Z\r\nDTEND:99991231T235959Z\r\n",
        "DTSTART;VALUE=DATE:99991230\r\n",
        "DTSTART;VALUE=DATE:99991231\r\n",
        "DTSTART;VALUE=DATE:99991231\r\nDTEND;VALUE=DATE:99991231\r\n",
        "DTSTART:20261201T090000Z\r\nDURATION:P99999999W\r\n",
        "DTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\nRDATE:99991231T090000Z\r\n",
        "DTSTART;VALUE=DATE:00010101\r\n",
    ],
)
@pytest.mark.parametrize("calendar", ["appointments", "own"])
def test_times_near_the_ends_of_the_calendar_are_refused(
    live: LiveServer, people: People, times: str, calendar: str
) -> None:
    """Failed before: the year 9999 was a 500 (``OverflowError`` in the appointment sync's ``start + MAX_DURATION``)
    or a 412 (Radicale's own ``OverflowError`` computing an end), a DURATION past the year 9999 a 412. Every
    calendar refuses times outside 1000 to 9000 before Radicale parses them."""
    session, url = _calendar(live, people, calendar)
    before = _counts(live)
    response = session.put(url + "far.ics", data=_raw_event("far@test", times), timeout=10)
    assert response.status_code == 403, response.text
    assert "<X:valid-calendar-data/>" in response.text and "urn:ietf:params:xml:ns:caldav" in response.text
    assert "must lie between 1000 and 9000" in response.text
    assert _counts(live) == before
    assert session.get(url + "far.ics", timeout=10).status_code == 404


@pytest.mark.parametrize(
    "times", ["DTSTART:18991231T230000Z\r\nDTEND:18991231T235959Z\r\n", "DTSTART;VALUE=DATE:18500314\r\n"]
)
def test_a_time_before_1900_is_an_appointments_refusal_and_another_calendars_event(
    live: LiveServer, people: People, times: str
) -> None:
    """The appointments calendar holds what the canonical model can (1900 to 2200); a calendar the client made
    holds a birthday of 1850 as any CalDAV server would."""
    session, url = _calendar(live, people, "appointments")
    refused = session.put(url + "old.ics", data=_raw_event("old@test", times), timeout=10)
    assert refused.status_code == 403 and "1900 and 2200" in refused.text, refused.text
    session, url = _calendar(live, people, "own")
    stored = session.put(url + "old.ics", data=_raw_event("old@test", times), timeout=10)
    assert stored.status_code == 201, stored.text
    assert session.get(url + "old.ics", timeout=10).status_code == 200


def _calendar(live: LiveServer, people: People, calendar: str) -> tuple[requests.Session, str]:
    session = dav_session(people.fitter.username, people.fitter.password)
    url = f"{live.base_url}/dav/{people.fitter.username}/{calendar}/"
    if calendar == "own":
        made = session.request("MKCALENDAR", url, timeout=30)
        assert made.status_code == 201, made.text
    return session, url


def test_times_at_the_edges_of_the_supported_years_are_stored(
    live: LiveServer, dav: tuple[requests.Session, str]
) -> None:
    session, url = dav
    for name, times in {
        "first": "DTSTART:19000101T000000Z\r\nDTEND:19000101T010000Z\r\n",
        "last": "DTSTART:21991231T230000Z\r\nDTEND:22000101T000000Z\r\n",
    }.items():
        response = session.put(url + f"{name}.ics", data=_raw_event(f"{name}@test", times), timeout=10)
        assert response.status_code == 201, response.text
    assert _counts(live)[0] == 2
