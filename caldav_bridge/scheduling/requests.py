"""Inputs and outputs of the booking flows (also the REST API's schemas)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from caldav_bridge.errors import FieldValueError
from caldav_bridge.model.appointment import MAX_DESCRIPTION, MAX_GUESTS, MAX_NAME, Appointment, Guest, SalesforceIds
from caldav_bridge.model.timestamps import UtcTimestamp

__all__ = [
    "BookingMeta",
    "BookingResponse",
    "CancelBookingRequest",
    "CancelBookingResponse",
    "FollowOnBookingRequest",
    "InitialBookingRequest",
    "RescheduleBookingRequest",
    "RescheduleBookingResponse",
    "TechSetupOffer",
    "TechSetupRequest",
    "TechSetupResult",
]

Id = Annotated[str, Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
Description = Annotated[str | None, Field(max_length=MAX_DESCRIPTION)]


class _Target(BaseModel):
    calendar_id: Id | None = Field(None, description="Book on this calendar (give this or team_id)")
    team_id: Id | None = Field(None, description="Book with whichever team member the assignment policy names")

    @model_validator(mode="after")
    def _one_target(self) -> Any:
        if (self.calendar_id is None) == (self.team_id is None):
            raise FieldValueError("calendar_id", "give exactly one of calendar_id and team_id")
        return self


class _Times(BaseModel):
    date_start: UtcTimestamp
    date_end: UtcTimestamp | None = Field(None, description="Default: start + the purpose's duration")

    @model_validator(mode="after")
    def _ordered(self) -> Any:
        if self.date_end is not None and self.date_end <= self.date_start:
            raise FieldValueError("date_end", "date_end must be after date_start")
        if self.date_end is not None and (self.date_end - self.date_start).days >= 1:
            raise FieldValueError("date_end", "a booked slot lasts less than a day")
        return self


class BookingMeta(BaseModel):
    """``meta`` of a booking: Salesforce ids and any further keys (the type comes from the flow)."""

    model_config = ConfigDict(extra="allow")

    salesforce: SalesforceIds = Field(default_factory=SalesforceIds)


class InitialBookingRequest(_Target, _Times):
    """Lead conversion: the customer books an INITIAL consultation from a consultant's availability."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = None
    guests: Annotated[list[Guest], Field(max_length=MAX_GUESTS)] = Field(default_factory=list)
    meta: BookingMeta = Field(default_factory=BookingMeta)
    hold: bool = Field(False, description="RESERVE the slot for the hold time instead of booking it")
    tech_setup_team_id: Id | None = Field(None, description="Default: the configured tech-setup team")


class FollowOnBookingRequest(_Target, _Times):
    """A fitting (after a tech-setup call) or a follow-up, for the customer of ``appointment_id``."""

    model_config = ConfigDict(extra="forbid")

    appointment_id: Id = Field(description="The appointment this one follows (guests and Salesforce ids come from it)")
    name: Name | None = None
    description: Description = None
    hold: bool = False


class TechSetupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team_id: Id | None = None
    mode: Literal["automatic", "proposed"] | None = None


class RescheduleBookingRequest(_Times):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str | None, Field(max_length=1000)] = None
    move_tech_setup: bool = Field(
        False, description="Also move the linked TECH_SETUP call to the offered slot (else it is only offered)"
    )


class CancelBookingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=1000)]


class TechSetupResult(BaseModel):
    """What the two-days-before rule chose."""

    status: Literal["booked", "proposed", "unscheduled"]
    appointment: Appointment | None = None
    team_id: str | None = None
    requested_date: str | None = Field(None, description="The day the rule asked for (team's local date)")
    chosen_date: str | None = Field(None, description="The day it got; earlier than requested after a fallback")
    fallback: bool = False
    detail: str | None = None


class BookingResponse(BaseModel):
    appointment: Appointment
    hold_expires_at: UtcTimestamp | None = None
    tech_setup: TechSetupResult | None = None


class TechSetupOffer(BaseModel):
    appointment_id: str
    date_start: UtcTimestamp | None = None
    date_end: UtcTimestamp | None = None
    moved: bool = False
    detail: str | None = None
    cancelled: str | None = Field(
        None,
        description="With move_tech_setup, when the call's person had no slot before the new date: the stale call, "
        "cancelled (appointment_id is then its replacement, or itself when no slot was found: the INITIAL's "
        "meta.tech_setup says unscheduled)",
    )


class RescheduleBookingResponse(BaseModel):
    appointment: Appointment
    tech_setup_offer: TechSetupOffer | None = None


class CancelBookingResponse(BaseModel):
    appointment: Appointment
    cancelled: list[str] = Field(default_factory=list, description="Linked appointments cancelled with it")
