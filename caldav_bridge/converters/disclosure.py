"""What a feed or calendar page may show of an appointment at a privacy level: one rule for both.

The iCal feed (:mod:`caldav_bridge.converters.ical`, served by ``services/feed_serving``) and the calendar page
(``services/calendar_page``, its HTML and its JSON) take everything they show of an appointment from
:func:`disclose`, and which appointments they list from :func:`lists_cancelled`, so that a level can never
show more on one channel than on the other (``tests/feeds/test_privacy_parity.py`` holds both to it).

| level | listed | title | status | type, place | notes and customers' names; categories, organizer, attendees |
|---|---|---|---|---|---|
| ``busy`` | not cancelled | ``Busy`` | no | no | no |
| ``minimal`` | all (cancelled ones for the grace period) | type and initials | yes | yes | no |
| ``full`` | all (likewise) | the appointment's name | yes | yes | yes |

Categories, organizer and attendees (``meta.categories``, ``meta.organizer``, ``meta.attendees``, from a CalDAV
client) are shown at ``full`` only: an attendee's e-mail address names a person as surely as their name.

A **busy block** (``meta.kind`` ``busy``: the fitter's own time, such as lunch or the dentist; see
:class:`~caldav_bridge.model.appointment.AppointmentKind`) is shown as ``Busy`` at every level but ``full``:
no title, place or notes; ``minimal`` keeps its status (so a cancelled one reads as cancelled). At ``full`` it
shows its own title, place and notes. It never shows a type (it has none).

A **team** calendar's feed and page name the member each appointment belongs to (:func:`member_labels`): at
``full`` the member's name, at ``minimal`` the first name (plus the last name's initial where two members
share one), at ``busy`` nobody. The label leads the title: ``Anna: Follow-up · J. D.``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from caldav_bridge.model.appointment import Appointment, AppointmentStatus, Guest, is_busy_block
from caldav_bridge.model.feeds import Privacy

__all__ = [
    "BUSY_TITLE",
    "TYPE_LABELS",
    "Contact",
    "Disclosed",
    "categories",
    "contacts",
    "description",
    "disclose",
    "guest_initials",
    "is_email",
    "lists_cancelled",
    "location",
    "location_text",
    "member_labels",
    "summary",
]

#: The title of whatever a level shows only as busy time.
BUSY_TITLE = "Busy"
TYPE_LABELS = {"INITIAL": "Initial appointment", "FOLLOW_UP": "Follow-up", "TECH_SETUP": "Tech setup call"}
_MAX_LOCATION = 255
#: An address a ``mailto:`` URI may carry unescaped (what ``converters.ical_parse`` accepts from a client).
_EMAIL = re.compile(r"[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Contact:
    """An organizer or attendee with an e-mail address (``meta.organizer``, ``meta.attendees``)."""

    email: str
    name: str | None = None
    guest_id: str | None = None


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
    #: On a team calendar: the member it belongs to, as the level names them (already part of ``title``).
    member: str | None = None
    #: ``full`` only: ``meta.categories``, ``meta.organizer`` and ``meta.attendees`` (:func:`contacts`).
    categories: tuple[str, ...] = ()
    organizer: Contact | None = None
    attendees: tuple[Contact, ...] = ()

    @property
    def cancelled(self) -> bool:
        return self.status is AppointmentStatus.CANCELLED


def lists_cancelled(privacy: Privacy) -> bool:
    """Whether cancelled appointments are listed at all (for their grace period): not at ``busy``,
    where a cancelled appointment is free time, not a busy block."""
    return privacy is not Privacy.BUSY


def disclose(appointment: Appointment, privacy: Privacy, member: str | None = None) -> Disclosed:
    """What ``privacy`` shows of ``appointment`` (which must be listed at that level); ``member`` is the
    label :func:`member_labels` gave its calendar on a team calendar (never shown at ``busy``)."""
    shown = _disclose(appointment, privacy)
    if member and privacy is not Privacy.BUSY:
        return replace(shown, title=f"{member}: {shown.title}", member=member)
    return shown


def member_labels(names: Mapping[str, str], privacy: Privacy) -> dict[str, str]:
    """How a team calendar names its members (calendar id → label) at ``privacy``: ``full`` the member's
    name, ``minimal`` the first name (with the last name's initial where two members share a first
    name), ``busy`` nobody (an empty mapping)."""
    if privacy is Privacy.BUSY:
        return {}
    words = {calendar_id: name.split() for calendar_id, name in names.items() if name and name.strip()}
    if privacy is Privacy.FULL:
        return {calendar_id: " ".join(parts) for calendar_id, parts in words.items()}
    firsts = Counter(parts[0] for parts in words.values())
    return {
        calendar_id: f"{parts[0]} {parts[-1][0]}." if firsts[parts[0]] > 1 and len(parts) > 1 else parts[0]
        for calendar_id, parts in words.items()
    }


def _disclose(appointment: Appointment, privacy: Privacy) -> Disclosed:
    if privacy is Privacy.BUSY:
        return Disclosed(title=BUSY_TITLE, status=None, type=None, location=None, description=None)
    if is_busy_block(appointment):
        if privacy is Privacy.FULL:
            return Disclosed(
                title=appointment.name,
                status=appointment.status,
                type=None,
                location=location(appointment),
                description=appointment.description or None,
                **_full_only(appointment),
            )
        return Disclosed(title=BUSY_TITLE, status=appointment.status, type=None, location=None, description=None)
    full = privacy is Privacy.FULL
    return Disclosed(
        title=summary(appointment, privacy),
        status=appointment.status,
        type=appointment.meta.type.value,
        location=location(appointment),
        description=description(appointment) if full else None,
        **(_full_only(appointment) if full else {}),
    )


def _full_only(appointment: Appointment) -> dict[str, Any]:
    organizer, attendees = contacts(appointment)
    return {"categories": categories(appointment), "organizer": organizer, "attendees": attendees}


def categories(appointment: Appointment) -> tuple[str, ...]:
    """``meta.categories`` (texts only)."""
    value = getattr(appointment.meta, "categories", None)
    return tuple(c for c in value if isinstance(c, str) and c) if isinstance(value, list) else ()


def contacts(appointment: Appointment) -> tuple[Contact | None, tuple[Contact, ...]]:
    """``meta.organizer`` and ``meta.attendees`` as contacts; entries without a usable e-mail address left out."""
    organizer = _contact(getattr(appointment.meta, "organizer", None))
    listed = getattr(appointment.meta, "attendees", None)
    found = (_contact(a) for a in listed) if isinstance(listed, list) else ()
    return organizer, tuple(c for c in found if c is not None)


def is_email(value: str) -> bool:
    """Whether ``value`` is an e-mail address a ``mailto:`` value may carry as it is (no spaces, quotes,
    commas, semicolons or colons; at most 254 characters)."""
    return len(value) <= 254 and _EMAIL.fullmatch(value) is not None


def _contact(value: Any) -> Contact | None:
    if not isinstance(value, dict):
        return None
    email, name, guest_id = value.get("email"), value.get("name"), value.get("guest_id")
    if not isinstance(email, str) or not is_email(email):
        return None
    return Contact(
        email,
        _CONTROL.sub("", name) or None if isinstance(name, str) else None,
        guest_id if isinstance(guest_id, str) and guest_id else None,
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
    """The place calendars show (``meta.location``, at most 255 characters), or None."""
    shown = location_text(getattr(appointment.meta, "location", None))
    return shown[:_MAX_LOCATION] if shown else None


def location_text(value: Any) -> str | None:
    """The text of a ``meta.location``: the string, or an object's ``name`` or ``address``; None if empty."""
    if isinstance(value, dict):
        value = value.get("name") or value.get("address")
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def summary(appointment: Appointment, privacy: Privacy) -> str:
    if privacy is Privacy.FULL:
        return appointment.name
    if privacy is Privacy.BUSY or is_busy_block(appointment):
        return BUSY_TITLE
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
