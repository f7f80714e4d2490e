"""Timekit bookings (``/bookings/{id}``) ↔ canonical.

A booking's ``state`` follows its ``graph``. ``tentative`` does not hold the slot (INITIAL); ``confirmed``
and ``completed`` are BOOKED; ``declined`` and the ``cancelled*`` states are CANCELLED;
``rescheduled_by_customer`` is RESCHEDULED. ``error`` (a booking that failed) and unknown states are errors.
RESERVED has no Timekit state: exporting it is an error.

A booking names no event type, so the type comes from the booking's ``calendar.id`` through
:attr:`TimekitOptions.calendar_types` (set up one Timekit calendar per kind of appointment, as the
brief's sample does). There are no defaults. The same calendar is the calendar hint.

Times are ISO 8601 with an offset; exports write them in the first guest's time zone (else UTC).
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
    format_iso,
    freeze_table,
    join_path,
    json_copy,
    meta_place,
    pick_code,
    place_text,
    remembered,
    render_zone,
)
from caldav_bridge.converters.base import CalendarHint, ConvertedAppointment, FormatConverter
from caldav_bridge.converters.errors import ConversionError
from caldav_bridge.errors import FieldError
from caldav_bridge.model.appointment import Appointment, AppointmentStatus, AppointmentType, Guest

__all__ = [
    "CONVERTER",
    "DEFAULT_GRAPH",
    "FORMAT",
    "STATES",
    "TimekitOptions",
    "from_canonical",
    "join_name",
    "split_name",
    "to_canonical",
]

FORMAT = "timekit"
#: The graph written for a booking that did not come from Timekit: the one that has all our states.
DEFAULT_GRAPH = "confirm_decline"
#: Timekit state → our status. For each status the first state listed is the one exports write.
STATES: Mapping[str, AppointmentStatus] = MappingProxyType(
    {
        "tentative": AppointmentStatus.INITIAL,
        "confirmed": AppointmentStatus.BOOKED,
        "cancelled": AppointmentStatus.CANCELLED,
        "rescheduled_by_customer": AppointmentStatus.RESCHEDULED,
        "completed": AppointmentStatus.BOOKED,
        "declined": AppointmentStatus.CANCELLED,
        "cancelled_by_customer": AppointmentStatus.CANCELLED,
    }
)
#: States after which a booking takes no more actions (Timekit then sets ``completed``).
_FINAL = frozenset({"completed", "declined", "cancelled", "cancelled_by_customer", "rescheduled_by_customer"})
#: Customer keys that become keys of our guest (others, e.g. custom fields, stay in Timekit).
_CUSTOMER_KEYS = ("email", "phone", "voip")
_EVENT_INFO = "attributes.event_info"
_SOURCE_FIELDS = {
    "name": f"{_EVENT_INFO}.what",
    "description": f"{_EVENT_INFO}.description",
    "date_start": f"{_EVENT_INFO}.start",
    "date_end": f"{_EVENT_INFO}.end",
    "guests.*.first_name": "customers.*.name",
    "guests.*.last_name": "customers.*.name",
    "guests.*": "customers.*",
    "guests": "customers",
}


@dataclass(frozen=True)
class TimekitOptions:
    """Attributes:
    calendar_types: Timekit ``calendar.id`` → our type. No defaults.
    """

    calendar_types: Mapping[str, AppointmentType] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        table = freeze_table(self.calendar_types, AppointmentType, "timekit calendar_types")
        object.__setattr__(self, "calendar_types", table)


_DEFAULTS = TimekitOptions()


def split_name(name: str) -> tuple[str | None, str | None]:
    """``"Marty McFly"`` → ``("Marty", "McFly")``: split at the first space."""
    first, _, last = name.strip().partition(" ")
    return first or None, last.strip() or None


def join_name(first: str | None, last: str | None) -> str | None:
    return " ".join(part for part in (first, last) if part) or None


def to_canonical(payload: object, options: TimekitOptions | None = None) -> ConvertedAppointment:
    """One Timekit booking. Raises :class:`ConversionError` naming every bad field."""
    options = options or _DEFAULTS
    r = Reader(FORMAT, payload)
    p = r.root
    booking_id = r.source_id(p, "id")
    state = r.text(p, "state", required=True)
    status = _read_state(r, state)
    info = r.obj(r.obj(p, "attributes", required=True), "event_info", prefix="attributes", required=True)
    start = end = what = where = description = None
    if info is not None:
        start = r.time(info, "start", prefix=_EVENT_INFO, required=True)
        end = r.time(info, "end", prefix=_EVENT_INFO, required=True)
        r.interval(start, end, f"{_EVENT_INFO}.end")
        what = r.text(info, "what", prefix=_EVENT_INFO, required=True)
        where = r.text(info, "where", prefix=_EVENT_INFO)
        description = r.text(info, "description", prefix=_EVENT_INFO)
    calendar = r.obj(p, "calendar", required=True)
    calendar_id = calendar_name = None
    if calendar is not None:
        calendar_id = r.text(calendar, "id", prefix="calendar", required=True)
        calendar_name = r.text(calendar, "name", prefix="calendar")
    type_ = r.lookup(options.calendar_types, calendar_id, "calendar.id", "Timekit calendar")
    kept: dict[str, Any] = {
        "id": booking_id,
        "state": state,
        "graph": r.text(p, "graph"),
        "completed": r.get(p, "completed", "boolean"),
        "where": where,
        "calendar": json_copy(calendar),
    }
    fields = {
        "created_at": r.time(p, "created_at"),
        "updated_at": r.time(p, "updated_at"),
        "description": description,
        "guests": _read_customers(r, p),
    }
    r.check()

    return build(
        FORMAT,
        {
            **fields,
            "source_id": booking_id,
            "calendar_hint": CalendarHint(kind="calendar", id=calendar_id, name=calendar_name) if calendar_id else None,
            "date_start": start,
            "date_end": end,
            "meta": {
                "type": type_,
                FORMAT: {k: v for k, v in kept.items() if v is not None},
                **({"location": where} if place_text(where) else {}),
            },
            "name": what,
            "status": status,
        },
        _SOURCE_FIELDS,
    )


def _where_out(appointment: Appointment, remembered_where: object) -> str | None:
    """``where``: the appointment's place (``meta.location``); without one, a blank ``where`` it came with (a
    place it came with and no longer has is gone)."""
    place = meta_place(appointment)
    if place is not None:
        return place
    return remembered_where if isinstance(remembered_where, str) and not remembered_where.strip() else None


def from_canonical(appointment: Appointment, options: TimekitOptions | None = None) -> dict[str, Any]:
    """The appointment as a Timekit booking."""
    options = options or _DEFAULTS
    kept = remembered(appointment, FORMAT)
    state = pick_code(STATES, appointment.status, kept.get("state"))
    calendar = _calendar_out(options, appointment.meta.type, kept.get("calendar"))
    errors = []
    if state is None:
        errors.append(FieldError("status", f"Timekit has no booking state for {appointment.status}"))
    if calendar is None:
        errors.append(
            FieldError("meta.type", configure_hint("Timekit calendar", appointment.meta.type, "timekit_calendar_types"))
        )
    if errors or state is None or calendar is None:
        raise ConversionError(FORMAT, errors)

    zone = render_zone(appointment)
    event_info: dict[str, Any] = {
        "start": format_iso(appointment.date_start, zone),
        "end": format_iso(appointment.date_end, zone),
        "what": appointment.name,
    }
    where = _where_out(appointment, kept.get("where"))
    if where is not None:
        event_info["where"] = where
    if appointment.description is not None:
        event_info["description"] = appointment.description
    completed = kept.get("completed") if state == kept.get("state") else None
    booking_id = kept.get("id")
    graph = kept.get("graph")
    return {
        "id": booking_id if isinstance(booking_id, str) else str(appointment.id),
        "state": state,
        "graph": graph if isinstance(graph, str) else DEFAULT_GRAPH,
        "completed": completed if isinstance(completed, bool) else state in _FINAL,
        "attributes": {"event_info": event_info},
        "calendar": calendar,
        "customers": [_customer_out(guest) for guest in appointment.guests],
        "created_at": format_iso(appointment.created_at),
        "updated_at": format_iso(appointment.updated_at),
    }


def _read_state(r: Reader, state: str | None) -> AppointmentStatus | None:
    if state is None:
        return None
    if state == "error":
        r.error("state", "a booking in state 'error' failed in Timekit and has no canonical status")
        return None
    status = STATES.get(state)
    if status is None:
        r.error("state", f"unknown Timekit state {state[:40]!r}; expected one of {', '.join(STATES)}")
    return status


def _read_customers(r: Reader, p: Mapping[str, Any]) -> list[dict[str, Any]]:
    guests = []
    for i, item in enumerate(r.array(p, "customers")):
        prefix = join_path("customers", i)
        if not isinstance(item, Mapping):
            r.error(prefix, "expected an object")
            continue
        guest: dict[str, Any] = {}
        customer_id = r.ident(item, "id", prefix=prefix)
        if customer_id is not None:
            guest["id"] = str(customer_id)
        name = r.text(item, "name", prefix=prefix)
        if name is not None:
            guest["first_name"], guest["last_name"] = split_name(name)
        timezone = r.text(item, "timezone", prefix=prefix)
        if timezone is not None:
            guest["timezone"] = timezone
        for key in _CUSTOMER_KEYS:
            value = r.text(item, key, prefix=prefix)
            if value is not None:
                guest[key] = value
        guests.append(guest)
    return guests


def _calendar_out(options: TimekitOptions, wanted: AppointmentType, kept: object) -> dict[str, Any] | None:
    """The booking's calendar: the remembered one while it still means the type, else the configured one."""
    if (
        isinstance(kept, Mapping)
        and isinstance(kept.get("id"), str)
        and options.calendar_types.get(kept["id"]) == wanted
    ):
        return dict(kept)
    calendar_id = pick_code(options.calendar_types, wanted)
    return {"id": calendar_id} if calendar_id is not None else None


def _customer_out(guest: Guest) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if guest.id is not None:
        out["id"] = guest.id
    name = join_name(guest.first_name, guest.last_name)
    if name is not None:
        out["name"] = name
    if guest.timezone is not None:
        out["timezone"] = guest.timezone
    extra = guest.model_extra or {}
    out |= {key: extra[key] for key in _CUSTOMER_KEYS if isinstance(extra.get(key), str)}
    return out


CONVERTER: FormatConverter[TimekitOptions] = FormatConverter(FORMAT, TimekitOptions, to_canonical, from_canonical)
