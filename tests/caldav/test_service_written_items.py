"""An appointment's CalDAV item that no client has written is written afresh when the appointment changes; one a
client wrote into is merged into, keeping what the client wrote (``dav.items.item_for``, ``service_etag``).

On SQLite and PostgreSQL, over REST and python-caldav: the item of an appointment made over REST follows a REST
change of its zone whole (the merge kept the zone of the stored text: the old zone's VTIMEZONE stayed); once the
fitter's phone adds a reminder to it, a REST change is merged into the phone's text and the reminder stays.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import caldav
import icalendar
from sqlalchemy import select

from caldav_bridge.store.dav_tables import DavItemRow
from tests.caldav.support import DENVER, tuesday_ahead
from tests.conftest import People
from tests.support.factories import iso
from tests.support.live import Api, LiveServer


def _stored(live: LiveServer, appointment_id: str) -> DavItemRow:
    with live.runtime.uow() as uow:
        row = uow.session.scalars(select(DavItemRow).where(DavItemRow.appointment_id == appointment_id)).one()
        uow.session.expunge(row)
        return row


def _zones(text: str) -> tuple[set[str], set[str]]:
    """The TZIDs of the item's VTIMEZONEs and those its VEVENT's start and end are in."""
    calendar = icalendar.Calendar.from_ical(text)
    defined = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
    (event,) = calendar.walk("VEVENT")
    used = {str(event[name].params.get("TZID")) for name in ("DTSTART", "DTEND")}
    return defined, used


def test_an_item_no_client_wrote_follows_a_rest_change_whole_and_a_client_written_one_keeps_the_client_text(
    live: LiveServer, fitter_api: Api, people: People, fitter_calendar: caldav.Calendar
) -> None:
    start = datetime.combine(tuesday_ahead(), time(10), tzinfo=DENVER)
    made = fitter_api.post(
        "/api/v1/appointments",
        json={
            "calendar": {"id": people.fitter.calendar_id},
            "date_start": iso(start),
            "date_end": iso(start + timedelta(hours=1)),
            "name": "Fitting",
            "meta": {"type": "FOLLOW_UP", "timezone": "America/Denver"},
        },
    )
    assert made.status_code == 201, made.text
    appointment_id = made.json()["id"]
    first = _stored(live, appointment_id)
    assert first.service_etag == first.etag  # the service wrote it whole
    assert _zones(first.text) == ({"America/Denver"}, {"America/Denver"})

    # no client wrote it: a REST change writes it afresh, in the appointment's new zone only
    moved = fitter_api.patch(
        f"/api/v1/appointments/{appointment_id}",
        json={"name": "Fitting, Berlin", "meta": {"timezone": "Europe/Berlin"}},
    )
    assert moved.status_code == 200, moved.text
    second = _stored(live, appointment_id)
    assert _zones(second.text) == ({"Europe/Berlin"}, {"Europe/Berlin"})
    assert second.etag != first.etag and second.service_etag == second.etag
    phone = fitter_calendar.event_by_uid(second.uid)
    assert phone.data.replace("\n", "\r\n").replace("\r\r", "\r") == second.text  # what a client reads
    assert str(icalendar.Calendar.from_ical(second.text).walk("VEVENT")[0]["SUMMARY"]) == "Fitting, Berlin"

    # the phone adds a reminder: its text is the client's now, and a REST change is merged into it
    event = phone.icalendar_instance.walk("VEVENT")[0]
    alarm = icalendar.Alarm()
    alarm.add("ACTION", "DISPLAY")
    alarm.add("DESCRIPTION", "Leave for the fitting")
    alarm.add("TRIGGER", timedelta(minutes=-45))
    event.add_component(alarm)
    phone.save()
    written = _stored(live, appointment_id)
    assert written.service_etag is None  # a client's PUT clears it
    renamed = fitter_api.patch(f"/api/v1/appointments/{appointment_id}", json={"name": "Fitting (renamed)"})
    assert renamed.status_code == 200, renamed.text
    third = _stored(live, appointment_id)
    assert third.service_etag is None and third.etag != written.etag
    (merged,) = icalendar.Calendar.from_ical(third.text).walk("VEVENT")
    assert str(merged["SUMMARY"]) == "Fitting (renamed)"
    assert [str(a["DESCRIPTION"]) for a in merged.walk("VALARM")] == ["Leave for the fitting"]
