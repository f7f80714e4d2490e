"""One change (cancelling a booked appointment) through every channel writes the same consequences.

REST, OLS, CalDAV, the booking flow, an import and the Salesforce mirror each cancel one appointment;
one helper (:func:`assert_cancel_consequences`) checks what that wrote, so the channels cannot drift:
its CalDAV item says CANCELLED (STATUS and X-APPOINTMENT-STATUS) with exactly one change-log entry, one
outbox row (none for the mirror: its own change is not echoed back), one ``appointment.cancelled`` webhook
event, one audit row and one history row, both naming the channel. Real HTTP over loopback, python-caldav, the
Salesforce emulator; SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from caldav_bridge.converters.salesforce import format_sf_datetime
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.services import interchange, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.dav_tables import DavChangeRow, DavItemRow
from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.tables import AuditRow, OutboxRow, StatusHistoryRow
from caldav_bridge.webhooks.tables import WebhookDeliveryRow, WebhookSubscriptionRow
from sf_emulator.emulator import SalesforceEmulator, running_emulator
from tests.caldav.conftest import client_for
from tests.conftest import People
from tests.salesforce.conftest import add_opportunity, make_context
from tests.support.factories import appointment_body
from tests.support.live import LiveServer

START = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=5)


@dataclass(frozen=True)
class Consequences:
    """What the store holds about one appointment, in write order."""

    item: str | None
    changes: int
    outbox: list[tuple[str, str]]
    webhooks: list[str]
    audit: list[str]
    history: list[tuple[str | None, str, str]]


def consequences(rt: Runtime, appointment_id: str) -> Consequences:
    with rt.uow() as uow:
        s = uow.session
        item = s.scalars(select(DavItemRow).where(DavItemRow.appointment_id == appointment_id)).first()
        href = f"{appointment_id}.ics" if item is None else item.href
        changes = len(list(s.scalars(select(DavChangeRow.revision).where(DavChangeRow.href == href))))
        outbox = [
            (o.operation, o.payload["status"])
            for o in s.scalars(
                select(OutboxRow).where(OutboxRow.appointment_id == appointment_id).order_by(OutboxRow.id)
            )
        ]
        webhooks = sorted(
            s.scalars(select(WebhookDeliveryRow.event_type).where(WebhookDeliveryRow.appointment_id == appointment_id))
        )
        audit = [
            a.channel
            for a in s.scalars(
                select(AuditRow)
                .where(AuditRow.appointment_id == appointment_id, AuditRow.action != "read")
                .order_by(AuditRow.id)
            )
        ]
        history = [
            (h.old_status, h.new_status, h.channel)
            for h in s.scalars(
                select(StatusHistoryRow)
                .where(StatusHistoryRow.appointment_id == appointment_id)
                .order_by(StatusHistoryRow.id)
            )
        ]
        return Consequences(item.text if item else None, changes, outbox, webhooks, audit, history)


def assert_cancel_consequences(
    rt: Runtime, appointment_id: str, before: Consequences, channel: str, *, echo: bool = True
) -> None:
    """The one check every channel's cancel must pass (``echo=False``: the mirror, no outbox row)."""
    after = consequences(rt, appointment_id)
    assert after.item is not None
    assert [line for line in after.item.splitlines() if line.startswith("STATUS:")] == ["STATUS:CANCELLED"]
    # ours says the same (a CalDAV client changing STATUS alone sends X-APPOINTMENT-STATUS:BOOKED back)
    exact = [line for line in after.item.splitlines() if line.startswith("X-APPOINTMENT-STATUS")]
    assert exact == ["X-APPOINTMENT-STATUS:CANCELLED"], exact
    assert after.changes - before.changes == 1, "one change-log entry for the item"
    assert after.outbox[len(before.outbox) :] == ([("upsert", "CANCELLED")] if echo else [])
    new_hooks = list(after.webhooks)
    for seen in before.webhooks:
        new_hooks.remove(seen)
    assert new_hooks == ["appointment.cancelled"]
    assert after.audit[len(before.audit) :] == [channel]
    assert after.history[len(before.history) :] == [("BOOKED", "CANCELLED", channel)]


def _subscribe(rt: Runtime) -> None:
    with rt.uow() as uow:
        uow.session.add(
            WebhookSubscriptionRow(
                url="https://hooks.example.com/in",
                events={"types": ["appointment.created", "appointment.updated", "appointment.cancelled"]},
                secret="s" * 32,
                created_at=datetime.now(UTC),
            )
        )
        uow.commit()


def _booked(live: LiveServer, people: People) -> str:
    body = appointment_body(people.fitter.calendar_id or "", start=START)
    body["status"] = "BOOKED"
    created = live.client(people.fitter.token).post("/api/v1/appointments", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.fixture
def booked(live: LiveServer, people: People) -> tuple[str, Consequences]:
    _subscribe(live.runtime)
    appointment_id = _booked(live, people)
    before = consequences(live.runtime, appointment_id)
    assert before.item is not None and "STATUS:CONFIRMED" in before.item
    assert before.history == [(None, "BOOKED", "api")] and before.webhooks == ["appointment.created"]
    return appointment_id, before


def test_rest(live: LiveServer, people: People, booked: tuple[str, Consequences]) -> None:
    appointment_id, before = booked
    response = live.client(people.fitter.token).post(
        f"/api/v1/appointments/{appointment_id}/cancel", json={"reason": "customer called"}
    )
    assert response.status_code == 200, response.text
    assert_cancel_consequences(live.runtime, appointment_id, before, "api")


def test_ols(live: LiveServer, people: People, booked: tuple[str, Consequences]) -> None:
    appointment_id, before = booked
    response = live.client(people.fitter.token).patch(
        f"/ols/appointments/{appointment_id}", json={"status": "cancelled"}
    )
    assert response.status_code == 200, response.text
    assert_cancel_consequences(live.runtime, appointment_id, before, "ols")


def test_caldav(live: LiveServer, people: People, booked: tuple[str, Consequences]) -> None:
    appointment_id, before = booked
    dav = client_for(live, people.fitter.username, people.fitter.password)
    calendar = dav.principal().calendars()[0]
    event = calendar.event_by_url(f"{calendar.url}{appointment_id}.ics")
    event.data = event.data.replace("STATUS:CONFIRMED", "STATUS:CANCELLED")
    event.save()
    assert_cancel_consequences(live.runtime, appointment_id, before, "caldav")


def test_booking_flow(live: LiveServer, people: People, booked: tuple[str, Consequences]) -> None:
    appointment_id, before = booked
    response = live.client(people.dispatcher.token).post(
        f"/api/v1/bookings/{appointment_id}/cancel", json={"reason": "customer called"}
    )
    assert response.status_code == 200, response.text
    assert_cancel_consequences(live.runtime, appointment_id, before, "api")


def test_import(live: LiveServer, people: People, booked: tuple[str, Consequences]) -> None:
    appointment_id, before = booked
    current = live.client(people.fitter.token).get(f"/api/v1/appointments/{appointment_id}").json()
    item: dict[str, Any] = {**current, "status": "CANCELLED"}
    report = interchange.import_batch(live.runtime.uow(), system_actor("cli"), "canonical", [item])
    assert [r.status for r in report.results] == ["updated"], report.results
    assert_cancel_consequences(live.runtime, appointment_id, before, "cli")


def test_mirror(runtime: Runtime) -> None:
    _subscribe(runtime)
    users.add_user(runtime.uow(), "fitter.sf", "fitter", email="fitter@example.com", timezone="America/Denver")
    with running_emulator(SalesforceEmulator(page_size=7)) as emu:
        sync = make_context(runtime, emu)
        owner = emu.create("User", {"Name": "Fitter SF", "Email": "fitter@example.com", "IsActive": True})
        fields = {
            "Subject": "Fitting",
            "StartDateTime": format_sf_datetime(START),
            "EndDateTime": format_sf_datetime(START + timedelta(hours=1)),
            "OwnerId": owner,
            "WhatId": add_opportunity(emu),
            "Appointment_Type__c": "FOLLOW_UP",
            "Appointment_Status__c": "BOOKED",
        }
        record = emu.create("Event", fields)
        first = run_job(sync, "mirror")
        assert first is not None and first.created == 1, first
        with runtime.uow() as uow:
            link = uow.session.scalars(select(SfLinkRow).where(SfLinkRow.sf_id == record)).one()
            appointment_id = link.appointment_id
        before = consequences(runtime, appointment_id)
        assert before.item is not None and before.history == [(None, "BOOKED", "sync")] and before.outbox == []
        emu.update("Event", record, {"Appointment_Status__c": "CANCELLED"})
        result = run_job(sync, "mirror")
        assert result is not None and result.updated == 1, result
    assert_cancel_consequences(runtime, appointment_id, before, "sync", echo=False)
