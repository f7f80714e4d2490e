"""Request and response shapes that exist only at the HTTP edge (queries, pages)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from caldav_bridge.model.appointment import Appointment
from caldav_bridge.model.calendar import Calendar
from caldav_bridge.model.queries import AppointmentListQuery
from caldav_bridge.model.timestamps import UtcTimestamp

__all__ = ["AppointmentListQuery", "AppointmentPage", "CalendarList", "HistoryEntry", "HistoryList"]


class AppointmentPage(BaseModel):
    items: list[Appointment]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class CalendarList(BaseModel):
    items: list[Calendar]


class HistoryEntry(BaseModel):
    """One change of status or start time."""

    old_status: str | None
    new_status: str
    old_start: UtcTimestamp | None
    new_start: UtcTimestamp | None
    at: UtcTimestamp
    actor: str | None
    channel: str
    reason: str | None


class HistoryList(BaseModel):
    items: list[HistoryEntry]
