"""What every converter returns and promises.

``to_canonical`` cannot return a finished :class:`~caldav_bridge.model.appointment.Appointment`: no
other system knows our appointment UUID or our calendar ids, and some have no created/updated times.
It returns a :class:`ConvertedAppointment`: every canonical field the format carries, plus

* ``source_id``: the item's id in the source system (Blueprint ``appointment_id``, Calendly ``uri``,
  Timekit ``id``, OnSched ``id``), the key an idempotent import upserts by;
* ``calendar_hint``: who the source system says the appointment is with (Blueprint provider, Calendly
  host user, Timekit calendar, OnSched resource), for the import service to map to one of our calendars.

The source id and the source fields that have no canonical home are also kept under
``meta.<format>`` (``meta.calendly.uri``), so that ``from_canonical`` can give them back.
:meth:`ConvertedAppointment.to_appointment` adds what only our side knows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator

from caldav_bridge.model.appointment import (
    MAX_DESCRIPTION,
    MAX_GUESTS,
    MAX_NAME,
    Appointment,
    CalendarRef,
    Guest,
    Meta,
    StatusField,
    check_interval,
)
from caldav_bridge.model.timestamps import UtcTimestamp, to_utc_ms

__all__ = ["CalendarHint", "ConvertedAppointment", "Converter", "FormatConverter"]


class CalendarHint(BaseModel):
    """The source system's name for the person or resource the appointment is with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: ``provider`` (Blueprint), ``user`` (Calendly), ``calendar`` (Timekit, canonical), ``resource`` (OnSched).
    kind: str
    id: str
    name: str | None = None


class ConvertedAppointment(BaseModel):
    """An appointment read from another format, before our side gives it an id and a calendar."""

    model_config = ConfigDict(extra="forbid")

    format: str
    source_id: str
    calendar_hint: CalendarHint | None = None
    created_at: UtcTimestamp | None = None
    updated_at: UtcTimestamp | None = None
    date_start: UtcTimestamp
    date_end: UtcTimestamp
    description: Annotated[str | None, Field(max_length=MAX_DESCRIPTION)] = None
    guests: Annotated[list[Guest], Field(max_length=MAX_GUESTS)] = Field(default_factory=list)
    meta: Meta
    name: Annotated[str, Field(max_length=MAX_NAME)]
    status: StatusField
    #: The wall times of a start and an end given without a zone (an iCalendar floating time, an all-day event's
    #: date), which mean a time in the zone of the calendar the item lands on. ``date_start``/``date_end`` hold
    #: them read in the format's default zone until :meth:`in_zone` reads them in that calendar's zone. ``None``:
    #: the time had a zone. Not part of the item's data (never dumped).
    local_start: datetime | None = Field(default=None, exclude=True)
    local_end: datetime | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _end_after_start(self) -> ConvertedAppointment:
        check_interval(self.date_start, self.date_end)
        return self

    def in_zone(self, zone: str) -> ConvertedAppointment:
        """The item with its zone-less times (``local_start``, ``local_end``) read in ``zone`` (an IANA name; an
        unknown one is UTC), as a CalDAV PUT into a calendar of that zone reads the same event; itself if it has
        none. A wall time that does not exist there or occurs twice is read as the PUT reads it (``fold=0``).

        Raises :class:`~caldav_bridge.errors.FieldValueError` (a ``ValueError``) naming ``date_end`` or
        ``date_start`` if the times read there do not make an appointment (an end not after the start).
        """
        if self.local_start is None and self.local_end is None:
            return self
        try:
            tz: ZoneInfo = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            tz = ZoneInfo("UTC")
        start = to_utc_ms(self.local_start.replace(tzinfo=tz)) if self.local_start is not None else self.date_start
        end = to_utc_ms(self.local_end.replace(tzinfo=tz)) if self.local_end is not None else self.date_end
        check_interval(start, end)
        return self.model_copy(update={"date_start": start, "date_end": end, "local_start": None, "local_end": None})

    def to_appointment(self, *, id: uuid.UUID, calendar: CalendarRef, now: datetime) -> Appointment:
        """The canonical appointment, with our ``id`` and ``calendar``; missing times become ``now``."""
        now = to_utc_ms(now)
        return Appointment.model_validate(
            {
                "calendar": calendar,
                "created_at": self.created_at or now,
                "date_end": self.date_end,
                "date_start": self.date_start,
                "description": self.description,
                "guests": self.guests,
                "id": id,
                "meta": self.meta,
                "name": self.name,
                "status": self.status,
                "updated_at": self.updated_at or self.created_at or now,
            }
        )


class Converter(Protocol):
    """One appointment format, both directions. Pure: no I/O, no logging, no clock."""

    @property
    def name(self) -> str: ...

    @property
    def options_type(self) -> type[Any]:
        """The frozen dataclass of this format's tables and switches; ``options_type()`` is the default."""
        ...

    def to_canonical(self, payload: object, options: Any = None) -> ConvertedAppointment:
        """Read one item of the format (decoded JSON). Raises ``ConversionError`` naming every bad field."""
        ...

    def from_canonical(self, appointment: Appointment, options: Any = None) -> dict[str, Any]:
        """Write one appointment as the format's JSON object. Raises ``ConversionError`` (naming the
        canonical field) for what the format has no code for."""
        ...


OptionsT = TypeVar("OptionsT")


@dataclass(frozen=True)
class FormatConverter(Generic[OptionsT]):
    """A format module's two functions behind the :class:`Converter` interface."""

    name: str
    options_type: type[OptionsT]
    read: Callable[[object, OptionsT], ConvertedAppointment]
    write: Callable[[Appointment, OptionsT], dict[str, Any]]

    def to_canonical(self, payload: object, options: OptionsT | None = None) -> ConvertedAppointment:
        return self.read(payload, self._options(options))

    def from_canonical(self, appointment: Appointment, options: OptionsT | None = None) -> dict[str, Any]:
        return self.write(appointment, self._options(options))

    def _options(self, options: OptionsT | None) -> OptionsT:
        if options is None:
            return self.options_type()
        if not isinstance(options, self.options_type):
            raise TypeError(f"{self.name} takes {self.options_type.__name__}, not {type(options).__name__}")
        return options
