"""A guest id holding what iCalendar escapes (a backslash, ``;``, ``,``, ``"``, ``:``, ``^``) comes back exactly:
in the CalDAV item (X-GUEST-ID and the ``urn:x-guest:`` value), through a client's PUT of that item, through a REST
change re-rendered into the client's text, and in the feed. icalendar (the server's and python-caldav's parser)
reads a backslash in a parameter or a CAL-ADDRESS as an escape, so a bare one was misread (``a\\`` did not end the
parameter: ``X-GUEST-ID=a\\:urn`` made the id ``a:urn``), and trims blanks around an unquoted parameter; ids with
control characters, which iCalendar cannot carry there, are refused with a 422."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import icalendar
from hypothesis import given, settings
from hypothesis import strategies as st

from caldav_bridge.converters.ical_parse import GUEST_ID_PARAM, GUEST_URN, event_in, read_vevents
from caldav_bridge.dav.render import fresh_reference, fresh_text, render_event
from caldav_bridge.model.appointment import Appointment
from tests.caldav.conftest import client_for
from tests.caldav.support import new_feed
from tests.conftest import People
from tests.support.factories import appointment_body
from tests.support.live import LiveServer

NASTY = [
    "back\\slash",
    "trailing\\",
    "\\;semi",
    "a;b",
    "a,b",
    'q"uote',
    "c:olon",
    "car^et^n",
    "esc\\,comma",
    "x\\ny",
    "\\\\",
    "ü ö",
    " leading blank",
    "trailing blank ",
    "50%",
    "%5C%20",
]
#: The id a client names on a ``mailto:`` attendee (icalendar as a client writes no backslash right either).
LISTED = 'q"uote'


def _attendees(text: str) -> list[Any]:
    (event,) = icalendar.Calendar.from_ical(text).events
    found = event.get("ATTENDEE", [])
    return found if isinstance(found, list) else [found]


def _guest_ids(text: str) -> tuple[list[str], list[str]]:
    """The ids the item's guest ATTENDEEs name: by X-GUEST-ID, and by their ``urn:x-guest:`` value (both
    percent-encoded where a backslash, a blank or a ``%`` would not survive a parser)."""
    guests = [a for a in _attendees(text) if str(a).startswith(GUEST_URN)]
    return [unquote(str(a.params[GUEST_ID_PARAM])) for a in guests], [unquote(str(a)[len(GUEST_URN) :]) for a in guests]


def test_nasty_guest_ids_round_trip_over_caldav_rest_and_the_feed(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    calendar_id = people.fitter.calendar_id or ""
    body = appointment_body(calendar_id)
    body["guests"] = [{"id": gid, "first_name": f"Guest{i}"} for i, gid in enumerate(NASTY)]
    made = api.post("/api/v1/appointments", json=body)
    assert made.status_code == 201, made.text
    appointment_id = made.json()["id"]
    assert [g["id"] for g in made.json()["guests"]] == NASTY
    dav = client_for(live, people.fitter.username, people.fitter.password)
    (calendar,) = dav.principal().calendars()
    url = f"{calendar.url}{appointment_id}.ics"
    event = calendar.event_by_url(url)
    assert _guest_ids(event.data) == (NASTY, NASTY)

    # the client saves it (a new title, and a mailto attendee naming one guest), as it read it
    listed = f'ATTENDEE;CN=Listed;X-GUEST-ID="{LISTED.replace(chr(34), "^" + chr(39))}":mailto:listed@example.com\n'
    event.data = event.data.replace("SUMMARY:", "SUMMARY:Moved ").replace("END:VEVENT", listed + "END:VEVENT", 1)
    event.save()
    saved = api.get(f"/api/v1/appointments/{appointment_id}").json()
    assert [g["id"] for g in saved["guests"]] == NASTY, "the PUT read every id back exactly"
    assert [a.get("guest_id") for a in saved["meta"]["attendees"]] == [LISTED]

    # a REST change re-renders the item into the client's text
    assert api.patch(f"/api/v1/appointments/{appointment_id}", json={"name": "Renamed"}).status_code == 200
    text = calendar.event_by_url(url).data
    assert "SUMMARY:Renamed" in text
    assert _guest_ids(text) == (NASTY, NASTY)
    after = api.get(f"/api/v1/appointments/{appointment_id}").json()
    assert [g["id"] for g in after["guests"]] == NASTY

    feed = new_feed(live, api, calendar_id, "full").text
    mailto = [a for a in _attendees(feed) if str(a) == "mailto:listed@example.com"]
    assert [unquote(str(a.params[GUEST_ID_PARAM])) for a in mailto] == [LISTED]


def test_guest_ids_iCalendar_cannot_carry_are_refused(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    body = appointment_body(people.fitter.calendar_id or "")
    for gid in ("line\nbreak", "car\rriage", "nul\x00", "bell\x07", "\ttab", "c1\x85"):
        body["guests"] = [{"id": gid, "first_name": "Jane"}]
        refused = api.post("/api/v1/appointments", json=body)
        assert refused.status_code == 422, (gid, refused.text)
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert "guests" in refused.text


_GUEST_ID = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1, max_size=64)


def _appointment(ids: list[str]) -> Appointment:
    return Appointment.model_validate(
        {
            "id": "6f1c2d3e-0000-4000-8000-000000000001",
            "calendar": {"id": "c1", "name": "C"},
            "date_start": "2026-10-25T00:30:00.000Z",
            "date_end": "2026-10-25T02:00:00.000Z",
            "name": "Fitting",
            "guests": [{"id": gid, "first_name": "Jane"} for gid in ids],
            "meta": {
                "type": "FOLLOW_UP",
                "attendees": [{"name": "Listed", "email": "listed@example.com", "guest_id": ids[0]}],
            },
            "status": "BOOKED",
            "created_at": "2026-01-01T00:00:00.000Z",
            "updated_at": "2026-01-02T00:00:00.000Z",
        }
    )


@settings(max_examples=300, deadline=None)
@given(ids=st.lists(_GUEST_ID, min_size=1, max_size=4, unique=True))
def test_any_guest_id_reads_back_exactly(ids: list[str]) -> None:
    """The fast text and icalendar's agree byte for byte and read back every id exactly; so does an item
    re-rendered into that text (a REST change) and the feeds' ``mailto:`` attendee naming a guest."""
    a = _appointment(ids)
    fast = fresh_text(a, "UTC", 0)
    assert fast == fresh_reference(a, "UTC", 0)
    merged = render_event(a, zone="UTC", sequence=1, base_text=fast)
    for text in (fast, merged):
        parsed = event_in(read_vevents(text))
        assert [x.guest_id for x in parsed.attendees] == [ids[0], *ids[1:]], text
        assert _guest_ids(text) == (ids[1:], ids[1:])
