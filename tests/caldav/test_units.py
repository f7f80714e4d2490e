"""Unit tests of the CalDAV pieces that need no server: parsing, rendering, rights, login backoff."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import pytest

from caldav_bridge.converters.ical_parse import IcalParseError, parse_event
from caldav_bridge.dav.access import DavAccess, rights_for
from caldav_bridge.dav.render import render_event
from caldav_bridge.model.appointment import Appointment
from storage_plugin.auth import Auth, Backoff
from tests.caldav.support import event_ics


def test_parse_event_reads_the_canonical_fields() -> None:
    text = event_ics("u1", summary="Fitting", status="TENTATIVE", appointment_type=None).replace(
        "X-CLIENT-COLOR:teal\r\n",
        "X-CLIENT-COLOR:teal\r\nX-APPOINTMENT-TYPE:tech_setup\r\n"
        "ATTENDEE;CN=Jane;X-GUEST-ID=cust-1:urn:x-guest:cust-1\r\nATTENDEE:mailto:a@b.c\r\n",
    )
    parsed = parse_event(text)
    assert parsed.uid == "u1" and parsed.summary == "Fitting" and parsed.status == "TENTATIVE"
    assert parsed.start == datetime(2026, 12, 1, 16, 0, tzinfo=UTC) and parsed.zone == "America/Denver"
    assert parsed.appointment_type == "TECH_SETUP"
    assert [a.guest_id for a in parsed.attendees] == ["cust-1", None]


@pytest.mark.parametrize(
    "text",
    [
        "not ical",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
        event_ics("u2", start="20261201T100000", end="20261201T090000"),
    ],
)
def test_parse_event_refuses_bad_input(text: str) -> None:
    with pytest.raises(IcalParseError):
        parse_event(text)


def test_floating_times_and_duration_use_the_calendar_zone() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:f\r\nDTSTART:20261201T090000\r\n"
        "DURATION:PT45M\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    parsed = parse_event(text, "Europe/Berlin")
    assert parsed.start == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert (parsed.end - parsed.start).total_seconds() == 45 * 60


def _appointment(**changes: object) -> Appointment:
    data: dict[str, object] = {
        "calendar": {"id": "c"},
        "created_at": "2026-11-01T00:00:00.000Z",
        "updated_at": "2026-11-02T00:00:00.000Z",
        "date_start": "2026-12-01T16:00:00.000Z",
        "date_end": "2026-12-01T17:00:00.000Z",
        "id": str(uuid.UUID(int=7)),
        "meta": {"type": "INITIAL"},
        "name": "Fitting",
        "status": "BOOKED",
        "guests": [{"id": "cust-1", "first_name": "Jane", "last_name": "Doe"}],
    }
    data.update(changes)
    return Appointment.model_validate(data)


def test_render_merges_into_the_clients_text() -> None:
    client = event_ics("client-uid").replace(
        "X-CLIENT-COLOR:teal\r\n",
        "X-CLIENT-COLOR:teal\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n"
        "ATTENDEE;CN=Jane;X-GUEST-ID=cust-1;PARTSTAT=ACCEPTED:urn:x-guest:cust-1\r\nATTENDEE:mailto:x@y.z\r\n",
    )
    text = render_event(_appointment(name="Renamed"), zone="America/Denver", sequence=2, base_text=client)
    assert "SUMMARY:Renamed" in text and "UID:client-uid" in text
    assert "RRULE:FREQ=WEEKLY;COUNT=3" in text and "X-CLIENT-COLOR:teal" in text and "TRIGGER:-PT15M" in text
    assert "PARTSTAT=ACCEPTED" in text and "mailto:x@y.z" in text
    assert "BEGIN:VTIMEZONE" in text and "DTSTART;TZID=America/Denver:20261201T090000" in text
    again = render_event(_appointment(name="Renamed"), zone="America/Denver", sequence=2, base_text=client)
    assert again == text  # deterministic: same appointment, same ETag


def test_render_fresh_event_has_attendees_and_timezone() -> None:
    text = render_event(_appointment(description="Bring the audiogram."), zone="America/Denver", sequence=0)
    assert "DESCRIPTION:Bring the audiogram.\r\n" in text  # no customer line appended
    assert "X-GUEST-ID=cust-1" in text and "TZID:America/Denver" in text
    assert parse_event(text).summary == "Fitting"


def test_rights_rules() -> None:
    fitter = DavAccess("f", "fitter", frozenset())
    tech = DavAccess("t", "tech_setup", frozenset({"team-1"}))
    dispatcher = DavAccess("d", "dispatcher", frozenset())
    assert rights_for(fitter, "f", "f") == "RW" and rights_for(fitter, "f", "f/appointments") == "rw"
    assert rights_for(fitter, "f", "g/appointments") == ""
    assert rights_for(dispatcher, "d", "f/appointments") == "r" and rights_for(dispatcher, "d", "f") == "R"
    assert rights_for(tech, "t", "_calendars/team-1") == "r" and rights_for(tech, "t", "_calendars/team-2") == ""
    assert rights_for(DavAccess("x", None, frozenset()), "x", "f/appointments") == ""
    assert rights_for(fitter, "", "f") == ""


def test_backoff_grows_after_free_failures() -> None:
    backoff = Backoff(free=3, base=0.5, cap=8)
    delays = []
    for _ in range(8):
        delays.append(backoff.delay("user:x"))
        backoff.failed("user:x")
    assert delays == [0, 0, 0, 0.5, 1, 2, 4, 8]
    backoff.succeeded("user:x")
    assert backoff.delay("user:x") == 0


def test_failed_logins_are_slowed_and_logged_without_the_password(
    runtime: object, caplog: pytest.LogCaptureFixture
) -> None:
    from caldav_bridge.services import users

    users.add_user(runtime.uow(), "fitter.login", "fitter", password="right-password-1")  # type: ignore[attr-defined]
    auth = Auth.__new__(Auth)
    auth.runtime = runtime  # type: ignore[assignment]
    auth.backoff = Backoff()
    auth._salt, auth._ok = b"s", {}
    import threading

    auth._ok_lock = threading.Lock()
    slept: list[float] = []
    auth.sleep = slept.append

    class Ctx:
        remote_addr = "203.0.113.9"

    with caplog.at_level(logging.WARNING, logger="appointments.caldav.auth"):
        for _ in range(5):
            assert auth._login_ext("fitter.login", "wrong-secret-xyz", Ctx()) == ""
    assert slept == [0.5, 1.0]
    assert "fitter.login" in caplog.text and "203.0.113.9" in caplog.text
    assert "wrong-secret-xyz" not in caplog.text
    assert auth._login_ext("fitter.login", "right-password-1", Ctx()) == "fitter.login"
    assert slept == [0.5, 1.0]  # the right password waits for nothing


def test_a_right_password_is_not_slowed_by_failures_from_the_same_address(runtime: object) -> None:
    """One user mistyping their password must not slow every other user behind the same address."""
    from caldav_bridge.services import users

    users.add_user(runtime.uow(), "fitter.a", "fitter", password="password-of-a-1")  # type: ignore[attr-defined]
    users.add_user(runtime.uow(), "fitter.b", "fitter", password="password-of-b-1")  # type: ignore[attr-defined]
    auth = Auth.__new__(Auth)
    auth.runtime = runtime  # type: ignore[assignment]
    auth.backoff = Backoff()
    auth._salt, auth._ok = b"s", {}
    import threading

    auth._ok_lock = threading.Lock()
    slept: list[float] = []
    auth.sleep = slept.append

    class Office:
        remote_addr = "198.51.100.7"

    for _ in range(5):
        assert auth._login_ext("fitter.a", "mistyped", Office()) == ""
    assert slept == [0.5, 1.0]
    for _ in range(3):  # first login (scrypt) and the remembered one: neither waits
        assert auth._login_ext("fitter.b", "password-of-b-1", Office()) == "fitter.b"
    assert auth._login_ext("fitter.a", "password-of-a-1", Office()) == "fitter.a"
    assert slept == [0.5, 1.0]
    # the address still counts its failures: the next wrong guess from it, by any name, waits
    assert auth._login_ext("fitter.b", "guess", Office()) == ""
    assert slept == [0.5, 1.0, 2.0]
