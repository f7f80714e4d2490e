"""Availability rules as the API and the services read them (pydantic), and scheduling options."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from caldav_bridge.errors import FieldValueError
from caldav_bridge.model.appointment import AppointmentType

__all__ = [
    "DEFAULT_RULES",
    "WEEKDAYS",
    "AvailabilityRules",
    "DayHours",
    "ExceptionDraft",
    "Purpose",
    "SchedulingOptions",
    "TimeRange",
    "parse_clock",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Clock = Annotated[str, Field(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$", examples=["09:00"])]


class Purpose(StrEnum):
    """What a slot is for; FITTING is stored as a FOLLOW_UP with ``meta.purpose = FITTING``."""

    INITIAL = "INITIAL"
    TECH_SETUP = "TECH_SETUP"
    FITTING = "FITTING"
    FOLLOW_UP = "FOLLOW_UP"

    @property
    def appointment_type(self) -> AppointmentType:
        return AppointmentType.FOLLOW_UP if self is Purpose.FITTING else AppointmentType(self.value)


def parse_clock(text: str) -> tuple[time, int]:
    """``"09:30"`` → (09:30, 0); ``"24:00"`` → (00:00, 1): the time and how many days later."""
    if text == "24:00":
        return time(0, 0), 1
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes)), 0


def _minutes(text: str) -> int:
    clock, days = parse_clock(text)
    return days * 1440 + clock.hour * 60 + clock.minute


class TimeRange(BaseModel):
    """Local wall-clock times ``start`` < ``end`` on one day; ``24:00`` is the end of the day."""

    model_config = ConfigDict(extra="forbid")

    start: Clock
    end: Clock

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if _minutes(self.end) <= _minutes(self.start):
            raise FieldValueError("end", "end must be after start")
        return self


DayHours = Annotated[list[TimeRange], Field(max_length=12)]
Minutes = Annotated[int, Field(ge=0, le=1440)]


class AvailabilityRules(BaseModel):
    """A calendar's (or a team's) bookable time, in the calendar's time zone."""

    model_config = ConfigDict(extra="forbid")

    weekly_hours: dict[Weekday, DayHours] = Field(
        description="Working hours per weekday; a missing weekday is a day off"
    )
    breaks: dict[Weekday, DayHours] = Field(default_factory=dict, description="Unbookable times per weekday")
    durations: dict[Purpose, Annotated[int, Field(ge=5, le=1440)]] = Field(
        default_factory=dict, description="Minutes per purpose; the service setting fills in the rest"
    )
    buffer_before_minutes: Minutes = 0
    buffer_after_minutes: Minutes = Field(0, description="E.g. a fitter's travel time after a visit")
    min_notice_minutes: Annotated[int, Field(ge=0, le=525600)] = 0
    horizon_days: Annotated[int, Field(ge=1, le=730)] = 60
    max_per_day: Annotated[int | None, Field(ge=1, le=1000)] = None
    slot_step_minutes: Annotated[int, Field(ge=5, le=1440)] = 15


#: Rules of a calendar with none of its own and no team rules: weekdays 09:00-17:00.
DEFAULT_RULES = AvailabilityRules(
    weekly_hours={d: [TimeRange(start="09:00", end="17:00")] for d in ("mon", "tue", "wed", "thu", "fri")}
)


class ExceptionDraft(BaseModel):
    """Other hours on one local date; no hours (``[]``) closes the day (a holiday)."""

    model_config = ConfigDict(extra="forbid")

    date: date
    hours: DayHours = Field(default_factory=list)
    reason: Annotated[str | None, Field(max_length=255)] = None


@dataclass(frozen=True)
class SchedulingOptions:
    """The scheduling settings the services need (built from :class:`config.Settings`)."""

    assignment: str = "round_robin"
    tech_setup_offset_days: int = 2
    tech_setup_fallback_days: int = 5
    tech_setup_mode: str = "automatic"
    tech_setup_team_id: str = ""
    hold: timedelta = timedelta(minutes=15)
    durations: dict[str, int] = field(
        default_factory=lambda: {"INITIAL": 60, "TECH_SETUP": 30, "FITTING": 90, "FOLLOW_UP": 45}
    )
    max_window: timedelta = timedelta(days=62)

    @classmethod
    def from_settings(cls, settings: Any) -> SchedulingOptions:
        return cls(
            assignment=settings.scheduling_assignment,
            tech_setup_offset_days=settings.scheduling_tech_setup_offset_days,
            tech_setup_fallback_days=settings.scheduling_tech_setup_fallback_days,
            tech_setup_mode=settings.scheduling_tech_setup_mode,
            tech_setup_team_id=settings.scheduling_tech_setup_team_id,
            hold=timedelta(minutes=settings.scheduling_hold_minutes),
            durations={k: int(v) for k, v in settings.scheduling_durations.items()},
            max_window=timedelta(days=settings.scheduling_max_window_days),
        )
