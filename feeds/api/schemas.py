"""Request and response shapes that exist only at the HTTP edge (queries, pages)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from caldav_bridge.model.appointment import Appointment
from caldav_bridge.model.calendar import Calendar
from caldav_bridge.model.queries import AppointmentListQuery
from caldav_bridge.model.timestamps import UtcTimestamp

__all__ = [
    "AppointmentListParams",
    "AppointmentListQuery",
    "AppointmentPage",
    "CalendarList",
    "HistoryEntry",
    "HistoryList",
    "ListedAppointment",
]


class AppointmentListParams(AppointmentListQuery):
    """``GET /appointments``: the listing's filters and page, and whether to expand series."""

    expand: Annotated[
        bool,
        Field(
            description="One item per occurrence between `from` and `to` (both required, at most 92 days apart): a "
            "series written over CalDAV (`meta.recurrence`) gives each of its occurrences there, with its times and "
            "`recurrence_id` (the occurrence's original start), all with the series' `id`; a single appointment is "
            "one item with `recurrence_id` null. Ordered by (start, id, recurrence_id); cancelled and removed "
            "occurrences are left out"
        ),
    ] = False


class ListedAppointment(Appointment):
    """An appointment in a listing; with ``expand=true``, one occurrence of it."""

    recurrence_id: UtcTimestamp | None = Field(
        default=None,
        description="Only with `expand=true`: the original start of this occurrence of a series (RFC 5545 "
        "RECURRENCE-ID); null for a single appointment",
    )


class AppointmentPage(BaseModel):
    items: list[ListedAppointment]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class CalendarList(BaseModel):
    items: list[Calendar]


class HistoryEntry(BaseModel):
    """One change of status or start time; or of one occurrence of a series (``recurrence_id``: its original
    start; the statuses and starts are that occurrence's, ``changed`` the fields the change gave it)."""

    old_status: str | None
    new_status: str
    old_start: UtcTimestamp | None
    new_start: UtcTimestamp | None
    at: UtcTimestamp
    actor: str | None
    channel: str
    reason: str | None
    recurrence_id: UtcTimestamp | None = None
    changed: list[str] | None = None

    @field_validator("changed", mode="before")
    @classmethod
    def split_changed(cls, value: object) -> object:
        return value.split() if isinstance(value, str) else value


class HistoryList(BaseModel):
    items: list[HistoryEntry]
