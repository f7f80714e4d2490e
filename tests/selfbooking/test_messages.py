"""Customer messages end to end below the pages: the outbox rows a booking, a move and a cancellation
write, their delivery to a real SMTP server on loopback (STARTTLS with authentication, implicit TLS),
the iTIP invitations (one UID, growing SEQUENCE, CANCEL), reminders (consent, never twice), retries,
dead letters, the audit, and nothing personal in the logs."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from icalendar import Calendar
from sqlalchemy import select

from caldav_bridge.clock import utcnow
from caldav_bridge.runtime import Runtime
from caldav_bridge.scheduling.hooks import SlotUnavailable
from caldav_bridge.scheduling.rules import SchedulingOptions
from caldav_bridge.selfbooking import customer, jobs, monitor
from caldav_bridge.selfbooking.delivery import SmtpTransport
from caldav_bridge.selfbooking.keys import service_key
from caldav_bridge.selfbooking.tables import CustomerBookingRow, CustomerMessageRow
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.tables import AuditRow
from tests.conftest import People
from tests.scheduling.conftest import World
from tests.selfbooking.helpers import book, first_slot, team_link
from tests.support.live import LiveServer
from tests.support.smtp import Received, self_signed, smtp_sink


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("smtp"))


def invite(received: Received) -> Calendar:
    parts = [p for p in received.message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    return Calendar.from_ical(
        parts[0].get_content().encode() if isinstance(parts[0].get_content(), str) else parts[0].get_content()
    )


def body(received: Received) -> str:
    part = received.message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_confirmation_move_reminder_cancel_over_starttls(
    runtime: Runtime, world: World, cert: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rt = runtime
    settings = rt.settings.replace(booking_company_phone="+49 30 1234567", booking_company_name="Hörwelt")
    secret = team_link(rt, world)
    start = first_slot(rt, secret, world)
    view = book(rt, secret, start, locale="de", first_name="Jürgen", email="juergen@example.org")
    with smtp_sink(security="starttls", cert=cert, login=("mailer", "s3cret")) as sink:
        transport = SmtpTransport(sink.host, sink.port, "starttls", "mailer", "s3cret", 10.0, str(cert[0]))
        report = jobs.deliver_messages(settings, rt.uow, transport=transport)
        assert (report.attempted, report.sent) == (1, 1)
        (confirmation,) = sink.wait_for(1)
        assert confirmation.recipients == ["juergen@example.org"] and confirmation.authenticated_as == "mailer"
        text = body(confirmation)
        assert text.startswith("Hallo Jürgen,") and "Hörwelt" in text and "+49 30 1234567" in text
        assert f"/manage/{view.manage_secret}" in text
        for secret_word in ("Initial", "consultation", "Beratung", "Doe", view.consultant):
            assert secret_word not in text and secret_word not in str(confirmation.message["Subject"])
        cal = invite(confirmation)
        assert cal["METHOD"] == "REQUEST"
        (event,) = cal.walk("VEVENT")
        uid = str(event["UID"])
        assert event["SEQUENCE"] == 0 and event.decoded("DTSTART") == start

        options = SchedulingOptions.from_settings(rt.settings)
        moved = start + timedelta(days=1)
        customer.reschedule(rt.uow, view.manage_secret, moved, options, service_key(rt.settings))
        jobs.deliver_messages(settings, rt.uow, transport=transport)
        update = sink.wait_for(2)[1]
        (event,) = invite(update).walk("VEVENT")
        assert str(event["UID"]) == uid and event["SEQUENCE"] == 1 and event.decoded("DTSTART") == moved
        assert "verschoben" in str(update.message["Subject"])

        frozen = moved - timedelta(hours=23)
        assert jobs.remind(settings, rt.uow, now=moved - timedelta(hours=25)) == 0  # not yet
        assert jobs.remind(settings, rt.uow, now=frozen) == 1
        assert jobs.remind(settings, rt.uow, now=frozen + timedelta(minutes=5)) == 0  # never twice
        jobs.deliver_messages(settings, rt.uow, transport=transport, now=lambda: frozen)
        reminder = sink.wait_for(3)[2]
        assert "Erinnerung" in str(reminder.message["Subject"])
        assert not [p for p in reminder.message.walk() if p.get_content_type() == "text/calendar"]

        customer.cancel(rt.uow, view.manage_secret, "krank")
        jobs.deliver_messages(settings, rt.uow, transport=transport)
        cancelled = sink.wait_for(4)[3]
        cal = invite(cancelled)
        (event,) = cal.walk("VEVENT")
        assert cal["METHOD"] == "CANCEL" and str(event["UID"]) == uid and event["SEQUENCE"] == 2
        assert "/manage/" not in body(cancelled) and "krank" not in body(cancelled)
    status = monitor.status(rt.uow(), system_actor())
    assert (status.sent, status.pending, status.dead) == (4, 0, 0)
    with rt.uow() as uow:
        audits = list(uow.session.scalars(select(AuditRow).where(AuditRow.action == "message-sent")))
        assert len(audits) == 4 and all("juergen" not in (a.detail or "") for a in audits)
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))  # not the sink's
    assert "juergen@example.org" not in logged and "Hallo" not in logged and view.manage_secret not in logged


def test_no_consent_no_reminder_and_implicit_tls(runtime: Runtime, world: World, cert: tuple[Path, Path]) -> None:
    rt = runtime
    secret = team_link(rt, world)
    start = first_slot(rt, secret, world, "America/New_York")
    book(rt, secret, start, zone="America/New_York", consent=False)
    assert jobs.remind(rt.settings, rt.uow, now=start - timedelta(hours=1)) == 0
    with smtp_sink(security="tls", cert=cert) as sink:
        transport = SmtpTransport(sink.host, sink.port, "tls", timeout=10.0, ca_file=str(cert[0]))
        assert jobs.deliver_messages(rt.settings, rt.uow, transport=transport).sent == 1
        (received,) = sink.wait_for(1)
        assert body(received).startswith("Hello Jane,")
        assert "9:00\u202fAM" in body(received) or "9:00 AM" in body(received)  # 09:00 in New York, her zone


def test_retries_back_off_then_dead_letter(runtime: Runtime, world: World) -> None:
    rt = runtime
    settings = rt.settings.replace(message_max_attempts=3, message_backoff_seconds=60)
    secret = team_link(rt, world)
    book(rt, secret, first_slot(rt, secret, world))
    nowhere = SmtpTransport("127.0.0.1", 9, "none", timeout=2.0)  # discard port: connection refused
    t0 = utcnow()
    first = jobs.deliver_messages(settings, rt.uow, transport=nowhere, now=lambda: t0)
    assert (first.attempted, first.retrying) == (1, 1)
    assert (
        jobs.deliver_messages(settings, rt.uow, transport=nowhere, now=lambda: t0 + timedelta(seconds=30)).attempted
        == 0
    )
    with rt.uow() as uow:
        row = uow.session.scalar(select(CustomerMessageRow))
        assert row is not None and row.next_attempt_at == t0 + timedelta(seconds=60) and row.attempts == 1
    assert (
        jobs.deliver_messages(settings, rt.uow, transport=nowhere, now=lambda: t0 + timedelta(seconds=61)).retrying == 1
    )
    last = jobs.deliver_messages(settings, rt.uow, transport=nowhere, now=lambda: t0 + timedelta(seconds=200))
    assert last.dead == 1
    status = monitor.status(rt.uow(), system_actor())
    assert (status.dead, status.pending) == (1, 0)
    (dead,) = monitor.list_messages(rt.uow(), system_actor(), state="dead")
    assert dead.attempts == 3 and "ConnectionRefused" in (dead.last_error or "")
    monitor.retry(rt.uow(), system_actor(), dead.id)
    assert monitor.status(rt.uow(), system_actor()).pending == 1


def test_staff_changes_through_the_api_reach_the_customer_too(
    live: LiveServer, people: People, runtime: Runtime, world: World
) -> None:
    """The outbox row is written by the domain-event handler in the change's own transaction, whatever the channel."""
    rt = runtime
    secret = team_link(rt, world)
    start = first_slot(rt, secret, world)
    book(rt, secret, start)
    with rt.uow() as uow:
        booking = uow.session.scalar(select(CustomerBookingRow))
        assert booking is not None
        appointment_id = booking.appointment_id
    api = live.client(people.dispatcher.token)
    moved = start + timedelta(days=1)
    answer = api.post(f"/api/v1/bookings/{appointment_id}/reschedule", json={"date_start": moved.isoformat()})
    assert answer.status_code == 200, answer.text
    answer = api.post(f"/api/v1/bookings/{appointment_id}/cancel", json={"reason": "consultant ill"})
    assert answer.status_code == 200, answer.text
    with rt.uow() as uow:
        rows = list(uow.session.scalars(select(CustomerMessageRow).order_by(CustomerMessageRow.created_at)))
        assert [(m.kind, m.payload["sequence"]) for m in rows] == [
            ("confirmation", 0),
            ("rescheduled", 1),
            ("cancelled", 2),
        ]
        assert rows[1].payload["start"].startswith(moved.strftime("%Y-%m-%dT%H:%M"))


def test_a_failed_change_queues_nothing(runtime: Runtime, world: World) -> None:
    """A reschedule refused (the slot is taken) rolls back with the change: no message without its change."""
    rt = runtime
    secret = team_link(rt, world)
    start = first_slot(rt, secret, world)
    first = book(rt, secret, start)
    for n in range(2):  # both consultants of the team are busy an hour later
        book(rt, secret, start + timedelta(hours=1), email=f"sam{n}@example.org", first_name="Sam")
    options = SchedulingOptions.from_settings(rt.settings)
    with pytest.raises(SlotUnavailable):
        customer.reschedule(rt.uow, first.manage_secret, start + timedelta(hours=1), options, service_key(rt.settings))
    with rt.uow() as uow:
        assert sorted(m.kind for m in uow.session.scalars(select(CustomerMessageRow))) == ["confirmation"] * 3
