"""Deleting calendars over CalDAV: an appointment calendar (and the principal holding it) is refused
with a plain 403 and nothing is logged as an error; a calendar the client made itself goes.

Before, the store's refusal reached Radicale as an exception: 403 on the wire, but an ERROR traceback
and a CRITICAL "500 Internal Server Error" in the log, and Radicale's one-second delay for a 5xx.
"""

from __future__ import annotations

import logging
import uuid

import caldav
import pytest
from caldav.lib import error

from tests.caldav.conftest import client_for
from tests.caldav.support import dav_session, event_ics
from tests.conftest import People
from tests.support.live import LiveServer


def test_an_appointment_calendar_cannot_be_deleted_and_nothing_is_logged_as_an_error(
    live: LiveServer, people: People, fitter_calendar: caldav.Calendar, caplog: pytest.LogCaptureFixture
) -> None:
    fitter = people.fitter
    uid = f"keep-{uuid.uuid4()}"
    fitter_calendar.save_event(event_ics(uid, extra="X-APPOINTMENT-TYPE:FOLLOW_UP\r\n"))
    principal_url = f"{live.base_url}/dav/{fitter.username}/"
    session = dav_session(fitter.username, fitter.password)

    with caplog.at_level(logging.INFO):
        with pytest.raises(error.AuthorizationError):  # python-caldav's answer to a 403
            fitter_calendar.delete()
        assert session.delete(principal_url, timeout=30).status_code == 403

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert not [r.getMessage() for r in caplog.records if "500 Internal Server Error" in r.getMessage()]
    # the calendar, its event and the appointment behind it are all still there
    assert [e.icalendar_component["uid"] for e in fitter_calendar.events()] == [uid]
    listed = live.client(fitter.token).get(f"/api/v1/appointments?calendar_id={fitter.calendar_id}").json()
    assert len(listed["items"]) == 1


def test_a_calendar_the_client_made_can_be_deleted(live: LiveServer, people: People) -> None:
    fitter = people.fitter
    principal = client_for(live, fitter.username, fitter.password).principal()
    own = principal.make_calendar(name="Private", cal_id="private")
    own.save_event(event_ics(f"private-{uuid.uuid4()}"))
    own.delete()
    assert [c.url.path for c in principal.calendars()] == [f"/dav/{fitter.username}/appointments/"]
