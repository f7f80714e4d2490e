"""The booking flows raise their domain events (BookingMade, HoldExpired) next to the appointment events."""

from __future__ import annotations

from datetime import datetime, timedelta

from caldav_bridge.events.model import AppointmentCancelled, BookingMade, Event, HoldExpired
from caldav_bridge.runtime import Runtime
from caldav_bridge.scheduling import booking
from caldav_bridge.services.actor import SCHEDULING_CHANNEL
from tests.scheduling.conftest import World
from tests.scheduling.test_flows_api import NY, api, at, initial_body  # noqa: F401  (api: the fixture)
from tests.support.live import Api


def test_a_held_booking_and_its_expiry_raise_booking_made_then_hold_expired(
    api: Api,  # noqa: F811
    world: World,
    runtime: Runtime,
) -> None:
    seen: list[Event] = []
    runtime.bus.on(Event, lambda uow, event: seen.append(event))
    start = at(world.day(3), "11:00", NY)
    held = api.post(
        "/api/v1/bookings/initial", json=initial_body(world, start, calendar_id=world.c1, team_id=None, hold=True)
    )
    assert held.status_code == 201, held.text
    appointment_id = held.json()["appointment"]["id"]
    made = [e for e in seen if isinstance(e, BookingMade)]
    assert [(e.appointment_id, e.kind, e.hold) for e in made] == [(appointment_id, "INITIAL", True)]
    seen.clear()
    expires = datetime.fromisoformat(held.json()["hold_expires_at"].replace("Z", "+00:00"))
    assert booking.expire_holds(runtime.uow(), now=expires + timedelta(seconds=1)) == 1
    assert [type(e) for e in seen] == [AppointmentCancelled, HoldExpired]
    assert all(e.actor.channel == SCHEDULING_CHANNEL for e in seen)
    assert seen[1].appointment_id == appointment_id  # type: ignore[attr-defined]
