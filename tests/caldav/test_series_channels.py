"""A series written by a CalDAV client (python-caldav) on every channel, on SQLite and PostgreSQL:
availability, the feed (RRULE, EXDATE, overrides, the client's UID) and REST (``meta.recurrence``,
``?expand=true``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import caldav
import icalendar
import recurring_ical_events

from tests.conftest import People
from tests.support.factories import iso
from tests.support.live import Api, LiveServer
from tests.support.migrations import replay

DENVER = ZoneInfo("America/Denver")


def _stamp(day: date, hour: int) -> str:
    return f"{day:%Y%m%d}T{hour:02d}0000"


def series_ics(uid: str, day: date, *, summary: str, hour: int, rule: str, extra: str = "", tail: str = "") -> str:
    """A recurring VEVENT in Denver time (one hour at ``hour``), ``extra`` lines in the master, ``tail``
    further VEVENTs (overrides)."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//series//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=America/Denver:{_stamp(day, hour)}\r\nDTEND;TZID=America/Denver:{_stamp(day, hour + 1)}\r\n"
        f"RRULE:{rule}\r\nSUMMARY:{summary}\r\n{extra}END:VEVENT\r\n{tail}END:VCALENDAR\r\n"
    )


def override_ics(uid: str, original: date, moved: date, hour: int, moved_hour: int, summary: str) -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"RECURRENCE-ID;TZID=America/Denver:{_stamp(original, hour)}\r\n"
        f"DTSTART;TZID=America/Denver:{_stamp(moved, moved_hour)}\r\n"
        f"DTEND;TZID=America/Denver:{_stamp(moved, moved_hour + 1)}\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\n"
    )


@dataclass
class Days:
    d0: date

    def at(self, offset: int, hour: int) -> datetime:
        return datetime.combine(self.d0 + timedelta(days=offset), time(hour), tzinfo=DENVER)


def future_tuesday() -> Days:
    today = datetime.now(DENVER).date()
    return Days(today + timedelta(days=14 + (1 - today.weekday()) % 7))


def write_daily_series(calendar: caldav.Calendar, days: Days) -> None:
    """Daily x 4 follow-ups at 09:00 from a Tuesday: the 2nd moved to 14:00, the 3rd removed (EXDATE); and a
    transparent daily x 3 at 11:00 ("Lunch walk", no customer, no type)."""
    d0 = days.d0
    calendar.save_event(
        series_ics(
            "daily-fitting@client",
            d0,
            summary="Daily check",
            hour=9,
            rule="FREQ=DAILY;COUNT=4",
            # a customer appointment (it names its type; without one it would be the fitter's busy block)
            extra=f"EXDATE;TZID=America/Denver:{_stamp(d0 + timedelta(days=2), 9)}\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\n",
            tail=override_ics("daily-fitting@client", d0 + timedelta(days=1), d0 + timedelta(days=1), 9, 14, "Moved"),
        )
    )
    calendar.save_event(
        series_ics(
            "walk@client", d0, summary="Lunch walk", hour=11, rule="FREQ=DAILY;COUNT=3", extra="TRANSP:TRANSPARENT\r\n"
        )
    )


def slot_starts(api: Api, calendar_id: str, start: datetime, end: datetime) -> set[datetime]:
    response = api.get(
        "/api/v1/availability",
        params={"calendar_id": calendar_id, "type": "FOLLOW_UP", "from": iso(start), "to": iso(end)},
    )
    assert response.status_code == 200, response.text
    return {datetime.fromisoformat(s["start_utc"].replace("Z", "+00:00")) for s in response.json()["slots"]}


def test_every_occurrence_of_a_short_series_blocks_availability(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    days = future_tuesday()
    write_daily_series(fitter_calendar, days)
    api = live.client(people.fitter.token)
    slots = slot_starts(api, people.fitter.calendar_id or "", days.at(0, 0), days.at(5, 0))
    free = {
        (offset, hour): days.at(offset, hour).astimezone(UTC) in slots for offset in range(4) for hour in (9, 11, 14)
    }
    assert free == {
        (0, 9): False,  # the first occurrence
        (0, 11): True,  # transparent: free time
        (0, 14): True,
        (1, 9): True,  # moved away from here ...
        (1, 11): True,
        (1, 14): False,  # ... to here
        (2, 9): True,  # EXDATE
        (2, 11): True,
        (2, 14): True,
        (3, 9): False,  # the 4th occurrence
        (3, 11): True,
        (3, 14): True,
    }


def test_a_series_begun_long_ago_blocks_this_week(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    days = future_tuesday()
    first = days.d0 - timedelta(weeks=52 * 3)  # weekly on Tuesdays for three years and more
    first -= timedelta(days=(first.weekday() - 1) % 7)
    fitter_calendar.save_event(series_ics("weekly@client", first, summary="Team call", hour=10, rule="FREQ=WEEKLY"))
    api = live.client(people.fitter.token)
    slots = slot_starts(api, people.fitter.calendar_id or "", days.at(0, 0), days.at(2, 0))
    assert days.at(0, 10).astimezone(UTC) not in slots
    assert days.at(1, 10).astimezone(UTC) in slots
    assert days.at(0, 12).astimezone(UTC) in slots


def feed_occurrences(body: bytes, start: datetime, end: datetime) -> list[tuple[str, str, datetime, datetime]]:
    """(UID, SUMMARY, start, end) of every occurrence in ``[start, end)``, as icalendar + recurring-ical-events
    expand the feed."""
    calendar = icalendar.Calendar.from_ical(body)
    found = []
    for event in recurring_ical_events.of(calendar).between(start, end):
        begin, finish = event.decoded("DTSTART"), event.decoded("DTEND")
        found.append((str(event["UID"]), str(event.get("SUMMARY")), begin.astimezone(UTC), finish.astimezone(UTC)))
    return sorted(found, key=lambda f: (f[2], f[0]))


def test_the_feed_carries_the_series_with_the_clients_uid(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    days = future_tuesday()
    write_daily_series(fitter_calendar, days)
    first = days.d0 - timedelta(weeks=60)
    fitter_calendar.save_event(series_ics("weekly@client", first, summary="Team call", hour=10, rule="FREQ=WEEKLY"))
    api = live.client(people.fitter.token)
    made_here = api.post(  # an appointment made through REST: its id is its UID on CalDAV and in the feed
        "/api/v1/appointments",
        json={
            "calendar": {"id": people.fitter.calendar_id},
            "date_start": iso(days.at(4, 12)),
            "date_end": iso(days.at(4, 13)),
            "name": "Visit",
            "meta": {"type": "FOLLOW_UP"},
        },
    )
    assert made_here.status_code == 201, made_here.text
    rest_id = made_here.json()["id"]
    assert f"UID:{rest_id}" in fitter_calendar.event_by_uid(rest_id).data
    expected = [
        ("daily-fitting@client", days.at(0, 9)),
        ("weekly@client", days.at(0, 10)),
        ("daily-fitting@client", days.at(1, 14)),  # the moved one
        ("daily-fitting@client", days.at(3, 9)),
        (rest_id, days.at(4, 12)),
    ]
    for privacy, titles in (("full", {"Daily check", "Moved", "Team call", "Visit"}), ("busy", {"Busy"})):
        issued = api.post(
            f"/api/v1/calendars/{people.fitter.calendar_id}/feeds", json={"name": privacy, "privacy": privacy}
        )
        assert issued.status_code == 201, issued.text
        feed = live.client().get(f"/feeds/{issued.json()['secret']}.ics")
        assert feed.status_code == 200, feed.text
        got = feed_occurrences(feed.content, days.at(0, 0), days.at(5, 0))
        assert [(uid, begin) for uid, _, begin, _ in got] == [(u, s.astimezone(UTC)) for u, s in expected], privacy
        assert all(end - begin == timedelta(hours=1) for _, _, begin, end in got)
        assert {title for _, title, _, _ in got} == titles, privacy  # the override too shows only what the level shows
        text = feed.text.replace("\r\n ", "")
        assert "RRULE:FREQ=DAILY;COUNT=4" in text and "RRULE:FREQ=WEEKLY" in text
        assert f"EXDATE;TZID=America/Denver:{_stamp(days.d0 + timedelta(days=2), 9)}" in text
        assert f"RECURRENCE-ID;TZID=America/Denver:{_stamp(days.d0 + timedelta(days=1), 9)}" in text
        assert "Lunch walk" not in text  # transparent, no customer, no type: free time, not an appointment


def test_rest_shows_the_series_rule_and_the_clients_uid(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    days = future_tuesday()
    write_daily_series(fitter_calendar, days)
    api = live.client(people.fitter.token)
    listed = api.get("/api/v1/appointments", params={"calendar_id": people.fitter.calendar_id})
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert item["meta"]["ical_uid"] == "daily-fitting@client"
    assert item["meta"]["recurrence"] == {
        "rrule": "FREQ=DAILY;COUNT=4",
        "timezone": "America/Denver",
        "exdates": [iso(days.at(2, 9)).replace("Z", ".000Z")],
        "rdates": [],
        "overrides": [
            {
                "recurrence_id": iso(days.at(1, 9)).replace("Z", ".000Z"),
                "date_start": iso(days.at(1, 14)).replace("Z", ".000Z"),
                "date_end": iso(days.at(1, 15)).replace("Z", ".000Z"),
                "cancelled": False,
                "name": "Moved",  # the override's own SUMMARY
            }
        ],
    }
    refused = api.patch(f"/api/v1/appointments/{item['id']}", json={"meta": {"recurrence": None}})
    assert refused.status_code == 422, refused.text
    assert {e["field"] for e in refused.json()["errors"]} == {"meta.recurrence"}
    # a REST change of what REST owns keeps the series, on CalDAV too
    renamed = api.patch(f"/api/v1/appointments/{item['id']}", json={"name": "Daily check (renamed)"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["meta"]["recurrence"] == item["meta"]["recurrence"]
    stored = fitter_calendar.event_by_uid("daily-fitting@client").data
    assert "RRULE:FREQ=DAILY;COUNT=4" in stored and "RECURRENCE-ID" in stored and "Daily check (renamed)" in stored
    # a client's change of the series only (one more EXDATE) is a change of the appointment
    event = fitter_calendar.event_by_uid("daily-fitting@client")
    event.data = event.data.replace(
        "RRULE:FREQ=DAILY;COUNT=4",
        f"RRULE:FREQ=DAILY;COUNT=4\r\nEXDATE;TZID=America/Denver:{_stamp(days.d0 + timedelta(days=3), 9)}",
    )
    event.save()
    again = api.get(f"/api/v1/appointments/{item['id']}").json()
    assert len(again["meta"]["recurrence"]["exdates"]) == 2


def test_rest_expands_occurrences_in_a_window_page_by_page(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    days = future_tuesday()
    write_daily_series(fitter_calendar, days)
    first = days.d0 - timedelta(weeks=52 * 3)
    first -= timedelta(days=(first.weekday() - 1) % 7)
    fitter_calendar.save_event(series_ics("weekly@client", first, summary="Team call", hour=10, rule="FREQ=WEEKLY"))
    api = live.client(people.fitter.token)
    calendar_id = people.fitter.calendar_id or ""
    single = api.post(
        "/api/v1/appointments",
        json={
            "calendar": {"id": calendar_id},
            "date_start": iso(days.at(2, 12)),
            "date_end": iso(days.at(2, 13)),
            "name": "Visit",
            "meta": {"type": "FOLLOW_UP"},
        },
    )
    assert single.status_code == 201, single.text
    # the weekly "Team call" names no customer and no type: a busy block, listed with kind=all
    window = {"calendar_id": calendar_id, "from": iso(days.at(0, 0)), "to": iso(days.at(5, 0)), "kind": "all"}
    items, cursor, pages = [], None, 0
    while True:
        params = {**window, "expand": "true", "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = api.get("/api/v1/appointments", params=params)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor, pages = response.json()["next_cursor"], pages + 1
        if cursor is None:
            break
    assert pages == 3
    ids = {i["meta"].get("ical_uid", i["id"]): i["id"] for i in items}
    ms = lambda d: iso(d).replace("Z", ".000Z")  # noqa: E731
    assert [(i["meta"].get("ical_uid", "rest"), i["date_start"], i["date_end"], i["recurrence_id"]) for i in items] == [
        ("daily-fitting@client", ms(days.at(0, 9)), ms(days.at(0, 10)), ms(days.at(0, 9))),
        ("weekly@client", ms(days.at(0, 10)), ms(days.at(0, 11)), ms(days.at(0, 10))),
        ("daily-fitting@client", ms(days.at(1, 14)), ms(days.at(1, 15)), ms(days.at(1, 9))),  # moved
        ("rest", ms(days.at(2, 12)), ms(days.at(2, 13)), None),
        ("daily-fitting@client", ms(days.at(3, 9)), ms(days.at(3, 10)), ms(days.at(3, 9))),
    ]
    assert len(set(ids.values())) == 3  # each occurrence carries its series' id
    # without expand the window lists each appointment once, the series begun years ago too
    plain = api.get("/api/v1/appointments", params=window).json()["items"]
    assert sorted(i["id"] for i in plain) == sorted(ids.values())
    weekly = next(i for i in plain if i["meta"].get("ical_uid") == "weekly@client")
    assert weekly["meta"]["recurrence"]["rrule"] == "FREQ=WEEKLY" and "recurrence_id" not in weekly
    # bounded: a window is required, and at most 92 days
    for params, field in (
        ({"calendar_id": calendar_id, "expand": "true", "to": iso(days.at(5, 0))}, "from"),
        ({**window, "expand": "true", "to": iso(days.at(100, 0))}, "to"),
    ):
        refused = api.get("/api/v1/appointments", params=params)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field]


def test_series_stored_before_get_their_rule_from_the_migration(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    """A series a client wrote before series were kept on appointments (no meta.recurrence) gets it from its
    stored item when the database is upgraded; its version moves on (feeds follow), its feed UID stays."""
    days = future_tuesday()
    write_daily_series(fitter_calendar, days)
    api = live.client(people.fitter.token)
    (item,) = api.get("/api/v1/appointments", params={"calendar_id": people.fitter.calendar_id}).json()["items"]
    with live.runtime.uow() as uow:
        row = uow.appointments.get(item["id"])
        assert row is not None
        row.meta_extra = {k: v for k, v in row.meta_extra.items() if k not in ("recurrence", "ical_uid")}
        uow.commit()
    before = api.get(f"/api/v1/appointments/{item['id']}")
    assert "recurrence" not in before.json()["meta"]
    replay(live.runtime.engine, "0011")
    after = api.get(f"/api/v1/appointments/{item['id']}")
    assert after.json()["meta"]["recurrence"] == item["meta"]["recurrence"]
    assert "ical_uid" not in after.json()["meta"]  # an existing appointment keeps the id as its feed UID
    assert after.headers["ETag"] != before.headers["ETag"]
