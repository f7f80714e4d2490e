"""One calendar as a fitter's phone fills it over CalDAV (python-caldav): an all-day event, a "Lunch" event (no
customer, no type: a busy block), a transparent walk, a transparent follow-up done by phone (``meta.show_as``
free: in the feed, TRANSPARENT), a daily series of follow-ups and a weekly "Team call" (a series of busy blocks),
each with a moved occurrence and an EXDATE, and a weekly series Outlook wrote in ``Eastern Standard Time`` with
its own VTIMEZONE (in the feed: an IANA TZID with its VTIMEZONE).
Its feed gives the same occurrences at the same times in icalendar + recurring-ical-events, vobject, the ``ical``
package and ical.js, on SQLite and PostgreSQL; and the calendar page (Chromium) shows each occurrence on its day
from three viewer zones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import caldav
import pytest

from tests.caldav.test_series_channels import override_ics, series_ics
from tests.caldav.test_windows_zone_series import OUTLOOK_EASTERN
from tests.conftest import People
from tests.feeds.occurrences import read_all
from tests.support.browser import chromium
from tests.support.live import LiveServer

DENVER = ZoneInfo("America/Denver")
NEW_YORK = ZoneInfo("America/New_York")
ZONES = ("Asia/Tokyo", "America/Denver", "Pacific/Honolulu")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


def _monday_ahead() -> date:
    today = datetime.now(DENVER).date()
    return today + timedelta(days=21 - today.weekday())


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=DENVER)


def _single(uid: str, body: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//series//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n{body}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _fill(calendar: caldav.Calendar, monday: date) -> list[tuple[str, Any, Any]]:
    """Write the calendar; return the occurrences expected in the two weeks from ``monday``: (UID, start, end),
    a date for all-day, else the instant."""
    day = lambda n: monday + timedelta(days=n)  # noqa: E731
    stamp = lambda d, h: f"{d:%Y%m%d}T{h:02d}0000"  # noqa: E731
    calendar.save_event(
        _single(
            "allday@client",
            f"DTSTART;VALUE=DATE:{day(3):%Y%m%d}\r\nDTEND;VALUE=DATE:{day(4):%Y%m%d}\r\nSUMMARY:Trade fair\r\n",
        )
    )
    calendar.save_event(
        _single(
            "lunch@client",
            f"DTSTART;TZID=America/Denver:{stamp(day(2), 12)}\r\nDTEND;TZID=America/Denver:{stamp(day(2), 13)}\r\n"
            "SUMMARY:Lunch\r\n",
        )
    )
    calendar.save_event(
        _single(
            "walk@client",
            f"DTSTART;TZID=America/Denver:{stamp(day(1), 15)}\r\nDTEND;TZID=America/Denver:{stamp(day(1), 16)}\r\n"
            "SUMMARY:Walk\r\nTRANSP:TRANSPARENT\r\n",
        )
    )
    calendar.save_event(
        series_ics(
            "daily@client",
            day(0),
            summary="Daily check",
            hour=9,
            rule="FREQ=DAILY;COUNT=5",
            extra=f"X-APPOINTMENT-TYPE:FOLLOW_UP\r\nEXDATE;TZID=America/Denver:{stamp(day(2), 9)}\r\n",
            tail=override_ics("daily@client", day(1), day(1), 9, 14, "Daily check"),
        )
    )
    first = monday - timedelta(weeks=8)
    calendar.save_event(
        series_ics(
            "weekly@client",
            first,
            summary="Team call",
            hour=10,
            rule="FREQ=WEEKLY;BYDAY=MO,FR",
            extra=f"EXDATE;TZID=America/Denver:{stamp(day(7), 10)}\r\n",
            tail=override_ics("weekly@client", day(0), day(1), 10, 16, "Team call"),
        )
    )
    calendar.save_event(
        _single(
            "phone-visit@client",
            f"DTSTART;TZID=America/Denver:{stamp(day(2), 15)}\r\nDTEND;TZID=America/Denver:{stamp(day(2), 16)}\r\n"
            "SUMMARY:Follow-up by phone\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\nTRANSP:TRANSPARENT\r\n",
        )
    )
    calendar.save_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\n"
        + OUTLOOK_EASTERN
        + "BEGIN:VEVENT\r\nUID:outlook@client\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=Eastern Standard Time:{stamp(first, 11)}\r\n"
        f"DTEND;TZID=Eastern Standard Time:{stamp(first, 12)}\r\n"
        "RRULE:FREQ=WEEKLY;BYDAY=MO\r\nSUMMARY:Outlook review\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    hour = timedelta(hours=1)
    eastern = lambda d: datetime.combine(d, time(11), tzinfo=NEW_YORK)  # noqa: E731
    return [
        ("phone-visit@client", _at(day(2), 15), _at(day(2), 15) + hour),
        ("outlook@client", eastern(day(0)), eastern(day(0)) + hour),
        ("outlook@client", eastern(day(7)), eastern(day(7)) + hour),
        ("allday@client", day(3), day(4)),
        ("lunch@client", _at(day(2), 12), _at(day(2), 12) + hour),
        ("daily@client", _at(day(0), 9), _at(day(0), 9) + hour),
        ("daily@client", _at(day(1), 14), _at(day(1), 14) + hour),
        ("daily@client", _at(day(3), 9), _at(day(3), 9) + hour),
        ("daily@client", _at(day(4), 9), _at(day(4), 9) + hour),
        ("weekly@client", _at(day(1), 16), _at(day(1), 16) + hour),
        ("weekly@client", _at(day(4), 10), _at(day(4), 10) + hour),
        ("weekly@client", _at(day(11), 10), _at(day(11), 10) + hour),
    ]


def _wire(value: Any) -> str | int:
    return int(value.timestamp()) if isinstance(value, datetime) else value.isoformat()


def test_four_parsers_read_the_same_occurrences(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    monday = _monday_ahead()
    expected = _fill(fitter_calendar, monday)
    api = live.client(people.fitter.token)
    for privacy in ("full", "busy"):
        issued = api.post(
            f"/api/v1/calendars/{people.fitter.calendar_id}/feeds", json={"name": privacy, "privacy": privacy}
        )
        assert issued.status_code == 201, issued.text
        feed = live.client().get(f"/feeds/{issued.json()['secret']}.ics")
        assert feed.status_code == 200, feed.text
        low, high = _at(monday, 0).astimezone(UTC), _at(monday + timedelta(days=14), 0).astimezone(UTC)
        read = read_all(feed.content, low, high)
        reference = read["icalendar+recurring-ical-events"]
        for name, got in read.items():
            assert got == reference, f"{privacy}: {name} reads {got}, icalendar {reference}"
        assert sorted((u, s, e) for u, s, e, _ in reference) == sorted(
            (u, _wire(s), _wire(e)) for u, s, e in expected
        ), privacy
        text = feed.text.replace("\r\n ", "")
        assert "TZID:America/New_York" in text and "Eastern Standard Time" not in text, privacy
        visit = text[text.index("UID:phone-visit@client") :]
        assert visit[: visit.index("END:VEVENT")].count("TRANSP:TRANSPARENT") == 1, privacy
        titles = {u: t for u, _, _, t in reference}
        if privacy == "full":
            assert titles["daily@client"] == "Daily check" and titles["weekly@client"] == "Team call"
        else:
            assert "Daily check" not in feed.text and "Team call" not in feed.text and "Trade fair" not in feed.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_page_shows_each_occurrence_on_its_day_in_three_zones(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People, browser: Any
) -> None:
    monday = _monday_ahead()
    week_end = _at(monday + timedelta(days=7), 0)
    expected = [  # the week shown
        (uid, start, end)
        for uid, start, end in _fill(fitter_calendar, monday)
        if (start < week_end if isinstance(start, datetime) else start < week_end.date())
    ]
    api = live.client(people.fitter.token)
    ids = {
        a["meta"].get("ical_uid"): a["id"]
        for a in api.get(
            "/api/v1/appointments", params={"calendar_id": people.fitter.calendar_id, "kind": "all"}
        ).json()["items"]
    }
    issued = api.post(f"/api/v1/calendars/{people.fitter.calendar_id}/feeds", json={"name": "page", "privacy": "busy"})
    assert issued.status_code == 201, issued.text
    url = f"{live.base_url}/calendar/{issued.json()['secret']}?week={monday.isoformat()}"
    for zone in ZONES:
        viewer = ZoneInfo(zone)
        context = browser.new_context(timezone_id=zone, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url)
        if zone != "America/Denver":
            page.wait_for_url(f"**tz={zone.replace('/', '%2F')}*")
        assert page.locator("#calendar").get_attribute("data-timezone") == zone
        shown: dict[str, list[str]] = {}
        for uid, appointment_id in ids.items():
            timed = page.locator(f".blocks li[data-appointment='{appointment_id}']")
            all_day = page.locator(f"ol.allday li[data-appointment='{appointment_id}']")
            shown[uid] = sorted(
                [timed.nth(i).evaluate("e => e.closest('section.col').dataset.day") for i in range(timed.count())]
                + [all_day.nth(i).evaluate("e => e.closest('ol.allday').dataset.day") for i in range(all_day.count())]
            )
        want: dict[str, list[str]] = {}
        for uid, start, _ in expected:
            day = start.astimezone(viewer).date() if isinstance(start, datetime) else start
            want.setdefault(uid, []).append(day.isoformat())
        assert shown == {u: sorted(d) for u, d in want.items()}, zone
        context.close()
