"""Request and response shapes that exist only at the HTTP edge (queries, pages)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from caldav_bridge.model.appointment import Appointment, AppointmentType, StatusField
from caldav_bridge.model.calendar import Calendar
from caldav_bridge.model.timestamps import UtcTimestamp

__all__ = ["AppointmentListQuery", "AppointmentPage", "CalendarList", "HistoryEntry", "HistoryList"]

Id = Annotated[str, Field(min_length=1, max_length=64)]


class AppointmentListQuery(BaseModel):
    """Filters of ``GET /appointments``; ``from``/``to`` select appointments overlapping the range."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    calendar_id: Id | None = None
    guest_id: Id | None = None
    opportunity_gid: Id | None = None
    customer_gid: Id | None = None
    appointment_gid: Id | None = None
    type: AppointmentType | None = None
    status: StatusField | None = None
    from_: Annotated[UtcTimestamp | None, Field(alias="from")] = None
    to: UtcTimestamp | None = None
    updated_since: UtcTimestamp | None = None
    limit: Annotated[int | None, Field(ge=1, le=500)] = None
    cursor: Annotated[str | None, Field(max_length=512)] = None


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
