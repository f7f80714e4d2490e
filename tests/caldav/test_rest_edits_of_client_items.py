"""A REST edit of an item a CalDAV client (python-caldav) wrote means the same on every channel and loses nothing the
client wrote, on SQLite and PostgreSQL:

- a guest removed or replaced over REST is gone from ``meta.attendees`` (REST) and the ``full`` feed as from the item,
  while attendees that are no guest (a colleague) stay;
- a REST change of one field (of the series, or of one overridden occurrence) leaves the client's SUMMARY and
  DESCRIPTION as written, though the canonical model keeps them cut to 255 and 8,000 characters (docs/caldav.md)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import caldav
import icalendar
import pytest

from tests.caldav.support import LOCAL, by_uid, denver_at, denver_event, new_feed, seen_guest, tuesday_ahead
from tests.conftest import People
from tests.support.factories import iso
from tests.support.live import Api, LiveServer

WALTER = "ATTENDEE;CN=Walter Brennan;X-GUEST-ID=cust-1002:mailto:walter@example.com\r\n"
COLLEAGUE = "ATTENDEE;CN=Clara Colleague;PARTSTAT=ACCEPTED:mailto:clara@example.com\r\n"
WALTER_META = {"name": "Walter Brennan", "email": "walter@example.com", "guest_id": "cust-1002"}
CLARA_META = {"name": "Clara Colleague", "email": "clara@example.com"}


def _event(uid: str, start: datetime, *, summary: str = "Fitting", lines: str = "") -> str:
    return denver_event(uid, start, summary=summary, lines=f"X-APPOINTMENT-TYPE:FOLLOW_UP\r\n{lines}")


def _vevent(calendar: caldav.Calendar, uid: str) -> Any:
    (event,) = icalendar.Calendar.from_ical(calendar.event_by_uid(uid).data).events
    return event


def _attendee_props(event: Any) -> list[Any]:
    found = event.get("ATTENDEE", [])
    return list(found) if isinstance(found, list) else [found]


def _attendees(event: Any) -> list[str]:
    return [str(a) for a in _attendee_props(event)]


def _full_feed(live: LiveServer, api: Api, calendar_id: str) -> str:
    return new_feed(live, api, calendar_id, "full").text.replace("\r\n ", "")


@pytest.fixture
def day() -> date:
    return tuesday_ahead()


def test_a_guest_removed_or_replaced_over_rest_is_gone_from_every_channel(
    live: LiveServer, fitter_api: Api, people: People, fitter_calendar: caldav.Calendar, day: date
) -> None:
    api, calendar_id = fitter_api, people.fitter.calendar_id or ""
    seen_guest(api, calendar_id, day, {"id": "cust-1002", "first_name": "Walter", "last_name": "Brennan"})
    fitter_calendar.save_event(_event("removed@client", denver_at(day, 10), lines=WALTER + COLLEAGUE))
    fitter_calendar.save_event(_event("replaced@client", denver_at(day, 12), lines=WALTER))
    removed, replaced = by_uid(api, calendar_id, "removed@client"), by_uid(api, calendar_id, "replaced@client")
    for item in (removed, replaced):
        assert [g["id"] for g in item["guests"]] == ["cust-1002"]
    assert removed["meta"]["attendees"] == [WALTER_META, CLARA_META]
    assert replaced["meta"]["attendees"] == [WALTER_META]
    assert "walter@example.com" in _full_feed(live, api, calendar_id)

    gone = api.patch(f"/api/v1/appointments/{removed['id']}", json={"guests": []})
    assert gone.status_code == 200, gone.text
    other = {"id": "cust-2001", "first_name": "Greta", "last_name": "Gardner"}
    swapped = api.patch(f"/api/v1/appointments/{replaced['id']}", json={"guests": [other]})
    assert swapped.status_code == 200, swapped.text

    # REST: the guest and the attendee that is the guest are gone; the colleague stays
    for answer in (gone.json(), api.get(f"/api/v1/appointments/{removed['id']}").json()):
        assert answer["guests"] == []
        assert answer["meta"]["attendees"] == [CLARA_META]
    for answer in (swapped.json(), api.get(f"/api/v1/appointments/{replaced['id']}").json()):
        assert [g["id"] for g in answer["guests"]] == ["cust-2001"]
        assert not answer["meta"].get("attendees")
    # the feed at full privacy: no Walter anywhere, the colleague still there
    feed = _full_feed(live, api, calendar_id)
    assert "walter@example.com" not in feed
    assert 'ATTENDEE;CN="Clara Colleague":mailto:clara@example.com' in feed
    for uid in ("removed@client", "replaced@client"):
        (shown,) = [e for e in icalendar.Calendar.from_ical(feed).events if str(e["UID"]) == uid]
        assert "Walter" not in shown.to_ical().decode()
    # the CalDAV items: Walter's ATTENDEE gone, the colleague's kept as written, the new guest added
    assert _attendees(_vevent(fitter_calendar, "removed@client")) == ["mailto:clara@example.com"]
    assert _attendees(_vevent(fitter_calendar, "replaced@client")) == ["urn:x-guest:cust-2001"]
    # and the phone saving the item it reads back changes nothing
    for uid, appointment_id in (("removed@client", removed["id"]), ("replaced@client", replaced["id"])):
        before = api.get(f"/api/v1/appointments/{appointment_id}").json()
        event = fitter_calendar.event_by_uid(uid)
        event.data = event.data
        event.save()
        after = api.get(f"/api/v1/appointments/{appointment_id}").json()
        assert (after["guests"], after["meta"].get("attendees")) == (before["guests"], before["meta"].get("attendees"))


#: 1,000 characters (no character iCalendar escapes, no blank at either end).
LONG_SUMMARY = ("Fitting and follow-up " * 50)[:999] + "!"
#: 200,000 characters, over several lines.
LONG_DESCRIPTION = "\n".join(f"Note {i:05d}: " + "x" * 90 for i in range(2000))[:200_000]


def _escaped(text: str) -> str:
    return text.replace("\n", "\\n")


def test_a_rest_change_of_one_field_keeps_the_clients_long_texts(
    fitter_api: Api, people: People, fitter_calendar: caldav.Calendar, day: date
) -> None:
    api, calendar_id = fitter_api, people.fitter.calendar_id or ""
    long_lines = f"DESCRIPTION:{_escaped(LONG_DESCRIPTION)}\r\n"
    fitter_calendar.save_event(_event("summary@client", denver_at(day, 10), summary=LONG_SUMMARY, lines=long_lines))
    fitter_calendar.save_event(_event("notes@client", denver_at(day, 12), summary=LONG_SUMMARY, lines=long_lines))
    first, second = by_uid(api, calendar_id, "summary@client"), by_uid(api, calendar_id, "notes@client")
    for item in (first, second):  # the canonical model keeps them cut (docs/caldav.md)
        assert (item["name"], item["description"]) == (LONG_SUMMARY[:255], LONG_DESCRIPTION[:8000])

    # the notes changed over REST (the name sent back as REST shows it): the client's SUMMARY stays whole
    edited = api.patch(f"/api/v1/appointments/{first['id']}", json={"name": first["name"], "description": "x"})
    assert edited.status_code == 200, edited.text
    event = _vevent(fitter_calendar, "summary@client")
    assert (str(event["SUMMARY"]), str(event["DESCRIPTION"])) == (LONG_SUMMARY, "x")
    # the name changed over REST: the client's DESCRIPTION stays whole
    renamed = api.patch(f"/api/v1/appointments/{second['id']}", json={"name": "x"})
    assert renamed.status_code == 200, renamed.text
    event = _vevent(fitter_calendar, "notes@client")
    assert (str(event["SUMMARY"]), str(event["DESCRIPTION"])) == ("x", LONG_DESCRIPTION)
    # an edit of anything else (the times) keeps both
    later = {"date_start": iso(denver_at(day, 14)), "date_end": iso(denver_at(day, 15))}
    moved = api.patch(f"/api/v1/appointments/{second['id']}", json=later)
    assert moved.status_code == 200, moved.text
    event = _vevent(fitter_calendar, "notes@client")
    assert (str(event["SUMMARY"]), str(event["DESCRIPTION"])) == ("x", LONG_DESCRIPTION)
    assert event.decoded("DTSTART") == denver_at(day, 14)
    # REST still shows the cut texts, unchanged by the edits
    shown = api.get(f"/api/v1/appointments/{second['id']}").json()
    assert (shown["name"], shown["description"]) == ("x", LONG_DESCRIPTION[:8000])


def test_a_rest_move_of_one_occurrence_keeps_its_long_texts(
    fitter_api: Api, people: People, fitter_calendar: caldav.Calendar, day: date
) -> None:
    """The same for an overridden occurrence's own SUMMARY and DESCRIPTION when REST moves that occurrence."""
    api, calendar_id = fitter_api, people.fitter.calendar_id or ""
    notes = LONG_DESCRIPTION[:20_000]
    second = day + timedelta(days=1)
    override = (
        f"BEGIN:VEVENT\r\nUID:series@client\r\nDTSTAMP:20261101T000000Z\r\n"
        f"RECURRENCE-ID;TZID=America/Denver:{denver_at(second, 9):{LOCAL}}\r\n"
        f"DTSTART;TZID=America/Denver:{denver_at(second, 11):{LOCAL}}\r\n"
        f"DTEND;TZID=America/Denver:{denver_at(second, 12):{LOCAL}}\r\n"
        f"SUMMARY:{LONG_SUMMARY}\r\nDESCRIPTION:{_escaped(notes)}\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\nEND:VEVENT\r\n"
    )
    series = _event("series@client", denver_at(day, 9), summary="Daily check", lines="RRULE:FREQ=DAILY;COUNT=3\r\n")
    fitter_calendar.save_event(series.replace("END:VCALENDAR", override + "END:VCALENDAR"))
    item = by_uid(api, calendar_id, "series@client")
    (own,) = item["meta"]["recurrence"]["overrides"]
    assert (own["name"], own["description"]) == (LONG_SUMMARY[:255], notes[:8000])

    moved = api.patch(
        f"/api/v1/appointments/{item['id']}/occurrences/{own['recurrence_id']}",
        json={"date_start": iso(denver_at(second, 15)), "date_end": iso(denver_at(second, 16))},
    )
    assert moved.status_code == 200, moved.text
    text = fitter_calendar.event_by_uid("series@client").data
    (shown,) = [e for e in icalendar.Calendar.from_ical(text).walk("VEVENT") if e.get("RECURRENCE-ID") is not None]
    assert shown.decoded("DTSTART") == denver_at(second, 15)
    assert (str(shown["SUMMARY"]), str(shown["DESCRIPTION"])) == (LONG_SUMMARY, notes)
