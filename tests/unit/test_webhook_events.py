"""The webhook handlers on the fake unit of work: subscriptions come from ``uow.repo(WebhookRepository)``."""

from __future__ import annotations

from typing import Any

from caldav_bridge.events.bus import MessageBus
from caldav_bridge.events.model import AppointmentEvent
from caldav_bridge.model.requests import AppointmentPatch, CancelRequest
from caldav_bridge.services import appointments
from caldav_bridge.services.actor import system_actor
from caldav_bridge.webhooks import events
from caldav_bridge.webhooks.repository import WebhookRepository
from caldav_bridge.webhooks.tables import WebhookDeliveryRow, WebhookSubscriptionRow
from tests.unit.fake_uow import T0, FakeUnitOfWork, appointment, calendar

A1, A2 = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
CAL = "10000000-0000-4000-8000-000000000001"
API = system_actor("api", "dispatcher")


class FakeWebhooks:
    def __init__(self, subscriptions: list[WebhookSubscriptionRow]) -> None:
        self.subscriptions = subscriptions
        self.reads = 0
        self.added: list[Any] = []

    def active_subscriptions(self) -> list[WebhookSubscriptionRow]:
        self.reads += 1
        return [s for s in self.subscriptions if s.active]

    def add(self, row: Any) -> None:
        self.added.append(row)


def _subscription(sid: str, types: list[str], *, active: bool = True) -> WebhookSubscriptionRow:
    return WebhookSubscriptionRow(
        id=sid, url=f"https://{sid}.example/hook", events={"types": types}, secret="s", active=active, created_at=T0
    )


def _uow(webhooks: FakeWebhooks) -> FakeUnitOfWork:
    bus = MessageBus()
    bus.on(AppointmentEvent, events.on_appointment_changed)
    uow = FakeUnitOfWork(bus)
    uow.use(WebhookRepository, webhooks)
    calendar(uow, CAL)
    appointment(uow, A1, CAL)
    appointment(uow, A2, CAL)
    return uow


def test_a_cancellation_is_queued_for_each_active_subscriber_to_it_only() -> None:
    webhooks = FakeWebhooks(
        [
            _subscription("wants", ["appointment.cancelled"]),
            _subscription("other", ["appointment.created"]),
            _subscription("paused", ["appointment.cancelled"], active=False),
        ]
    )
    uow = _uow(webhooks)
    appointments.cancel(uow, API, A1, CancelRequest(reason="customer called"))
    [delivery] = webhooks.added
    assert isinstance(delivery, WebhookDeliveryRow)
    assert (delivery.subscription_id, delivery.event_type, delivery.appointment_id, delivery.state) == (
        "wants",
        "appointment.cancelled",
        A1,
        "pending",
    )
    assert delivery.payload["data"]["appointment"]["status"] == "CANCELLED"


def test_subscriptions_are_read_once_per_transaction() -> None:
    webhooks = FakeWebhooks([_subscription("all", ["appointment.updated"])])
    uow = _uow(webhooks)
    with uow:
        appointments.update_in(uow, API, A1, AppointmentPatch(name="First"))
        appointments.update_in(uow, API, A2, AppointmentPatch(name="Second"))
    assert webhooks.reads == 1
    assert [(d.event_type, d.appointment_id) for d in webhooks.added] == [
        ("appointment.updated", A1),
        ("appointment.updated", A2),
    ]
