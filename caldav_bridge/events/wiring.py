"""The one place that registers every domain-event handler: :func:`build_bus`, called when a
``Runtime`` is built. The order is the order in which a change's consequences are written."""

from __future__ import annotations

from typing import Any

from caldav_bridge.dav import item_sync
from caldav_bridge.events import records
from caldav_bridge.events.bus import MessageBus
from caldav_bridge.events.model import AppointmentEvent, AppointmentsCreated, CalendarRenamed, OccurrenceChanged
from caldav_bridge.infra.feed_changes import FeedChanges
from caldav_bridge.salesforce import outbox
from caldav_bridge.scheduling import hooks, occurrence_conflicts
from caldav_bridge.scheduling.mirrored import MirroredInitials
from caldav_bridge.selfbooking import handlers as selfbooking
from caldav_bridge.store.uow import UnitOfWork
from caldav_bridge.webhooks import events as webhook_events

__all__ = ["build_bus", "register_feed_changes"]


def build_bus(settings: Any | None = None) -> MessageBus:
    """A bus with every handler: history and audit, scheduling (claims, the chain, the tech-setup policy for
    INITIALs the Salesforce mirror brings, from ``settings``), webhooks, the Salesforce outbox, the CalDAV
    item and change log, the customer-message outbox (all in the change's transaction)."""
    bus = MessageBus()
    bus.on(AppointmentsCreated, records.on_appointments_created)
    bus.on(AppointmentEvent, records.on_appointment_changed)
    bus.on(AppointmentEvent, hooks.on_appointment_changed)
    bus.on(OccurrenceChanged, occurrence_conflicts.on_occurrence_changed)  # a moved occurrence's time re-checked
    mirrored = MirroredInitials.from_settings(settings)
    bus.on(AppointmentsCreated, mirrored.on_appointments_created)
    bus.on(AppointmentEvent, mirrored.on_appointment_changed)
    bus.on(AppointmentsCreated, webhook_events.on_appointments_created)
    bus.on(AppointmentEvent, webhook_events.on_appointment_changed)
    bus.on(AppointmentsCreated, outbox.on_appointments_created)
    bus.on(AppointmentEvent, outbox.on_appointment_changed)
    bus.on(AppointmentsCreated, item_sync.on_appointments_created)
    bus.on(AppointmentEvent, item_sync.on_appointment_changed)
    bus.on(AppointmentEvent, selfbooking.on_appointment_changed)  # the customer-message outbox
    bus.on(CalendarRenamed, item_sync.on_calendar_renamed)  # the collection's DAV:displayname
    return bus


def register_feed_changes(bus: MessageBus, changes: FeedChanges) -> None:
    """After a change commits, mark its calendars' feeds as changed (``infra/feed_changes.py``): every process
    answering feeds drops the ETag it holds for them before it answers another conditional request."""

    def on_created(_uow: UnitOfWork, event: AppointmentsCreated) -> None:
        changes.changed({a.calendar_id for a in event.appointments})

    def on_changed(_uow: UnitOfWork, event: AppointmentEvent) -> None:
        changes.changed({event.calendar_id, event.old_calendar_id or event.calendar_id})

    def on_renamed(_uow: UnitOfWork, event: CalendarRenamed) -> None:
        changes.changed({event.calendar_id})  # X-WR-CALNAME

    bus.on(AppointmentsCreated, on_created, after_commit=True)
    bus.on(CalendarRenamed, on_renamed, after_commit=True)
    bus.on(AppointmentEvent, on_changed, after_commit=True)
