"""The domain events: plain data, raised by the services, handled in the change's transaction.

Every event carries the :class:`~caldav_bridge.services.actor.Actor` that made the change: its
``channel`` says where it came from (``caldav``: the DAV store writes that item itself; ``sync``:
mirrored from Salesforce, not queued back to it; ``scheduling``: a consequence of another change).
Handlers decide from it, per event; nothing rides on the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from caldav_bridge.model.series import Override
from caldav_bridge.services.actor import Actor
from caldav_bridge.store.plain_rows import PlainRow

__all__ = [
    "AppointmentCancelled",
    "AppointmentChanged",
    "AppointmentDeleted",
    "AppointmentEvent",
    "AppointmentMoved",
    "AppointmentRescheduled",
    "AppointmentsCreated",
    "BookingMade",
    "CalendarRenamed",
    "Event",
    "HoldExpired",
    "OccurrenceChanged",
    "OverlapCheck",
    "TechSetupUnscheduled",
]


@dataclass(frozen=True)
class Event:
    """Base of every domain event."""

    actor: Actor


@dataclass(frozen=True)
class CalendarRenamed(Event):
    """A calendar got a new name (REST, or a CalDAV client's PROPPATCH of DAV:displayname)."""

    calendar_id: str
    old_name: str
    name: str


@dataclass(frozen=True)
class AppointmentsCreated(Event):
    """New appointments (one REST create, a CalDAV PUT, a booking, an import chunk, a mirror page).

    ``appointments`` are the new values as inserted (plain data, no ORM rows); ``action`` is the
    audit action (``create``, ``mirror``), ``details`` one audit detail per appointment (or empty).
    ``bulk`` marks an import chunk: only calendars that already have a DAV collection get items
    (a collection made later renders its appointments then).
    """

    appointments: tuple[PlainRow, ...]
    action: str = "create"
    details: tuple[str | None, ...] = ()
    bulk: bool = False


@dataclass(frozen=True)
class AppointmentEvent(Event):
    """A change of one existing appointment: what it was and what it is now.

    ``action`` is the audit action (``update``, ``book``, ``cancel``, ``reschedule``, ``delete``,
    ``move``, ``mirror``, ``reconcile``); ``reason`` goes to the status history.
    """

    appointment_id: str
    calendar_id: str
    action: str
    old_status: str
    new_status: str
    old_start: datetime
    new_start: datetime
    old_end: datetime
    new_end: datetime
    reason: str | None = None
    old_calendar_id: str | None = None

    @property
    def times_changed(self) -> bool:
        return (self.old_start, self.old_end) != (self.new_start, self.new_end)

    @property
    def status_changed(self) -> bool:
        return self.old_status != self.new_status

    @property
    def moved(self) -> bool:
        return self.old_calendar_id is not None and self.old_calendar_id != self.calendar_id


@dataclass(frozen=True)
class AppointmentChanged(AppointmentEvent):
    """Fields changed (name, guests, meta, a status other than cancelled); times the same."""


class OverlapCheck(StrEnum):
    """What a moved (or brought-back) occurrence's new time is checked against (``scheduling.occurrence_conflicts``)."""

    #: Slot claims (scheduling's bookings, with buffers) and any other busy time of the calendar: a REST change of
    #: one occurrence.
    BUSY = "busy"
    #: Slot claims only: a REST change of one occurrence with ``allow_overlap``.
    CLAIMS = "claims"
    #: Nothing: the occurrence changed with its whole series (a CalDAV client's PUT), which is checked as any
    #: change of an appointment is (only a slot claim of its own follows it: ``scheduling.hooks``).
    NONE = "none"


@dataclass(frozen=True)
class OccurrenceChanged(AppointmentChanged):
    """One occurrence of a series was moved, retitled, cancelled or brought back (its RECURRENCE-ID override, or
    an EXDATE): ``before`` and ``after`` are that occurrence (``before`` unchanged: no override of its own yet),
    ``changed`` the fields the change gave it; ``overlap`` what its new time is checked against. The series' own
    times and status are the same before and after."""

    before: Override | None = None
    after: Override | None = None
    changed: tuple[str, ...] = ()
    overlap: OverlapCheck = OverlapCheck.BUSY

    @property
    def occupies_new_time(self) -> bool:
        """Whether the occurrence takes time it did not take before (moved, or brought back)."""
        if self.before is None or self.after is None or self.after.cancelled:
            return False
        moved = (self.before.start, self.before.end) != (self.after.start, self.after.end)
        return moved or self.before.cancelled


@dataclass(frozen=True)
class AppointmentRescheduled(AppointmentEvent):
    """The appointment's times changed (or it was rescheduled)."""


@dataclass(frozen=True)
class AppointmentCancelled(AppointmentEvent):
    """The appointment became CANCELLED."""


@dataclass(frozen=True)
class AppointmentDeleted(AppointmentEvent):
    """The appointment was deleted (kept as a tombstone)."""


@dataclass(frozen=True)
class AppointmentMoved(AppointmentEvent):
    """The appointment moved to another calendar (``old_calendar_id`` → ``calendar_id``)."""


@dataclass(frozen=True)
class HoldExpired(Event):
    """A reserved slot's hold ran out; the appointment was cancelled (an :class:`AppointmentCancelled` too)."""

    appointment_id: str
    calendar_id: str


@dataclass(frozen=True)
class BookingMade(Event):
    """A booking flow placed an appointment on a slot (``hold``: reserved until confirmed)."""

    appointment_id: str
    calendar_id: str
    kind: str
    hold: bool = False


@dataclass(frozen=True)
class TechSetupUnscheduled(Event):
    """A booked or moved INITIAL has no tech-setup call before it (no slot by the rule, no team): recorded on it as
    ``meta.tech_setup`` ``unscheduled``; ``cancelled_id`` is the stale call a move cancelled, if any."""

    appointment_id: str
    calendar_id: str
    detail: str | None = None
    cancelled_id: str | None = None
