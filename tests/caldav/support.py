"""Helpers for the CalDAV tests: iCalendar bodies and raw DAV requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

__all__ = ["BASE", "dav_session", "event_ics", "fmt"]

BASE = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)


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
    session = requests.Session()
    session.auth = (username, password)
    return session


_ = timedelta
