"""``/api/v1/availability`` and the availability rules of calendars: parse, call the scheduling services, map."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from flask import Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from caldav_bridge.model.appointment import IanaZone, WindowTimestamp
from caldav_bridge.model.timestamps import UtcTimestamp
from caldav_bridge.scheduling import availability as service
from caldav_bridge.scheduling import calendar_rules
from caldav_bridge.scheduling.rules import AvailabilityRules, ExceptionDraft, Purpose, SchedulingOptions
from feeds.api.blueprint import bp
from feeds.auth import current_actor
from feeds.operations import operation
from feeds.runtime import runtime, uow

TAG = "scheduling"
Id = Annotated[str, Field(min_length=1, max_length=64)]


class AvailabilityQuery(BaseModel):
    """Exactly one of ``calendar_id`` and ``team_id``; slots lying in ``[from, to)``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    calendar_id: Id | None = None
    team_id: Id | None = None
    type: Purpose = Field(description="What the slot is for; its duration comes from the calendar's rules")
    from_: Annotated[WindowTimestamp, Field(alias="from")]
    to: WindowTimestamp
    timezone: IanaZone = Field("UTC", description="The requester's time zone: slots are shown in it")


#: Slot fields kept for one deprecation cycle (until API 2.0) beside ``date_start``/``date_end``.
_OLD: dict[str, Any] = {"deprecated": True}
_DEPRECATED = "Deprecated: use date_start/date_end (UTC, as in the canonical appointment) and the response's timezone"


class SlotOut(BaseModel):
    """A free slot. ``date_start``/``date_end`` are UTC like the canonical appointment's; ``start``/``end``
    (local time) and ``start_utc``/``end_utc`` are deprecated and go away in API 2.0."""

    date_start: UtcTimestamp = Field(description="When the slot starts (UTC), as an appointment's date_start")
    date_end: UtcTimestamp = Field(description="When the slot ends (UTC), as an appointment's date_end")
    calendar_id: str = Field(description="The calendar (for a team: the member) that would take the slot")
    start: str = Field(json_schema_extra=_OLD, description=f"Local start in the requested time zone. {_DEPRECATED}")
    end: str = Field(json_schema_extra=_OLD, description=f"Local end in the requested time zone. {_DEPRECATED}")
    start_utc: UtcTimestamp = Field(json_schema_extra=_OLD, description=f"Same as date_start. {_DEPRECATED}")
    end_utc: UtcTimestamp = Field(json_schema_extra=_OLD, description=f"Same as date_end. {_DEPRECATED}")


class AvailabilityOut(BaseModel):
    calendar_id: str | None
    team_id: str | None
    type: Purpose
    timezone: str
    duration_minutes: int
    slots: list[SlotOut]


class RulesOut(AvailabilityRules):
    source: Literal["calendar", "team", "default"] = Field(description="Where the rules in force come from")


class ExceptionList(BaseModel):
    items: list[ExceptionDraft]


def options() -> SchedulingOptions:
    return SchedulingOptions.from_settings(runtime().settings)


def _local(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat(timespec="seconds")


@operation(
    bp,
    "GET",
    "/availability",
    summary="Free slots of a calendar or a team (working hours minus busy time and buffers)",
    tag=TAG,
    query=AvailabilityQuery,
    responses={200: AvailabilityOut},
)
def get_availability(query: AvailabilityQuery) -> Response:
    result = service.availability(
        uow(),
        current_actor("api"),
        service.AvailabilityQuery(query.type, query.from_, query.to, query.calendar_id, query.team_id),
        options(),
    )
    zone = ZoneInfo(query.timezone)
    out = AvailabilityOut(
        calendar_id=result.calendar_id,
        team_id=result.team_id,
        type=result.purpose,
        timezone=query.timezone,
        duration_minutes=int(result.duration.total_seconds() // 60),
        slots=[
            SlotOut(
                date_start=s.start,
                date_end=s.end,
                start=_local(s.start, zone),
                end=_local(s.end, zone),
                start_utc=s.start,
                end_utc=s.end,
                calendar_id=s.calendar_id,
            )
            for s in result.slots
        ],
    )
    return jsonify(out.model_dump(mode="json"))


@operation(
    bp,
    "GET",
    "/calendars/{id}/availability-rules",
    summary="The availability rules in force for a calendar (its own, its team's or the default)",
    tag=TAG,
    responses={200: RulesOut},
)
def get_availability_rules(id: str) -> Response:
    rules, source = calendar_rules.get_rules(uow(), current_actor("api"), id)
    return jsonify({**rules.model_dump(mode="json"), "source": source})


@operation(
    bp,
    "PUT",
    "/calendars/{id}/availability-rules",
    summary="Set a calendar's or a team's availability rules (admin scope)",
    tag=TAG,
    body=AvailabilityRules,
    idempotent=True,
    responses={200: RulesOut},
)
def put_availability_rules(id: str, body: AvailabilityRules) -> Response:
    rules = calendar_rules.set_rules(uow(), current_actor("api"), id, body)
    return jsonify({**rules.model_dump(mode="json"), "source": "calendar"})


@operation(
    bp,
    "GET",
    "/calendars/{id}/availability-exceptions",
    summary="Dates with other hours than the week's (holidays: no hours)",
    tag=TAG,
    responses={200: ExceptionList},
)
def list_availability_exceptions(id: str) -> Response:
    items = calendar_rules.list_exceptions(uow(), current_actor("api"), id)
    return jsonify({"items": [i.model_dump(mode="json") for i in items]})


@operation(
    bp,
    "POST",
    "/calendars/{id}/availability-exceptions",
    summary="Set the hours of one date (admin scope); no hours closes it",
    tag=TAG,
    body=ExceptionDraft,
    idempotent=True,
    responses={200: ExceptionDraft},
)
def put_availability_exception(id: str, body: ExceptionDraft) -> Response:
    return jsonify(calendar_rules.put_exception(uow(), current_actor("api"), id, body).model_dump(mode="json"))


@operation(
    bp,
    "DELETE",
    "/calendars/{id}/availability-exceptions/{date}",
    summary="Remove the exception of one date (admin scope)",
    tag=TAG,
    idempotent=True,
    responses={204: "Removed"},
)
def delete_availability_exception(id: str, date: str) -> Response:
    calendar_rules.delete_exception(uow(), current_actor("api"), id, date)
    return Response(status=204)
