"""What a feed or calendar page may show of an appointment at a privacy level: one rule for both.

The iCal feed (:mod:`caldav_bridge.converters.ical`, served by ``services/feed_serving``) and the calendar page
(``services/calendar_page``, its HTML and its JSON) take everything they show of an appointment from
:func:`disclose`, and which appointments they list from :func:`lists_cancelled`, so that a level can never
show more on one channel than on the other (``tests/feeds/test_privacy_parity.py`` holds both to it).

| level | listed | title | status | type, place | notes and customers' names |
|---|---|---|---|---|---|
| ``busy`` | not cancelled | ``Busy`` | no | no | no |
| ``minimal`` | all (cancelled ones for the grace period) | type and initials | yes | yes | no |
| ``full`` | all (likewise) | the appointment's name | yes | yes | yes |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from caldav_bridge.model.appointment import Appointment, AppointmentStatus, Guest
from caldav_bridge.model.feeds import Privacy

__all__ = [
    "TYPE_LABELS",
    "Disclosed",
    "description",
    "disclose",
    "guest_initials",
    "lists_cancelled",
    "location",
    "summary",
]

TYPE_LABELS = {"INITIAL": "Initial appointment", "FOLLOW_UP": "Follow-up", "TECH_SETUP": "Tech setup call"}
_MAX_LOCATION = 255


@dataclass(frozen=True)
class Disclosed:
    """The parts of an appointment a level shows; ``None`` where the level shows nothing."""

    title: str
    #: ``None`` at ``busy``: a busy block has no status (the feed writes no STATUS).
    status: AppointmentStatus | None
    type: str | None
    location: str | None
    #: The feed's DESCRIPTION (the notes and the customers' names): ``full`` only.
    description: str | None

    @property
    def cancelled(self) -> bool:
        return self.status is AppointmentStatus.CANCELLED


def lists_cancelled(privacy: Privacy) -> bool:
    """Whether cancelled appointments are listed at all (for their grace period): not at ``busy``,
    where a cancelled appointment is free time, not a busy block."""
    return privacy is not Privacy.BUSY


def disclose(appointment: Appointment, privacy: Privacy) -> Disclosed:
    """What ``privacy`` shows of ``appointment`` (which must be listed at that level)."""
    if privacy is Privacy.BUSY:
        return Disclosed(title="Busy", status=None, type=None, location=None, description=None)
    return Disclosed(
        title=summary(appointment, privacy),
        status=appointment.status,
        type=appointment.meta.type.value,
        location=location(appointment),
        description=description(appointment) if privacy is Privacy.FULL else None,
    )


def guest_initials(guests: Sequence[Guest]) -> str:
    """``J. D.`` for Jane Doe; several guests joined with ``, ``; empty when no names are known."""
    parts = []
    for guest in guests:
        letters = [n.strip()[0].upper() + "." for n in (guest.first_name, guest.last_name) if n and n.strip()]
        if letters:
            parts.append(" ".join(letters))
    return ", ".join(parts)


def location(appointment: Appointment) -> str | None:
    value: Any = getattr(appointment.meta, "location", None)
    if isinstance(value, dict):
        value = value.get("name") or value.get("address")
    if isinstance(value, str) and value.strip():
        return value.strip()[:_MAX_LOCATION]
    return None


def summary(appointment: Appointment, privacy: Privacy) -> str:
    if privacy is Privacy.BUSY:
        return "Busy"
    if privacy is Privacy.FULL:
        return appointment.name
    label = TYPE_LABELS.get(appointment.meta.type, "Appointment")
    initials = guest_initials(appointment.guests)
    return f"{label} · {initials}" if initials else label


def description(appointment: Appointment) -> str | None:
    lines = []
    if appointment.description:
        lines.append(appointment.description)
    names = [" ".join(n for n in (g.first_name, g.last_name) if n) for g in appointment.guests]
    names = [n for n in names if n]
    if names:
        lines.append(("Customer: " if len(names) == 1 else "Customers: ") + ", ".join(names))
    return "\n\n".join(lines) or None
