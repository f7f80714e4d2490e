"""A series an Outlook client writes with a Windows TZID (``Eastern Standard Time``) and its own VTIMEZONE is
expanded in THAT zone on every channel: availability, REST ``?expand=true`` and the feed (RRULE with an IANA
TZID and its VTIMEZONE), also after a REST change re-rendered its item. Over python-caldav into a calendar in
Europe/Berlin, whose DST begins two weeks after New York's: expanded in the calendar's zone (as before), the
two occurrences between the changes were an hour late. SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar

from tests.caldav.conftest import client_for
from tests.caldav.test_series_channels import feed_occurrences, slot_starts
from tests.conftest import People
from tests.support.factories import iso
from tests.support.live import LiveServer
from tests.support.migrations import replay

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
#: Outlook's VTIMEZONE for "Eastern Standard Time" (as Outlook 16 writes it).
OUTLOOK_EASTERN = (
    "BEGIN:VTIMEZONE\r\nTZID:Eastern Standard Time\r\n"
    "BEGIN:STANDARD\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\n"
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=11\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\n"
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=2SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
)


def _us_dst_start() -> date:
    """The next second Sunday of March at least ten days ahead (New York's change to daylight time)."""
    today = datetime.now(UTC).date()
    for year in (today.year, today.year + 1):
        first = date(year, 3, 1)
        sunday = first + timedelta(days=(6 - first.weekday()) % 7 + 7)
        if sunday - today >= timedelta(days=10):
            return sunday
    raise AssertionError("unreachable")


def _outlook_series(uid: str, first: date) -> str:
    stamp = f"{first:%Y%m%d}"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\n"
        + OUTLOOK_EASTERN
        + f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=Eastern Standard Time:{stamp}T090000\r\nDTEND;TZID=Eastern Standard Time:{stamp}T100000\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Weekly check (NY)\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_an_outlook_series_is_expanded_in_its_own_zone_on_every_channel(live: LiveServer, people: People) -> None:
    berlin = people.other_fitter
    calendar_id = berlin.calendar_id or ""
    admin = live.client(people.admin.token)
    rules = {"weekly_hours": {"tue": [{"start": "07:00", "end": "20:00"}]}, "horizon_days": 400}
    assert admin.put(f"/api/v1/calendars/{calendar_id}/availability-rules", json=rules).status_code == 200
    sunday = _us_dst_start()
    first = sunday - timedelta(days=12)  # a Tuesday; the 3rd and 4th occurrences fall before Berlin's change
    tuesdays = [first + timedelta(weeks=n) for n in range(4)]
    expected = [datetime.combine(day, time(9), tzinfo=NEW_YORK).astimezone(UTC) for day in tuesdays]
    assert [e.hour for e in expected] == [14, 14, 13, 13]  # 09:00 in New York, across its change
    (calendar,) = client_for(live, berlin.username, berlin.password).principal().calendars()
    calendar.save_event(_outlook_series("outlook-weekly@client", first))
    api = live.client(berlin.token)

    def check(after: str) -> None:
        # availability: each Tuesday the hour of the occurrence is taken, the other hour is free
        for day, start in zip(tuesdays, expected, strict=True):
            low = datetime.combine(day, time(0), tzinfo=BERLIN)
            slots = slot_starts(api, calendar_id, low, low + timedelta(days=1))
            other = start + timedelta(hours=1 if start.hour == 13 else -1)
            assert (start in slots, other in slots) == (False, True), (after, day)
        # REST: the series' zone, and its occurrences expanded in a window
        window = {
            "calendar_id": calendar_id,
            "from": iso(datetime.combine(first, time(0), tzinfo=BERLIN)),
            "to": iso(datetime.combine(tuesdays[-1] + timedelta(days=1), time(0), tzinfo=BERLIN)),
        }
        listed = api.get("/api/v1/appointments", params={**window, "expand": "true"})
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert {i["meta"]["recurrence"]["timezone"] for i in items} == {"America/New_York"}, after
        assert [i["date_start"] for i in items] == [iso(e).replace("Z", ".000Z") for e in expected], after
        # the feed: the series with an IANA TZID and its VTIMEZONE, read alike by icalendar + recurring-ical-events
        issued = api.post(f"/api/v1/calendars/{calendar_id}/feeds", json={"name": "outlook", "privacy": "busy"})
        assert issued.status_code == 201, issued.text
        feed = live.client().get(f"/feeds/{issued.json()['secret']}.ics")
        assert feed.status_code == 200, feed.text
        text = feed.text.replace("\r\n ", "")
        assert f"DTSTART;TZID=America/New_York:{first:%Y%m%d}T090000" in text, after
        assert "TZID:America/New_York" in text and "RRULE:FREQ=WEEKLY;COUNT=4" in text, after
        low = datetime.combine(first, time(0), tzinfo=UTC)
        got = feed_occurrences(feed.content, low, low + timedelta(days=30))
        assert [(uid, begin) for uid, _, begin, _ in got] == [("outlook-weekly@client", e) for e in expected], after

    check("as written")
    (item,) = api.get("/api/v1/appointments", params={"calendar_id": calendar_id}).json()["items"]
    renamed = api.patch(f"/api/v1/appointments/{item['id']}", json={"name": "Weekly check (renamed)"})
    assert renamed.status_code == 200, renamed.text
    # the re-rendered item keeps the client's zone (its TZID and VTIMEZONE), so the phone's series stays put
    stored = calendar.event_by_uid("outlook-weekly@client").data
    (event,) = icalendar.Calendar.from_ical(stored).walk("VEVENT")
    assert event["DTSTART"].params["TZID"] == "Eastern Standard Time" and "Weekly check (renamed)" in stored
    assert event.decoded("DTSTART").astimezone(UTC) == expected[0]
    check("after a REST change")


def test_stored_items_give_show_as_and_series_zones_in_the_migration(live: LiveServer, people: People) -> None:
    """Appointments written before (no ``meta.show_as`` for a transparent item, a null series zone for an Outlook
    series) get them from their stored items when the database is upgraded; their versions move on."""
    berlin = people.other_fitter
    (calendar,) = client_for(live, berlin.username, berlin.password).principal().calendars()
    first = _us_dst_start() - timedelta(days=12)
    calendar.save_event(_outlook_series("outlook-old@client", first))
    calendar.save_event(
        _outlook_series("phone-old@client", first + timedelta(days=1))
        .replace("RRULE:FREQ=WEEKLY;COUNT=4\r\n", "TRANSP:TRANSPARENT\r\n")
        .replace("Weekly check (NY)", "By phone")
    )
    api = live.client(berlin.token)
    listed = api.get("/api/v1/appointments", params={"calendar_id": berlin.calendar_id}).json()["items"]
    by_uid = {i["meta"]["ical_uid"]: i for i in listed}
    series, phone = by_uid["outlook-old@client"], by_uid["phone-old@client"]
    assert series["meta"]["recurrence"]["timezone"] == "America/New_York" and phone["meta"]["show_as"] == "free"
    with live.runtime.uow() as uow:  # as they were stored before
        for appointment_id in (series["id"], phone["id"]):
            row = uow.appointments.get(appointment_id)
            assert row is not None
            meta = {k: v for k, v in row.meta_extra.items() if k not in ("show_as", "timezone")}
            if "recurrence" in meta:
                meta["recurrence"] = {**meta["recurrence"], "timezone": None}
            row.meta_extra = meta
        uow.commit()
    before = {i: api.get(f"/api/v1/appointments/{i}") for i in (series["id"], phone["id"])}
    assert before[series["id"]].json()["meta"]["recurrence"]["timezone"] is None
    assert "show_as" not in before[phone["id"]].json()["meta"]
    replay(live.runtime.engine, "0012")
    after = {i: api.get(f"/api/v1/appointments/{i}") for i in (series["id"], phone["id"])}
    assert after[series["id"]].json()["meta"]["recurrence"] == series["meta"]["recurrence"]
    assert after[phone["id"]].json()["meta"]["show_as"] == "free"
    assert all(after[i].headers["ETag"] != before[i].headers["ETag"] for i in after)


#: Outlook's VTIMEZONE for "W. Europe Standard Time".
OUTLOOK_W_EUROPE = (
    "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\n"
    "BEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
)


def test_an_override_in_a_windows_zone_keeps_its_time_and_title(live: LiveServer, people: People) -> None:
    """A weekly series Outlook writes in ``W. Europe Standard Time`` into the Denver fitter's calendar, its second
    occurrence moved to 11:00 with its own SUMMARY (RECURRENCE-ID in the Windows TZID), across the weeks between the
    US and the EU clock changes: REST ``?expand=true`` and the feed show each occurrence at 09:00 Berlin (the moved
    one at 11:00, with its own title), also after a REST rename re-rendered the item."""
    first = _us_dst_start() + timedelta(days=2)  # a Tuesday: Denver has changed, Berlin changes two weeks later
    days = [first + timedelta(weeks=n) for n in range(4)]
    hours = [9, 11, 9, 9]
    expected = [datetime.combine(d, time(h), tzinfo=BERLIN).astimezone(UTC) for d, h in zip(days, hours, strict=True)]
    # Berlin's change falls before the 4th (Denver's offset stays: in its zone all would be at 08:00 UTC)
    assert (expected[0].hour, expected[-1].hour) == (8, 7)
    weu = "W. Europe Standard Time"
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\n"
        + OUTLOOK_W_EUROPE
        + f"BEGIN:VEVENT\r\nUID:weu-weekly@client\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID={weu}:{first:%Y%m%d}T090000\r\nDTEND;TZID={weu}:{first:%Y%m%d}T100000\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Weekly check (Berlin)\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\nEND:VEVENT\r\n"
        f"BEGIN:VEVENT\r\nUID:weu-weekly@client\r\nDTSTAMP:20261101T000000Z\r\n"
        f"RECURRENCE-ID;TZID={weu}:{days[1]:%Y%m%d}T090000\r\n"
        f"DTSTART;TZID={weu}:{days[1]:%Y%m%d}T110000\r\nDTEND;TZID={weu}:{days[1]:%Y%m%d}T120000\r\n"
        "SUMMARY:Check at the shop\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    fitter = people.fitter
    (calendar,) = client_for(live, fitter.username, fitter.password).principal().calendars()
    calendar.save_event(text)
    api, calendar_id = live.client(fitter.token), fitter.calendar_id or ""
    titles = ["Weekly check (Berlin)", "Check at the shop", "Weekly check (Berlin)", "Weekly check (Berlin)"]

    def check(after: str, series_title: str) -> None:
        shown = [series_title if t == titles[0] else t for t in titles]
        low = datetime.combine(first, time(0), tzinfo=UTC)
        window = {"calendar_id": calendar_id, "from": iso(low), "to": iso(low + timedelta(days=30))}
        listed = api.get("/api/v1/appointments", params={**window, "expand": "true"})
        assert listed.status_code == 200, listed.text
        got = [(i["date_start"], i["name"]) for i in listed.json()["items"]]
        assert got == [(iso(e).replace("Z", ".000Z"), t) for e, t in zip(expected, shown, strict=True)], after
        issued = api.post(f"/api/v1/calendars/{calendar_id}/feeds", json={"name": after, "privacy": "full"})
        assert issued.status_code == 201, issued.text
        feed = live.client().get(f"/feeds/{issued.json()['secret']}.ics")
        assert feed.status_code == 200, feed.text
        occurrences = feed_occurrences(feed.content, low, low + timedelta(days=30))
        assert [(title, begin) for _, title, begin, _ in occurrences] == list(zip(shown, expected, strict=True)), after

    check("as written", titles[0])
    (item,) = api.get("/api/v1/appointments", params={"calendar_id": calendar_id}).json()["items"]
    renamed = api.patch(f"/api/v1/appointments/{item['id']}", json={"name": "Weekly check (renamed)"})
    assert renamed.status_code == 200, renamed.text
    check("after a REST change", "Weekly check (renamed)")
