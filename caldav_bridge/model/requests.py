"""Inputs of the appointment and calendar services (and the REST API's request schemas)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator

from caldav_bridge.model.appointment import (
    MAX_DESCRIPTION,
    MAX_GUESTS,
    MAX_NAME,
    AppointmentStatus,
    AppointmentType,
    Guest,
    IanaZone,
    SalesforceIds,
    StatusField,
    check_busy_guests,
    check_input_keys,
    check_interval,
)
from caldav_bridge.model.timestamps import UtcTimestamp

__all__ = [
    "AppointmentDraft",
    "AppointmentPatch",
    "CalendarDraft",
    "CalendarKind",
    "CalendarRefInput",
    "CancelRequest",
    "FollowUpRequest",
    "MetaInput",
    "OccurrencePatch",
    "RescheduleRequest",
]

Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
#: A calendar's name: trimmed, then 1 to ``MAX_NAME`` characters (on create and rename alike).
CalendarName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME)]
Description = Annotated[str | None, Field(max_length=MAX_DESCRIPTION)]
Guests = Annotated[list[Guest], Field(max_length=MAX_GUESTS)]


class CalendarKind(StrEnum):
    FITTER = "fitter"
    CONSULTANT = "consultant"
    TECH_SETUP_MEMBER = "tech_setup_member"
    TEAM = "team"


class CalendarRefInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, Field(min_length=1, max_length=64)]


class MetaInput(BaseModel):
    """``meta`` on input: ``type`` is required, other keys are kept; ``kind`` (``appointment`` or ``busy``)
    says whether it is a customer appointment or a busy block (:class:`.appointment.AppointmentKind`)."""

    model_config = ConfigDict(extra="allow")

    salesforce: SalesforceIds = Field(default_factory=SalesforceIds)
    type: AppointmentType

    @model_validator(mode="after")
    def _known_kind(self) -> MetaInput:
        check_input_keys(self.model_extra)
        return self


class _Interval(BaseModel):
    @model_validator(mode="after")
    def _end_after_start(self) -> Any:
        start, end = getattr(self, "date_start", None), getattr(self, "date_end", None)
        if start is not None and end is not None:
            check_interval(start, end)
        return self


class AppointmentDraft(_Interval):
    """A new appointment. ``id``, ``created_at`` and ``updated_at`` are the server's."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"title": "AppointmentCreate"})

    calendar: CalendarRefInput
    date_start: UtcTimestamp
    date_end: UtcTimestamp
    name: Name
    description: Description = None
    guests: Guests = Field(default_factory=list)
    meta: MetaInput
    status: StatusField = AppointmentStatus.INITIAL

    @model_validator(mode="after")
    def _busy_without_guests(self) -> AppointmentDraft:
        check_busy_guests((self.meta.model_extra or {}).get("kind"), len(self.guests))
        return self


class AppointmentPatch(_Interval):
    """A partial update (JSON merge semantics for top-level keys; ``meta`` keys merge one level deep)."""

    model_config = ConfigDict(extra="forbid")

    date_start: UtcTimestamp | None = None
    date_end: UtcTimestamp | None = None
    name: Name | None = None
    description: Description = None
    guests: Guests | None = None
    meta: dict[str, Any] | None = None
    status: StatusField | None = None


class OccurrencePatch(_Interval):
    """A change of one occurrence of a series (JSON merge semantics): what is given replaces the occurrence's
    own times, title, notes or place; ``cancelled`` true cancels it alone, false brings it back."""

    model_config = ConfigDict(extra="forbid")

    date_start: UtcTimestamp | None = None
    date_end: UtcTimestamp | None = None
    name: Name | None = None
    description: Description = None
    location: Annotated[str | None, Field(max_length=MAX_DESCRIPTION)] = None
    cancelled: StrictBool | None = None
    #: Kept in the appointment's history with the change.
    reason: Annotated[str | None, Field(max_length=1000)] = None
    #: Move it even onto time other appointments on the calendar take (slots booked through scheduling never).
    allow_overlap: StrictBool = False


class RescheduleRequest(_Interval):
    model_config = ConfigDict(extra="forbid")

    date_start: UtcTimestamp
    date_end: UtcTimestamp
    reason: Annotated[str | None, Field(max_length=1000)] = None


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class FollowUpRequest(_Interval):
    """A FOLLOW_UP for the same customer and opportunity, on the fitter's calendar."""

    model_config = ConfigDict(extra="forbid")

    date_start: UtcTimestamp
    date_end: UtcTimestamp
    calendar: CalendarRefInput | None = None
    name: Name | None = None
    description: Description = None
    #: Book even when the time overlaps another appointment on that calendar (default: 409 naming it).
    allow_overlap: StrictBool = False


class CalendarPatch(BaseModel):
    """A calendar's new name (the one field a calendar's owner may change; a team's only an admin)."""

    model_config = ConfigDict(extra="forbid")

    name: CalendarName


class CalendarDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CalendarName
    kind: CalendarKind
    timezone: IanaZone
    owner_username: Annotated[str | None, Field(max_length=64)] = None
    team_id: Annotated[str | None, Field(max_length=64)] = None
