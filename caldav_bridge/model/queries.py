"""Queries every entry point validates alike: the REST API's query string and the CLI's options."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from caldav_bridge.model.appointment import AppointmentType, StatusField, WindowTimestamp
from caldav_bridge.model.timestamps import UtcTimestamp

__all__ = ["MAX_PAGE_SIZE", "AppointmentFilters", "AppointmentListQuery", "Id", "ListedKind"]

Id = Annotated[str, Field(min_length=1, max_length=64)]
#: The largest page any entry point asks the store for.
MAX_PAGE_SIZE = 500


class ListedKind(StrEnum):
    """Which entries a listing returns: customer appointments (the default), busy blocks, or both."""

    APPOINTMENT = "appointment"
    BUSY = "busy"
    ALL = "all"


class AppointmentFilters(BaseModel):
    """Which appointments a listing or an export shows: ``None`` is "any"; ``start``/``end`` (``from``/``to`` on
    the wire) select those overlapping ``[start, end)``; ``calendar_id`` narrows what the actor reaches.

    The one filter type from the edges (REST query string, CLI options, OLS parameters) through the service
    (``services.appointments.list_appointments``) to the repository (``AppointmentRepository.search``).
    Entry points validate their input into it by its wire names (``model_validate``); code builds it by field
    name (``AppointmentFilters(calendar_id=..., start=...)``).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    calendar_id: Id | None = None
    guest_id: Id | None = None
    opportunity_gid: Id | None = None
    customer_gid: Id | None = None
    appointment_gid: Id | None = None
    type: AppointmentType | None = None
    status: StatusField | None = None
    kind: Annotated[
        ListedKind,
        Field(
            description="`appointment` (default): customer appointments only; `busy`: only the fitters' busy "
            "blocks (`meta.kind` `busy`: events naming no customer and no type, e.g. lunch); `all`: both"
        ),
    ] = ListedKind.APPOINTMENT
    start: Annotated[WindowTimestamp | None, Field(alias="from")] = None
    end: Annotated[WindowTimestamp | None, Field(alias="to")] = None
    updated_since: UtcTimestamp | None = None


class AppointmentListQuery(AppointmentFilters):
    """``GET /appointments``, ``GET /export/{format}`` and ``appointments list``: the filters and the page
    (``limit``, ``cursor``); it is passed on as the filters themselves."""

    limit: Annotated[int | None, Field(ge=1, le=MAX_PAGE_SIZE)] = None
    cursor: Annotated[str | None, Field(max_length=512)] = None
