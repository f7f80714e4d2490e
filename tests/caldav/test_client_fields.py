"""What a CalDAV client (python-caldav) writes that the canonical model carries, on every channel, on SQLite and
PostgreSQL: LOCATION, CATEGORIES, ORGANIZER and ``mailto:`` attendees in REST (``meta``), through a REST change of
another field and back on CalDAV unchanged, in feeds by privacy level, in the canonical export; and an overridden
occurrence's own title, notes and place in REST (``meta.recurrence.overrides``, ``?expand=true``) and the feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, timedelta

import caldav
import icalendar
import pytest

from tests.caldav.support import LOCAL, by_uid, denver_at, denver_event, new_feed, seen_guest, tuesday_ahead
from tests.conftest import People
from tests.support.factories import iso
from tests.support.live import Api, LiveServer

#: What the client writes besides the canonical fields (``cust-john``: a customer seen in the calendar).
CLIENT_LINES = (
    "LOCATION:Main St 1\\, Denver\r\n"
    "CATEGORIES:Fitting,Home visit\r\n"
    "ORGANIZER;CN=Frank Fitter:mailto:frank@example.com\r\n"
    "ATTENDEE;CN=Jane Roe;PARTSTAT=ACCEPTED:mailto:jane.roe@example.com\r\n"
    "ATTENDEE;CN=John Doe;X-GUEST-ID=cust-john:mailto:john.doe@example.com\r\n"
    "X-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
)
EXPECTED_META = {
    "location": "Main St 1, Denver",
    "categories": ["Fitting", "Home visit"],
    "organizer": {"name": "Frank Fitter", "email": "frank@example.com"},
    "attendees": [
        {"name": "Jane Roe", "email": "jane.roe@example.com"},
        {"name": "John Doe", "email": "john.doe@example.com", "guest_id": "cust-john"},
    ],
}


@dataclass(frozen=True)
class Fitter:
    """The fitter's REST client, calendar and the Tuesday ahead the test writes on."""

    api: Api
    calendar_id: str
    day: date


@pytest.fixture
def fitter(fitter_api: Api, people: People) -> Fitter:
    return Fitter(fitter_api, people.fitter.calendar_id or "", tuesday_ahead())


@pytest.fixture
def written(fitter: Fitter, fitter_calendar: caldav.Calendar) -> str:
    """``fields@client`` at 10:00 with :data:`CLIENT_LINES`, written by the client once John Doe is a known
    customer of the calendar: the text it wrote."""
    seen_guest(
        fitter.api, fitter.calendar_id, fitter.day, {"id": "cust-john", "first_name": "John", "last_name": "Doe"}
    )
    text = denver_event("fields@client", denver_at(fitter.day, 10), lines=CLIENT_LINES)
    fitter_calendar.save_event(text)
    return text


def _properties(text: str, *names: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Each of the VEVENT's ``names`` properties as (name, value, parameters), as a parser reads them."""
    (event,) = icalendar.Calendar.from_ical(text).events
    found = []
    for name in names:
        values = event.get(name)
        for value in values if isinstance(values, list) else [values] if values is not None else []:
            shown = ",".join(map(str, value.cats)) if name == "CATEGORIES" else str(value)
            found.append((name, shown, sorted((k.upper(), str(v)) for k, v in value.params.items())))
    return found


def _feed(live: LiveServer, fitter: Fitter, privacy: str) -> str:
    return new_feed(live, fitter.api, fitter.calendar_id, privacy).text.replace("\r\n ", "")


def test_client_fields_show_in_rest_and_survive_a_rest_change(
    fitter: Fitter, fitter_calendar: caldav.Calendar, written: str
) -> None:
    api, calendar_id = fitter.api, fitter.calendar_id
    item = by_uid(api, calendar_id, "fields@client")
    assert {k: item["meta"].get(k) for k in EXPECTED_META} == EXPECTED_META
    assert [g["id"] for g in item["guests"]] == ["cust-john"]
    single = api.get(f"/api/v1/appointments/{item['id']}")
    assert single.status_code == 200 and single.json() == item  # the read path and the list path agree
    # read-only: only a client's write sets organizer and attendees
    refused = api.patch(f"/api/v1/appointments/{item['id']}", json={"meta": {"organizer": None}})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["meta.organizer"]
    bad = api.patch(f"/api/v1/appointments/{item['id']}", json={"meta": {"categories": "Fitting"}})
    assert bad.status_code == 422, bad.text
    assert [e["field"] for e in bad.json()["errors"]] == ["meta.categories"]
    # a REST change of another field keeps them, in REST and in the client's text
    renamed = api.patch(f"/api/v1/appointments/{item['id']}", json={"name": "Fitting (renamed)"})
    assert renamed.status_code == 200, renamed.text
    assert {k: renamed.json()["meta"].get(k) for k in EXPECTED_META} == EXPECTED_META
    stored = fitter_calendar.event_by_uid("fields@client").data
    assert "Fitting (renamed)" in stored
    kept = ("LOCATION", "CATEGORIES", "ORGANIZER", "ATTENDEE")
    assert _properties(stored, *kept) == _properties(written, *kept)
    assert len(_properties(written, *kept)) == 5
    # a REST change of the place and the categories is written into the client's text
    moved = api.patch(
        f"/api/v1/appointments/{item['id']}", json={"meta": {"location": "Shop, 5 Elm St", "categories": ["Repair"]}}
    )
    assert moved.status_code == 200, moved.text
    stored = fitter_calendar.event_by_uid("fields@client").data
    assert _properties(stored, "LOCATION", "CATEGORIES") == [
        ("LOCATION", "Shop, 5 Elm St", []),
        ("CATEGORIES", "Repair", []),
    ]
    assert _properties(stored, "ORGANIZER", "ATTENDEE") == _properties(written, "ORGANIZER", "ATTENDEE")
    # the client drops what it no longer has: so does the appointment
    caldav_event = fitter_calendar.event_by_uid("fields@client")
    caldav_event.data = denver_event(
        "fields@client", denver_at(fitter.day, 10), lines="X-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
    )
    caldav_event.save()
    after = api.get(f"/api/v1/appointments/{item['id']}").json()
    assert not {k for k in EXPECTED_META if k in after["meta"]}


@pytest.mark.usefixtures("written")
def test_client_fields_travel_to_feeds_by_privacy_and_to_the_canonical_export(
    live: LiveServer, fitter_calendar: caldav.Calendar, fitter: Fitter
) -> None:
    api, calendar_id, day = fitter.api, fitter.calendar_id, fitter.day
    emails = ("frank@example.com", "jane.roe@example.com", "john.doe@example.com")
    full = _feed(live, fitter, "full")
    assert "LOCATION:Main St 1\\, Denver" in full and "CATEGORIES:Fitting,Home visit" in full
    assert 'ORGANIZER;CN="Frank Fitter":mailto:frank@example.com' in full
    assert 'ATTENDEE;CN="Jane Roe":mailto:jane.roe@example.com' in full
    assert 'ATTENDEE;CN="John Doe";X-GUEST-ID=cust-john:mailto:john.doe@example.com' in full
    minimal = _feed(live, fitter, "minimal")
    assert "LOCATION:Main St 1\\, Denver" in minimal  # the place, as for any appointment at minimal
    for text in (minimal, _feed(live, fitter, "busy")):
        assert not any(e in text for e in emails)
        assert "CATEGORIES" not in text and "ORGANIZER" not in text and "ATTENDEE" not in text
        assert "Jane" not in text and "John" not in text and "Frank" not in text
    exported = api.get("/api/v1/export/canonical", params={"calendar_id": calendar_id})
    assert exported.status_code == 200, exported.text
    (mine,) = [i for i in exported.json()["items"] if i["meta"].get("ical_uid") == "fields@client"]
    assert {k: mine["meta"].get(k) for k in EXPECTED_META} == EXPECTED_META
    # importing it again changes nothing: the canonical format keeps them
    imported = api.post("/api/v1/import/canonical", json=[mine])
    assert imported.status_code == 200, imported.text
    assert [r["status"] for r in imported.json()["results"]] == ["unchanged"]
    # and a new appointment imported from it carries them as well
    meta = {k: v for k, v in mine["meta"].items() if k != "ical_uid"}  # another event: its own UID
    copy = {**mine, "id": "6f1c2d3e-0000-4000-8000-0000000000c1", "meta": meta}
    copy["date_start"], copy["date_end"] = iso(denver_at(day, 15)), iso(denver_at(day, 16))
    created = api.post("/api/v1/import/canonical", json=[copy])
    assert [r["status"] for r in created.json()["results"]] == ["created"], created.text
    again = api.get(f"/api/v1/appointments/{copy['id']}")
    assert again.status_code == 200, again.text
    assert {k: again.json()["meta"].get(k) for k in EXPECTED_META} == EXPECTED_META
    # its CalDAV item (rendered here, not written by a client) carries them too, the guest once
    item_text = fitter_calendar.event_by_uid(copy["id"]).data
    assert _properties(item_text, "ORGANIZER", "ATTENDEE") == [
        ("ORGANIZER", "mailto:frank@example.com", [("CN", "Frank Fitter")]),
        ("ATTENDEE", "mailto:jane.roe@example.com", [("CN", "Jane Roe")]),
        ("ATTENDEE", "mailto:john.doe@example.com", [("CN", "John Doe"), ("X-GUEST-ID", "cust-john")]),
    ]
    assert _properties(item_text, "LOCATION", "CATEGORIES") == [
        ("LOCATION", "Main St 1, Denver", []),
        ("CATEGORIES", "Fitting,Home visit", []),
    ]


def _series(uid: str, day: date) -> str:
    """Daily x 3 follow-ups at 09:00, the 2nd moved to 14:00 with its own title, notes and place."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//fields//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:Daily check\r\nLOCATION:Home\r\n"
        f"DTSTART;TZID=America/Denver:{denver_at(day, 9):{LOCAL}}\r\n"
        f"DTEND;TZID=America/Denver:{denver_at(day, 10):{LOCAL}}\r\n"
        "RRULE:FREQ=DAILY;COUNT=3\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\nEND:VEVENT\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"RECURRENCE-ID;TZID=America/Denver:{denver_at(day + timedelta(days=1), 9):{LOCAL}}\r\n"
        f"DTSTART;TZID=America/Denver:{denver_at(day + timedelta(days=1), 14):{LOCAL}}\r\n"
        f"DTEND;TZID=America/Denver:{denver_at(day + timedelta(days=1), 15):{LOCAL}}\r\n"
        "SUMMARY:Check at the shop\r\nDESCRIPTION:Bring the charger\r\nLOCATION:Shop\r\n"
        "X-APPOINTMENT-TYPE:FOLLOW_UP\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_an_override_carries_its_own_title_into_rest_and_feeds(
    live: LiveServer, fitter_calendar: caldav.Calendar, fitter: Fitter
) -> None:
    api, calendar_id, day = fitter.api, fitter.calendar_id, fitter.day
    fitter_calendar.save_event(_series("series@client", day))
    item = by_uid(api, calendar_id, "series@client")
    (override,) = item["meta"]["recurrence"]["overrides"]
    assert (override["name"], override["description"], override["location"]) == (
        "Check at the shop",
        "Bring the charger",
        "Shop",
    )
    window = {
        "calendar_id": calendar_id,
        "from": iso(denver_at(day, 0)),
        "to": iso(denver_at(day + timedelta(days=4), 0)),
    }
    expanded = api.get("/api/v1/appointments", params={**window, "expand": "true"})
    assert expanded.status_code == 200, expanded.text
    assert [(o["name"], o["description"], o["meta"]["location"]) for o in expanded.json()["items"]] == [
        ("Daily check", None, "Home"),
        ("Check at the shop", "Bring the charger", "Shop"),
        ("Daily check", None, "Home"),
    ]
    rid = denver_at(day + timedelta(days=1), 9).astimezone(UTC)
    shown = {}
    for privacy in ("full", "minimal", "busy"):
        calendar = icalendar.Calendar.from_ical(_feed(live, fitter, privacy))
        (moved,) = [e for e in calendar.walk("VEVENT") if e.get("RECURRENCE-ID") is not None]
        assert moved.decoded("RECURRENCE-ID").astimezone(UTC) == rid
        shown[privacy] = (str(moved["SUMMARY"]), str(moved.get("LOCATION")), str(moved.get("DESCRIPTION")))
    assert shown == {
        "full": ("Check at the shop", "Shop", "Bring the charger"),
        "minimal": ("Follow-up", "Shop", "None"),
        "busy": ("Busy", "None", "None"),
    }
