"""The iCal converter on its own: every privacy level, DST zones, all-day and multi-day events,
non-ASCII text and 1,000 events, each feed checked by every validator (icalendar 7, vobject, ical,
x-wr-timezone, ical.js and the byte lint), which must all read the same instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from caldav_bridge.converters.ical import (
    CalendarInfo,
    EventOptions,
    guest_initials,
    single_event_calendar,
    vcalendar,
    vevent_bytes,
)
from caldav_bridge.model.feeds import Privacy
from tests.feeds.ics_lint import lint
from tests.feeds.samples import STAMP, ZONES, appointment, expected_instants, feed_of, transition_appointments
from tests.feeds.validators import icaljs_instants, validate_all

SECRETS = ("Zoë", "Ångström", "555-0100", "1941-02-03", "hard of hearing", "Hörgeräte")


@pytest.mark.parametrize("zone", ZONES)
def test_every_privacy_level_passes_every_validator(zone: str) -> None:
    appointments = transition_appointments(zone)
    expected = expected_instants(appointments, zone)
    feeds = {p.value: feed_of(appointments, EventOptions(privacy=p, timezone=zone, alarm_minutes=30)) for p in Privacy}
    for data in feeds.values():
        validate_all(data, expect=expected)
    for name, instants in icaljs_instants(feeds).items():
        assert instants == expected, f"ical.js reads other instants in the {name} feed"


def test_a_thousand_events_pass_every_validator() -> None:
    base = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    appointments = [
        appointment(
            f"bulk/{i}",
            base + timedelta(hours=7 * i),
            base + timedelta(hours=7 * i, minutes=45),
            status=("INITIAL", "RESERVED", "BOOKED", "RESCHEDULED", "CANCELLED")[i % 5],
            type=("INITIAL", "FOLLOW_UP", "TECH_SETUP")[i % 3],
            name=f"Termin {i} \u2013 Ærøskøbing ✓",
        )
        for i in range(1000)
    ]
    data = feed_of(appointments, EventOptions(privacy=Privacy.MINIMAL, timezone="Europe/Berlin"))
    expected = expected_instants(appointments, "Europe/Berlin")
    assert len(validate_all(data, expect=expected)) == 1000
    assert icaljs_instants({"bulk": data})["bulk"] == expected


def _event(data: bytes) -> icalendar.Event:
    return icalendar.Calendar.from_ical(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n" + data + b"END:VCALENDAR\r\n"
    ).events[0]


def test_privacy_levels_show_only_what_they_promise() -> None:
    a = appointment("privacy", datetime(2026, 3, 2, 15, tzinfo=UTC), datetime(2026, 3, 2, 16, tzinfo=UTC))
    busy = vevent_bytes(a, 0, EventOptions(privacy=Privacy.BUSY, url_template="https://c.example/a/{id}")).decode()
    minimal = vevent_bytes(a, 0, EventOptions(privacy=Privacy.MINIMAL, url_template="https://c.example/a/{id}"))
    full = vevent_bytes(a, 0, EventOptions(privacy=Privacy.FULL)).decode()
    assert "SUMMARY:Busy" in busy and "CLASS:PRIVATE" in busy and "TRANSP:OPAQUE" in busy
    for absent in (*SECRETS, "LOCATION", "X-APPOINTMENT-TYPE", "URL", "DESCRIPTION", "Z. Å.", "STATUS"):
        assert absent not in busy, absent
    event = _event(minimal)
    assert event["SUMMARY"] == "Follow-up · Z. Å."
    assert event["LOCATION"] == "Münchner Straße 5, Köln — 2. OG"
    assert event["X-APPOINTMENT-TYPE"] == "FOLLOW_UP"
    assert event["URL"] == f"https://c.example/a/{a.id}"
    unfolded = minimal.decode().replace("\r\n ", "")
    for absent in (*SECRETS, "DESCRIPTION"):
        assert absent not in unfolded, absent
    unfolded_full = full.replace("\r\n ", "")
    assert "Hörgeräte-Anpassung w/Zoë Ångström" in unfolded_full and "hard of hearing" in unfolded_full
    assert "Customer: Zoë Ångström" in unfolded_full
    assert "555-0100" in unfolded_full  # full shows the notes as written (opt-in, documented)


def test_guest_initials() -> None:
    a = appointment("initials", datetime(2026, 3, 2, 15, tzinfo=UTC), datetime(2026, 3, 2, 16, tzinfo=UTC))
    assert guest_initials(a.guests) == "Z. Å."
    assert guest_initials([]) == ""


def test_status_sequence_stamp_and_transparency() -> None:
    start, end = datetime(2026, 3, 2, 15, tzinfo=UTC), datetime(2026, 3, 2, 16, tzinfo=UTC)
    expected = {
        "INITIAL": "TENTATIVE",
        "RESERVED": "TENTATIVE",
        "BOOKED": "CONFIRMED",
        "RESCHEDULED": "CONFIRMED",
        "CANCELLED": "CANCELLED",
    }
    for status, ical_status in expected.items():
        a = appointment(f"status/{status}", start, end, status=status)
        event = _event(vevent_bytes(a, 4, EventOptions(privacy=Privacy.MINIMAL, alarm_minutes=15)))
        assert event["STATUS"] == ical_status
        assert event["SEQUENCE"] == (5 if status == "CANCELLED" else 4)  # a cancellation is one more revision
        assert event["TRANSP"] == ("TRANSPARENT" if status == "CANCELLED" else "OPAQUE")
        assert a.updated_at == event.DTSTAMP and a.updated_at == event.LAST_MODIFIED
        assert event.uid == str(a.id)
        alarms = [c for c in event.subcomponents if c.name == "VALARM"]
        assert len(alarms) == (0 if status == "CANCELLED" else 1)


def test_alarm_is_a_display_reminder_before_the_start() -> None:
    a = appointment("alarm", datetime(2026, 3, 2, 15, tzinfo=UTC), datetime(2026, 3, 2, 16, tzinfo=UTC))
    event = _event(vevent_bytes(a, 0, EventOptions(privacy=Privacy.MINIMAL, alarm_minutes=45)))
    (alarm,) = [c for c in event.subcomponents if c.name == "VALARM"]
    assert alarm["ACTION"] == "DISPLAY" and alarm.decoded("TRIGGER") == timedelta(minutes=-45)
    assert b"VALARM" not in vevent_bytes(a, 0, EventOptions(privacy=Privacy.MINIMAL))


def test_rendering_is_deterministic_and_the_header_complete() -> None:
    appointments = transition_appointments("America/Denver")
    options = EventOptions(privacy=Privacy.MINIMAL, timezone="America/Denver")
    first, second = feed_of(appointments, options), feed_of(list(reversed(appointments)), options)
    assert first == second
    text = first.decode().replace("\r\n ", "")
    for line in (
        "VERSION:2.0",
        "PRODID:-//Appointment Service//Feeds 1.0//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "NAME:Frank Fitter — Köln",
        "X-WR-CALNAME:Frank Fitter — Köln",
        "DESCRIPTION:Appointments of Frank Fitter — Köln",
        "X-WR-CALDESC:Appointments of Frank Fitter — Köln",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
        "X-WR-TIMEZONE:America/Denver",
        "UID:cal-1",
        "TZID:America/Denver",
    ):
        assert f"\r\n{line}\r\n" in text, line
    assert text.count("BEGIN:VTIMEZONE") == 1


def test_an_empty_feed_is_valid() -> None:
    data = vcalendar(CalendarInfo(uid="c", name="Nobody", description="d", timezone="Europe/Berlin"), [])
    assert validate_all(data) == {}
    assert b"VTIMEZONE" not in data


def test_long_non_ascii_lines_fold_by_octets_between_characters() -> None:
    a = appointment(
        "fold",
        datetime(2026, 3, 2, 15, tzinfo=UTC),
        datetime(2026, 3, 2, 16, tzinfo=UTC),
        name="日本語の予約" * 20 + "😀" * 30,
    )
    data = feed_of([a], EventOptions(privacy=Privacy.FULL, timezone="Asia/Kolkata"))
    assert max(len(line) for line in data.split(b"\r\n")) <= 75
    assert lint(data) == []
    assert icalendar.Calendar.from_ical(data).events[0]["SUMMARY"] == a.name


def test_single_event_calendar_carries_its_vtimezone() -> None:
    a = appointment("single", datetime(2026, 7, 2, 15, tzinfo=UTC), datetime(2026, 7, 2, 16, tzinfo=UTC))
    data = single_event_calendar(a, 2, "America/Denver")
    assert validate_all(data) == {str(a.id): (a.date_start, a.date_end)}
    assert b"TZID:America/Denver" in data and b"METHOD" not in data
    assert single_event_calendar(a, 2, "America/Denver") == data


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        (lambda d: d.replace(b"\r\n", b"\n"), "bare LF"),
        (lambda d: d.replace(b"SUMMARY:", b"SUMMARY:" + b"x" * 80, 1), "octets"),
        (lambda d: d.replace(b"\r\n ", b"", 1), "octets"),
        (
            lambda d: d.replace(b"BEGIN:VTIMEZONE", b"BEGIN:X-GONE").replace(b"END:VTIMEZONE", b"END:X-GONE"),
            "without a VTIMEZONE",
        ),
        (lambda d: d.replace(b"DTSTART;TZID=Europe/Berlin:", b"DTSTART:", 1), "floating"),
        (lambda d: d.replace(b"END:VCALENDAR\r\n", b""), "VCALENDAR"),
        (lambda d: d.replace(b"\r\n\r\n", b"\r\n").replace(b"END:VEVENT\r\n", b"END:VEVENT\r\n\r\n", 1), "blank"),
        (lambda d: d.replace("ü".encode(), "ü".encode("latin-1"), 1), "UTF-8"),
        (lambda d: d.replace(b"PRODID:", b"X-PRODID:", 1), "PRODID"),
    ],
)
def test_the_lint_catches_what_parsers_miss(broken, problem: str) -> None:
    a = appointment(
        "lint",
        datetime(2026, 3, 2, 15, tzinfo=UTC),
        datetime(2026, 3, 2, 16, tzinfo=UTC),
        name="Zoë Ångström " + "ü" * 40,
    )
    good = feed_of([a, appointment("lint2", a.date_start, a.date_end)], EventOptions(timezone="Europe/Berlin"))
    assert lint(good) == []
    problems = lint(broken(good))
    assert any(problem in p for p in problems), problems


def test_the_lint_catches_a_fold_inside_a_utf8_sequence_and_duplicate_uids() -> None:
    a = appointment("dup", datetime(2026, 3, 2, 15, tzinfo=UTC), datetime(2026, 3, 2, 16, tzinfo=UTC))
    good = feed_of([a], EventOptions(timezone="UTC"))
    assert lint(good) == []
    event = good[good.index(b"BEGIN:VEVENT") : good.index(b"END:VEVENT") + 12]
    assert any("UID" in p for p in lint(good.replace(event, event + event)))
    ue = "ü".encode()
    split = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nX-A:"
        + b"a" * 70
        + ue[:1]
        + b"\r\n "
        + ue[1:]
        + b"\r\nEND:VCALENDAR\r\n"
    )
    assert any("splits a UTF-8" in p for p in lint(split))


def test_stamp_is_the_data_not_the_clock() -> None:
    a = appointment("stamp", datetime(2026, 3, 2, 15, tzinfo=UTC), datetime(2026, 3, 2, 16, tzinfo=UTC))
    assert b"DTSTAMP:" + a.updated_at.strftime("%Y%m%dT%H%M%SZ").encode() in vevent_bytes(a, 0, EventOptions())
    assert a.updated_at > STAMP
