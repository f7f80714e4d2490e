"""The write path's service layer without a database: the events a change raises and the handlers' echo rules.

A :class:`tests.unit.fake_uow.FakeUnitOfWork` (in-memory repositories) stands in for the database; the
history/audit and Salesforce-outbox handlers run on it as they do on the real unit of work.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from caldav_bridge.dav import item_sync
from caldav_bridge.errors import InvalidTransition, PreconditionFailed
from caldav_bridge.events import records
from caldav_bridge.events.bus import MessageBus
from caldav_bridge.events.model import (
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentDeleted,
    AppointmentEvent,
    AppointmentMoved,
    AppointmentRescheduled,
)
from caldav_bridge.events.wiring import build_bus
from caldav_bridge.model.requests import AppointmentPatch, CancelRequest, RescheduleRequest
from caldav_bridge.salesforce import outbox
from caldav_bridge.services import appointments
from caldav_bridge.services.actor import (
    CALDAV_CHANNEL,
    MIRROR_CHANNEL,
    SCHEDULING_CHANNEL,
    Actor,
    consequence_actor,
    system_actor,
)
from caldav_bridge.services.appointments import ExternalChange, ExternalValues
from tests.unit.fake_uow import T0, FakeUnitOfWork, appointment, calendar

A1, A2, TECH = (f"00000000-0000-4000-8000-00000000000{i}" for i in (1, 2, 3))
CAL1, CAL2 = "10000000-0000-4000-8000-000000000001", "10000000-0000-4000-8000-000000000002"
API = system_actor("api", "dispatcher")
MIRROR = system_actor(MIRROR_CHANNEL, "salesforce")


def _uow() -> FakeUnitOfWork:
    bus = MessageBus()
    bus.on(AppointmentEvent, records.on_appointment_changed)
    bus.on(AppointmentEvent, outbox.on_appointment_changed)
    uow = FakeUnitOfWork(bus)
    calendar(uow, CAL1)
    calendar(uow, CAL2)
    appointment(uow, A1, CAL1)
    return uow


def test_cancel_raises_one_cancelled_event_with_what_changed_and_its_consequences() -> None:
    uow = _uow()
    stored = appointments.cancel(uow, API, A1, CancelRequest(reason="customer called"))
    assert stored.appointment.status == "CANCELLED" and uow.commits == 1
    [event] = uow.events
    assert isinstance(event, AppointmentCancelled) and event.actor == API
    assert (event.appointment_id, event.old_status, event.new_status, event.reason) == (
        A1,
        "BOOKED",
        "CANCELLED",
        "customer called",
    )
    assert not event.times_changed and event.status_changed
    [history] = uow.appointments.history_rows  # type: ignore[attr-defined]
    assert (history.old_status, history.new_status, history.channel) == ("BOOKED", "CANCELLED", "api")
    assert [(a.action, a.channel) for a in uow.audit_rows] == [("cancel", "api")]
    assert [(o.operation, o.payload["status"]) for o in uow.outbox_rows] == [("upsert", "CANCELLED")]


def test_reschedule_raises_rescheduled_with_old_and_new_times() -> None:
    uow = _uow()
    start = T0 + timedelta(days=1)
    appointments.reschedule(uow, API, A1, RescheduleRequest(date_start=start, date_end=start + timedelta(hours=1)))
    [event] = uow.events
    assert isinstance(event, AppointmentRescheduled)
    assert (event.old_start, event.new_start, event.old_status, event.new_status) == (
        T0,
        start,
        "BOOKED",
        "RESCHEDULED",
    )
    assert uow.appointments.get(A1).sequence == 1  # type: ignore[union-attr]


def test_a_change_of_fields_only_is_a_changed_event_without_history() -> None:
    uow = _uow()
    appointments.update(uow, API, A1, AppointmentPatch(name="Fitting, both ears"))
    [event] = uow.events
    assert type(event) is AppointmentChanged and not event.status_changed and not event.times_changed
    assert uow.appointments.history_rows == []  # type: ignore[attr-defined]
    assert [a.action for a in uow.audit_rows] == ["update"] and len(uow.outbox_rows) == 1


def test_refused_changes_raise_no_event_and_commit_nothing() -> None:
    uow = _uow()
    with pytest.raises(PreconditionFailed):
        appointments.update(uow, API, A1, AppointmentPatch(name="x"), if_match='"stale-9"')
    appointment(uow, A2, CAL1, status="CANCELLED")
    with pytest.raises(InvalidTransition):
        appointments.update(uow, API, A2, AppointmentPatch(name="x"))
    assert uow.events == [] and uow.commits == 0 and uow.audit_rows == [] and uow.outbox_rows == []


def test_delete_is_a_deleted_event_queued_as_a_delete() -> None:
    uow = _uow()
    appointments.delete(uow, API, A1)
    [event] = uow.events
    assert isinstance(event, AppointmentDeleted)
    assert [o.operation for o in uow.outbox_rows] == ["delete"]
    assert uow.appointments.get(A1) is None


def test_external_change_from_the_mirror_is_not_echoed_but_its_consequence_is() -> None:
    uow = _uow()
    values = ExternalValues("Fitting", None, T0, T0.replace(hour=10), "CANCELLED")
    appointments.apply_external_change(uow, MIRROR, A1, ExternalChange(values=values))
    [event] = uow.events
    assert isinstance(event, AppointmentCancelled) and event.actor.channel == MIRROR_CHANNEL
    assert uow.outbox_rows == [], "the mirror's own change is not queued back to Salesforce"
    assert [(h.new_status, h.channel) for h in uow.appointments.history_rows] == [  # type: ignore[attr-defined]
        ("CANCELLED", MIRROR_CHANNEL)
    ]
    appointment(uow, TECH, CAL2)
    appointments.update_in(uow, consequence_actor(MIRROR), TECH, AppointmentPatch(status="CANCELLED"))
    assert [o.appointment_id for o in uow.outbox_rows] == [TECH], "a consequence of a mirrored change is pushed"


def test_external_change_moves_deletes_and_brings_back() -> None:
    uow = _uow()
    appointments.apply_external_change(uow, MIRROR, A1, ExternalChange(calendar_id=CAL2))
    appointments.apply_external_change(uow, MIRROR, A1, ExternalChange(deleted=True))
    appointments.apply_external_change(uow, MIRROR, A1, ExternalChange(deleted=True))  # already: nothing
    appointments.apply_external_change(uow, MIRROR, A1, ExternalChange(deleted=False))
    moved, deleted, back = uow.events
    assert isinstance(moved, AppointmentMoved) and (moved.old_calendar_id, moved.calendar_id) == (CAL1, CAL2)
    assert isinstance(deleted, AppointmentDeleted)
    assert type(back) is AppointmentChanged and uow.appointments.get(A1) is not None
    assert appointments.apply_external_change(uow, MIRROR, "nope", ExternalChange(deleted=True)) is None


def test_consequences_are_handled_after_the_event_that_raised_them_and_a_refusal_drops_the_queue() -> None:
    seen: list[str] = []
    bus = MessageBus()

    def first(uow: FakeUnitOfWork, event: AppointmentEvent) -> None:
        seen.append(f"first {event.appointment_id}")
        if event.appointment_id == "initial":
            uow.add_event(_event("tech", consequence_actor(event.actor)))
        if event.appointment_id == "bad":
            uow.add_event(_event("never", event.actor))
            raise InvalidTransition("BOOKED", "refuse")

    bus.on(AppointmentEvent, first)
    bus.on(AppointmentEvent, lambda uow, event: seen.append(f"second {event.appointment_id}"))
    uow = FakeUnitOfWork(bus)
    uow.add_event(_event("initial", API))
    assert seen == ["first initial", "second initial", "first tech", "second tech"]
    assert [e.actor.channel for e in uow.events] == ["api", SCHEDULING_CHANNEL]
    seen.clear()
    with pytest.raises(InvalidTransition):
        uow.add_event(_event("bad", API))
    uow.add_event(_event("later", API))
    assert seen == ["first bad", "first later", "second later"]


def test_the_caldav_item_handler_leaves_a_change_made_over_caldav_to_the_dav_store() -> None:
    uow = FakeUnitOfWork()  # no session: the handler would fail if it touched the database
    caldav = Actor(None, "fitter", "fitter", frozenset({"write"}), CALDAV_CHANNEL)
    item_sync.on_appointment_changed(uow, _event(A1, caldav))


def test_every_handler_is_registered_once_when_the_bus_is_built() -> None:
    names = [handler for _, handler, _ in build_bus().registered()]
    assert len(names) == len(set(names))
    for module in ("records", "hooks", "webhooks.events", "salesforce.outbox", "dav.item_sync"):
        assert any(module in n for n in names), module
    assert not any(phase == "after commit" for _, _, phase in build_bus().registered())


def _event(appointment_id: str, actor: Actor) -> AppointmentChanged:
    return AppointmentChanged(
        actor=actor,
        appointment_id=appointment_id,
        calendar_id=CAL1,
        action="update",
        old_status="BOOKED",
        new_status="BOOKED",
        old_start=T0,
        new_start=T0,
        old_end=T0,
        new_end=T0,
    )
