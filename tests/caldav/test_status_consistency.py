"""What a CalDAV client reads says one status: X-APPOINTMENT-STATUS agrees with STATUS and with the appointment's
status after every path that changes it (a REST transition, a CalDAV PUT of STATUS alone, a PUT of both)."""

from __future__ import annotations

import caldav
import icalendar

from caldav_bridge.converters.ical import ical_status
from caldav_bridge.dav.render import with_appointment_status
from caldav_bridge.model.appointment import AppointmentStatus
from tests.caldav.conftest import client_for
from tests.conftest import People
from tests.support.factories import appointment_body
from tests.support.live import Api, LiveServer


def _statuses(dav: caldav.DAVClient, url: str) -> tuple[str, str]:
    item = caldav.Event(client=dav, url=url)
    item.load()
    (event,) = icalendar.Calendar.from_ical(item.data).events
    return str(event["STATUS"]), str(event["X-APPOINTMENT-STATUS"])


def _agrees(api: Api, dav: caldav.DAVClient, appointment_id: str, url: str, expected: str) -> None:
    assert api.get(f"/api/v1/appointments/{appointment_id}").json()["status"] == expected
    status, exact = _statuses(dav, url)
    assert exact == expected, (status, exact)
    assert status == ical_status(AppointmentStatus(expected)), (status, exact)


def test_every_status_change_shows_in_x_appointment_status(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    dav = client_for(live, people.fitter.username, people.fitter.password)
    (calendar,) = dav.principal().calendars()
    made = api.post("/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or ""))
    assert made.status_code == 201, made.text
    appointment_id = made.json()["id"]
    url = f"{calendar.url}{appointment_id}.ics"
    _agrees(api, dav, appointment_id, url, made.json()["status"])
    assert api.post(f"/api/v1/appointments/{appointment_id}/book").status_code == 200
    _agrees(api, dav, appointment_id, url, "BOOKED")

    # the client writes the item (its own text is now the stored one), then REST cancels
    event = calendar.event_by_url(url)
    event.data = event.data.replace("SUMMARY:", "SUMMARY:Moved ")
    event.save()
    _agrees(api, dav, appointment_id, url, "BOOKED")
    cancelled = api.post(f"/api/v1/appointments/{appointment_id}/cancel", json={"reason": "customer ill"})
    assert cancelled.status_code == 200, cancelled.text
    _agrees(api, dav, appointment_id, url, "CANCELLED")

    # a restore by STATUS alone is refused (CANCELLED -> BOOKED is no transition); the item still says CANCELLED
    event = calendar.event_by_url(url)
    restored = event.data.replace("\nSTATUS:CANCELLED\n", "\nSTATUS:CONFIRMED\n", 1)
    refused = dav.put(url, restored, {"Content-Type": "text/calendar; charset=utf-8"})
    assert refused.status == 409
    _agrees(api, dav, appointment_id, url, "CANCELLED")


def test_a_put_cancelling_by_status_alone_rewrites_x_appointment_status(live: LiveServer, people: People) -> None:
    """The client changes STATUS and leaves our X-APPOINTMENT-STATUS:BOOKED as it read it."""
    api = live.client(people.fitter.token)
    dav = client_for(live, people.fitter.username, people.fitter.password)
    (calendar,) = dav.principal().calendars()
    made = api.post("/api/v1/appointments", json={**appointment_body(people.fitter.calendar_id or "")})
    appointment_id = made.json()["id"]
    assert api.post(f"/api/v1/appointments/{appointment_id}/book").status_code == 200
    url = f"{calendar.url}{appointment_id}.ics"
    event = calendar.event_by_url(url)
    text = event.data.replace("\nSTATUS:CONFIRMED\n", "\nSTATUS:CANCELLED\n", 1)
    assert "X-APPOINTMENT-STATUS:BOOKED" in text and "STATUS:CANCELLED" in text
    event.data = text
    event.save()
    _agrees(api, dav, appointment_id, url, "CANCELLED")
    assert "X-APPOINTMENT-STATUS:BOOKED" not in calendar.event_by_url(url).data


def test_only_the_masters_own_line_is_rewritten_and_every_other_byte_kept() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:u\r\nRECURRENCE-ID:20261201T090000Z\r\n"
        "X-APPOINTMENT-STATUS:BOOKED\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:u\r\nSUMMARY:a long\r\n  folded line\r\n"
        "STATUS:CANCELLED\r\nx-appointment-status:BOO\r\n KED\r\nBEGIN:VALARM\r\nX-APPOINTMENT-STATUS:BOOKED\r\n"
        "END:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    expected = text.replace("x-appointment-status:BOO\r\n KED\r\n", "X-APPOINTMENT-STATUS:CANCELLED\r\n")
    assert with_appointment_status(text, "CANCELLED") == expected
    assert with_appointment_status(expected, "CANCELLED") is expected  # agrees: the text as it is
    unix = text.replace("\r\n", "\n")
    assert with_appointment_status(unix, "CANCELLED") == expected.replace("\r\n", "\n")
    without = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSTATUS:CANCELLED\nEND:VEVENT\nEND:VCALENDAR\n"
    assert with_appointment_status(without, "CANCELLED") is without  # a client that dropped it: nothing added
