"""Helpers for the CalDAV tests: iCalendar bodies, raw DAV requests, the days they write on, feeds they read."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests

from tests.support.factories import iso
from tests.support.live import Api, LiveServer, loopback_session

__all__ = [
    "BASE",
    "DENVER",
    "LOCAL",
    "by_uid",
    "dav_session",
    "denver_at",
    "denver_event",
    "event_ics",
    "fmt",
    "follow_up_slots",
    "new_feed",
    "seen_guest",
    "tuesday_ahead",
]

BASE = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
#: The fitter's zone (``people.fitter``'s calendar).
DENVER = ZoneInfo("America/Denver")
#: A local time as iCalendar writes it after ``TZID=``.
LOCAL = "%Y%m%dT%H%M%S"


def tuesday_ahead() -> date:
    """A Tuesday in Denver two weeks or more ahead (a working day inside every window the tests ask for)."""
    today = datetime.now(DENVER).date()
    return today + timedelta(days=14 + (1 - today.weekday()) % 7)


def follow_up_slots(api: Api, calendar_id: str, day: date) -> list[tuple[datetime, datetime]]:
    """The FOLLOW_UP slots the availability API offers in the calendar on ``day`` (midnight to midnight, Denver)."""
    start = datetime.combine(day, time(0), tzinfo=DENVER)
    response = api.get(
        "/api/v1/availability",
        params={
            "calendar_id": calendar_id,
            "type": "FOLLOW_UP",
            "from": iso(start),
            "to": iso(start + timedelta(days=1)),
        },
    )
    assert response.status_code == 200, response.text
    return [
        (
            datetime.fromisoformat(s["date_start"].replace("Z", "+00:00")),
            datetime.fromisoformat(s["date_end"].replace("Z", "+00:00")),
        )
        for s in response.json()["slots"]
    ]


def new_feed(live: LiveServer, api: Api, calendar_id: str, privacy: str) -> requests.Response:
    """A feed of the calendar issued now at ``privacy`` (named after it), fetched once."""
    issued = api.post(f"/api/v1/calendars/{calendar_id}/feeds", json={"name": privacy, "privacy": privacy})
    assert issued.status_code == 201, issued.text
    feed = live.client().get(f"/feeds/{issued.json()['secret']}.ics")
    assert feed.status_code == 200, feed.text
    return feed


def fmt(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def event_ics(
    uid: str,
    *,
    summary: str = "Follow-up fitting",
    start: str = "20261201T090000",
    end: str = "20261201T100000",
    tzid: str | None = "America/Denver",
    extra: str = "",
    status: str | None = None,
    appointment_type: str | None = "FOLLOW_UP",
) -> str:
    """A VEVENT with a VALARM and X- property (things the canonical model does not carry).

    It is a customer appointment (``X-APPOINTMENT-TYPE``, FOLLOW_UP by default); ``appointment_type=None``
    leaves the type out, which (naming no customer either) makes it the fitter's busy block.
    """
    when = (
        f"DTSTART;TZID={tzid}:{start}\r\nDTEND;TZID={tzid}:{end}\r\n"
        if tzid
        else f"DTSTART:{start}Z\r\nDTEND:{end}Z\r\n"
    )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//caldav//EN\r\n"
        "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n{when}"
        f"SUMMARY:{summary}\r\n"
        + (f"STATUS:{status}\r\n" if status else "")
        + (f"X-APPOINTMENT-TYPE:{appointment_type}\r\n" if appointment_type else "")
        + "X-CLIENT-COLOR:teal\r\n"
        + extra
        + "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def dav_session(username: str, password: str) -> requests.Session:
    session = loopback_session()
    session.auth = (username, password)
    return session


_ = timedelta


def denver_at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=DENVER)


def denver_event(uid: str, start: datetime, *, summary: str = "Fitting", lines: str = "") -> str:
    """A one-hour VEVENT at ``start`` in Denver's zone, with the client's own ``lines``."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//client//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:{summary}\r\n"
        f"DTSTART;TZID=America/Denver:{start:{LOCAL}}\r\n"
        f"DTEND;TZID=America/Denver:{start + timedelta(hours=1):{LOCAL}}\r\n"
        f"{lines}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def seen_guest(api: Api, calendar_id: str, day: date, guest: dict[str, str]) -> None:
    """``guest`` becomes a customer seen in this calendar (an attendee's X-GUEST-ID naming them resolves)."""
    made = api.post(
        "/api/v1/appointments",
        json={
            "calendar": {"id": calendar_id},
            "date_start": iso(denver_at(day, 7)),
            "date_end": iso(denver_at(day, 8)),
            "name": "Earlier visit",
            "guests": [guest],
            "meta": {"type": "INITIAL"},
        },
    )
    assert made.status_code == 201, made.text


def by_uid(api: Api, calendar_id: str, uid: str) -> dict[str, Any]:
    """The appointment a client's item of ``uid`` became, as REST lists it."""
    listed = api.get("/api/v1/appointments", params={"calendar_id": calendar_id, "kind": "all", "limit": 100})
    assert listed.status_code == 200, listed.text
    (found,) = [i for i in listed.json()["items"] if i["meta"].get("ical_uid") == uid]
    return dict(found)
