"""Calendly scheduled events (API v2 ``/scheduled_events/{uuid}`` resource) ↔ canonical.

Calendly knows two statuses. ``active`` is BOOKED. ``canceled`` is CANCELLED, or RESCHEDULED when the
cancellation was a reschedule (Calendly cancels the old event and creates a new one). The event resource
itself does not say which: Calendly puts ``"rescheduled": true`` on the *invitee* (and on the
``invitee.canceled`` webhook). A caller that has it copies it onto the event as ``"rescheduled": true``;
exports of RESCHEDULED write it there too. INITIAL and RESERVED have no Calendly status: exporting
them is an error, since a scheduled event only exists once booked.

``event_type`` (a URI) is looked up in :attr:`CalendlyOptions.event_types`, by the whole URI or by its
last path segment (the event type's UUID). There are no defaults: event types belong to an account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from caldav_bridge.converters._common import (
    Reader,
    build,
    configure_hint,
    freeze_table,
    iso_z,
    join_path,
    json_copy,
    meta_place,
    place_text,
    remembered,
)
from caldav_bridge.converters.base import CalendarHint, ConvertedAppointment, FormatConverter
from caldav_bridge.converters.errors import ConversionError
from caldav_bridge.errors import FieldError
from caldav_bridge.model.appointment import Appointment, AppointmentStatus, AppointmentType, Guest

__all__ = ["CONVERTER", "EVENT_TYPE_BASE", "FORMAT", "CalendlyOptions", "from_canonical", "to_canonical"]

FORMAT = "calendly"
#: Where a bare event type UUID from the table is expanded to a URI on export.
EVENT_TYPE_BASE = "https://api.calendly.com/event_types/"

_STATUS_OUT = {
    AppointmentStatus.BOOKED: "active",
    AppointmentStatus.CANCELLED: "canceled",
    AppointmentStatus.RESCHEDULED: "canceled",
}
#: The keys of an event guest that become keys of our guest (all others are left in Calendly).
_GUEST_KEYS = ("email", "created_at", "updated_at")
_SOURCE_FIELDS = {
    "name": "name",
    "description": "meeting_notes_plain",
    "date_start": "start_time",
    "date_end": "end_time",
    "guests.*": "event_guests.*",
    "guests": "event_guests",
}


@dataclass(frozen=True)
class CalendlyOptions:
    """Attributes:
    event_types: event type URI (or just its UUID) → our type. No defaults.
    """

    event_types: Mapping[str, AppointmentType] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_types", freeze_table(self.event_types, AppointmentType, "calendly event_types"))

    def type_of(self, event_type: str) -> AppointmentType | None:
        """The type configured for a URI, by the whole URI or by its UUID."""
        found = self.event_types.get(event_type)
        return found if found is not None else self.event_types.get(event_type.rstrip("/").rsplit("/", 1)[-1])


_DEFAULTS = CalendlyOptions()


def to_canonical(payload: object, options: CalendlyOptions | None = None) -> ConvertedAppointment:
    """One Calendly scheduled event. Raises :class:`ConversionError` naming every bad field."""
    options = options or _DEFAULTS
    r = Reader(FORMAT, payload)
    p = r.root
    uri = r.source_id(p, "uri")
    name = r.text(p, "name", required=True)
    status = _read_status(r, p)
    start = r.time(p, "start_time", required=True)
    end = r.time(p, "end_time", required=True)
    r.interval(start, end, "end_time")
    event_type = r.text(p, "event_type", required=True)
    type_ = None
    if event_type is not None:
        type_ = options.type_of(event_type)
        if type_ is None:
            r.error(
                "event_type", f"Calendly event type {event_type[:120]!r} is not mapped; add it to the converter's table"
            )
    created_at = r.time(p, "created_at")
    updated_at = r.time(p, "updated_at")
    description = r.text(p, "meeting_notes_plain")
    memberships = _read_memberships(r, p)
    guests = _read_guests(r, p)
    kept: dict[str, Any] = {
        "uri": uri,
        "event_type": event_type,
        "location": r.get(p, "location", "object"),
        "invitees_counter": r.get(p, "invitees_counter", "object"),
        "event_memberships": memberships or None,
        "cancellation": r.get(p, "cancellation", "object"),
    }
    r.check()

    host = memberships[0] if memberships else None
    return build(
        FORMAT,
        {
            "source_id": uri,
            "calendar_hint": (
                CalendarHint(kind="user", id=host["user"], name=_str_or_none(host.get("user_name"))) if host else None
            ),
            "created_at": created_at,
            "updated_at": updated_at,
            "date_start": start,
            "date_end": end,
            "description": description,
            "guests": guests,
            "meta": {
                "type": type_,
                FORMAT: {k: json_copy(v) for k, v in kept.items() if v is not None},
                **_place_in(kept["location"]),
            },
            "name": name,
            "status": status,
        },
        _SOURCE_FIELDS,
    )


def from_canonical(appointment: Appointment, options: CalendlyOptions | None = None) -> dict[str, Any]:
    """The appointment as a Calendly scheduled event."""
    options = options or _DEFAULTS
    kept = remembered(appointment, FORMAT)
    errors = []
    status = _STATUS_OUT.get(appointment.status)
    if status is None:
        errors.append(
            FieldError("status", f"Calendly has no status for {appointment.status}: its events exist only once booked")
        )
    event_type = _event_type_out(options, appointment.meta.type, kept.get("event_type"))
    if event_type is None:
        errors.append(
            FieldError(
                "meta.type", configure_hint("Calendly event type", appointment.meta.type, "calendly_event_types")
            )
        )
    if errors:
        raise ConversionError(FORMAT, errors)

    uri = kept.get("uri")
    out: dict[str, Any] = {
        "uri": uri if isinstance(uri, str) else f"urn:uuid:{appointment.id}",
        "name": appointment.name,
        "status": status,
        "start_time": iso_z(appointment.date_start),
        "end_time": iso_z(appointment.date_end),
        "event_type": event_type,
        "created_at": iso_z(appointment.created_at),
        "updated_at": iso_z(appointment.updated_at),
        "event_memberships": kept.get("event_memberships") or [_membership(appointment)],
        "event_guests": [guest for guest in map(_guest_out, appointment.guests) if guest],
    }
    if appointment.status is AppointmentStatus.RESCHEDULED:
        out["rescheduled"] = True
    if appointment.description is not None:
        out["meeting_notes_plain"] = appointment.description
    location = _location_out(appointment, kept.get("location"))
    if location is not None:
        out["location"] = location
    if isinstance(kept.get("invitees_counter"), Mapping):
        out["invitees_counter"] = kept["invitees_counter"]
    if status == "canceled" and isinstance(kept.get("cancellation"), Mapping):
        out["cancellation"] = kept["cancellation"]
    return out


#: Calendly location types whose ``location`` is a place (``meta.location``); the others hold a phone number (the
#: invitee's, for ``outbound_call``: patient data, never a place feeds show) or a conference.
_PLACE_TYPES = frozenset({"physical", "custom"})


def _place_in(location: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"location": …}`` for ``meta`` if the Calendly location is a place, else nothing."""
    if location is None or location.get("type") not in _PLACE_TYPES:
        return {}
    place = place_text(location.get("location"))
    return {"location": place} if place else {}


def _location_out(appointment: Appointment, kept: object) -> Mapping[str, Any] | None:
    """``location``: the one the event came with, its place replaced by the appointment's (``meta.location``); a
    ``physical`` one for a place the event did not come with; none for a place it had and no longer has."""
    before = kept if isinstance(kept, Mapping) else None
    place = meta_place(appointment)
    is_place = before is not None and before.get("type") in _PLACE_TYPES and place_text(before.get("location"))
    if place is None:
        return None if is_place else before
    if before is None:
        return {"type": "physical", "location": place}
    return {**before, "location": place} if before.get("type") in _PLACE_TYPES else before


def _read_status(r: Reader, p: Mapping[str, Any]) -> AppointmentStatus | None:
    status = r.text(p, "status", required=True)
    rescheduled = r.get(p, "rescheduled", "boolean")
    if status == "active":
        if rescheduled:
            r.error("rescheduled", "only a canceled event can have been rescheduled")
        return AppointmentStatus.BOOKED
    if status == "canceled":
        return AppointmentStatus.RESCHEDULED if rescheduled else AppointmentStatus.CANCELLED
    if status is not None:
        r.error("status", f"unknown Calendly status {status[:40]!r}; expected 'active' or 'canceled'")
    return None


def _read_memberships(r: Reader, p: Mapping[str, Any]) -> list[dict[str, Any]]:
    memberships = []
    for i, item in enumerate(r.array(p, "event_memberships")):
        prefix = join_path("event_memberships", i)
        if not isinstance(item, Mapping):
            r.error(prefix, "expected an object")
            continue
        if r.text(item, "user", prefix=prefix, required=True) is not None:
            memberships.append(json_copy(item))
    return memberships


def _read_guests(r: Reader, p: Mapping[str, Any]) -> list[dict[str, Any]]:
    guests = []
    for i, item in enumerate(r.array(p, "event_guests")):
        prefix = join_path("event_guests", i)
        if not isinstance(item, Mapping):
            r.error(prefix, "expected an object")
            continue
        guest: dict[str, Any] = {"email": r.text(item, "email", prefix=prefix, required=True)}
        for key in ("created_at", "updated_at"):
            when = r.time(item, key, prefix=prefix)
            if when is not None:
                guest[key] = iso_z(when)
        guests.append(guest)
    return guests


def _event_type_out(options: CalendlyOptions, wanted: AppointmentType, kept: object) -> str | None:
    if isinstance(kept, str) and options.type_of(kept) == wanted:
        return kept
    key = next((k for k, v in options.event_types.items() if v == wanted), None)
    if key is None:
        return None
    return key if "/" in key else EVENT_TYPE_BASE + key


def _membership(appointment: Appointment) -> dict[str, str]:
    """Without a Calendly host on record, our calendar stands in for it."""
    membership = {"user": appointment.calendar.id}
    if appointment.calendar.name is not None:
        membership["user_name"] = appointment.calendar.name
    return membership


def _guest_out(guest: Guest) -> dict[str, Any]:
    """An event guest for a guest with an e-mail address (Calendly has nothing else for a guest)."""
    extra = guest.model_extra or {}
    if not isinstance(extra.get("email"), str):
        return {}
    return {key: extra[key] for key in _GUEST_KEYS if isinstance(extra.get(key), str)}


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


CONVERTER: FormatConverter[CalendlyOptions] = FormatConverter(FORMAT, CalendlyOptions, to_canonical, from_canonical)
