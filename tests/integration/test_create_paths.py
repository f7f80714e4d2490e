"""The guard against drift between the create paths: one appointment created through the service
(``appointments.create``, one row) and the same appointment imported in bulk (``interchange``: the batch
path the Salesforce mirror shares) leave the same rows: appointment, guests, people, status history,
outbox payload, audit, and the same CalDAV item text and ETag. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from caldav_bridge.dav.render import etag_of_text
from caldav_bridge.model.requests import AppointmentDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import appointments, interchange, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.dav_tables import DavChangeRow, DavItemRow
from caldav_bridge.store.tables import (
    AppointmentGuestRow,
    AppointmentRow,
    AuditRow,
    OutboxRow,
    PersonRow,
    StatusHistoryRow,
)

ACTOR = system_actor("cli")
NOW = datetime(2026, 3, 2, 9, 30, 12, 345000, tzinfo=UTC)
ONE = "11111111-1111-4111-8111-111111111111"
TWO = "22222222-2222-4222-8222-222222222222"


def _data(calendar_id: str, appointment_id: str) -> dict[str, Any]:
    return {
        "id": appointment_id,
        "calendar": {"id": calendar_id},
        "date_start": "2026-03-29T00:30:00.000Z",  # the night Berlin's clocks go forward
        "date_end": "2026-03-29T02:15:00.000Z",
        "name": "Hörtest, Jürgen; \\ Müller",
        "description": "Bring the hearing aids,\nplease; thanks - ü",
        "guests": [
            {"id": "003000000000001AAA", "first_name": "Jürgen", "last_name": "O'Müller", "timezone": "Europe/Berlin"},
            {"first_name": "Companion", "phone": "+49 1"},
        ],
        "meta": {
            "type": "FOLLOW_UP",
            "location": "Filiale Mitte, Raum 2",
            "salesforce": {"opportunity_gid": "006000000000001AAA", "customer_gid": "003000000000001AAA"},
        },
        "status": "BOOKED",
        "created_at": NOW.isoformat(),
        "updated_at": NOW.isoformat(),
    }


def _rows(rt: Runtime, appointment_id: str) -> dict[str, Any]:
    with rt.uow() as uow:
        s = uow.session
        row = s.get(AppointmentRow, appointment_id)
        assert row is not None
        columns = {c.key: getattr(row, c.key) for c in AppointmentRow.__table__.columns if c.key != "id"}
        guests = [
            (g.position, g.person_id, g.first_name, g.last_name, g.timezone, g.extra)
            for g in s.scalars(select(AppointmentGuestRow).where(AppointmentGuestRow.appointment_id == appointment_id))
        ]
        history = [
            (h.old_status, h.new_status, h.old_start, h.new_start, h.at, h.actor, h.channel, h.reason)
            for h in s.scalars(select(StatusHistoryRow).where(StatusHistoryRow.appointment_id == appointment_id))
        ]
        outbox = [
            (o.operation, o.state, o.attempts, o.created_at, o.available_at, o.payload)
            for o in s.scalars(select(OutboxRow).where(OutboxRow.appointment_id == appointment_id))
        ]
        audit = [
            (a.action, a.actor, a.channel, a.calendar_id, a.at)
            for a in s.scalars(select(AuditRow).where(AuditRow.appointment_id == appointment_id))
        ]
        item = s.scalars(select(DavItemRow).where(DavItemRow.appointment_id == appointment_id)).one()
        logged = s.scalars(
            select(DavChangeRow).where(DavChangeRow.collection_id == item.collection_id, DavChangeRow.href == item.href)
        ).all()
        return {
            "columns": columns,
            "guests": guests,
            "history": history,
            "outbox": outbox,
            "audit": audit,
            "item": (item.href, item.uid, item.text, item.etag, item.time_start, item.time_end, item.long_span),
            "logged": [(c.deleted, c.at) for c in logged],
        }


def _as_one(value: Any) -> Any:
    """``value`` with the second appointment's id written as the first's (the only thing that differs)."""
    if isinstance(value, str):
        return value.replace(TWO, ONE)
    if isinstance(value, dict):
        return {k: _as_one(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_as_one(v) for v in value)
    return value


def test_the_service_and_the_bulk_path_write_the_same_side_effects(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    users.add_user(runtime.uow(), "fitter.drift", "fitter", email="drift@example.com", timezone="Europe/Berlin")
    with runtime.uow() as uow:
        user = uow.users.by_username("fitter.drift")
        assert user is not None
        calendar_id = uow.calendars.ids_owned_by(user.id)[0]
    monkeypatch.setattr(appointments, "utcnow", lambda: NOW)
    monkeypatch.setattr(interchange, "utcnow", lambda: NOW)

    fields = {k: v for k, v in _data(calendar_id, ONE).items() if k not in {"id", "created_at", "updated_at"}}
    draft = AppointmentDraft.model_validate(fields)
    appointments.create(runtime.uow(), ACTOR, draft, appointment_id=ONE)  # provisions the DAV collection too
    report = interchange.import_batch(runtime.uow(), ACTOR, "canonical", [_data(calendar_id, TWO)])
    assert [r.status for r in report.results] == ["created"], report.results

    one, two = _rows(runtime, ONE), _rows(runtime, TWO)
    assert one["history"] and one["outbox"] and one["audit"] and one["logged"]
    for key in one:
        if key == "item":  # the ETag is a hash of the text: checked below
            assert _as_one(two[key][:3] + two[key][4:]) == one[key][:3] + one[key][4:]
        else:
            assert _as_one(two[key]) == one[key], key
    assert one["outbox"][0][-1]["name"] == "Hörtest, Jürgen; \\ Müller"
    text = one["item"][2]
    assert 'ATTENDEE;CN="Jürgen O\'Müller"' in text.replace("\r\n ", "")
    assert etag_of_text(_as_one(two["item"][2])) == one["item"][3]
    assert etag_of_text(two["item"][2]) == two["item"][3] and etag_of_text(text) == one["item"][3]
    with runtime.uow() as uow:
        person = uow.session.get(PersonRow, "003000000000001AAA")
        assert person is not None and (person.first_name, person.last_name) == ("Jürgen", "O'Müller")
