"""``/api/v1/bookings``: the booking flows (parse, call the scheduling services, map)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, jsonify

from caldav_bridge.scheduling import booking as service
from caldav_bridge.scheduling.requests import (
    BookingResponse,
    CancelBookingRequest,
    CancelBookingResponse,
    FollowOnBookingRequest,
    InitialBookingRequest,
    RescheduleBookingRequest,
    RescheduleBookingResponse,
    TechSetupRequest,
    TechSetupResult,
)
from caldav_bridge.scheduling.rules import Purpose
from feeds.api.availability import options
from feeds.api.blueprint import bp
from feeds.auth import current_actor
from feeds.operations import operation
from feeds.runtime import uow

TAG = "scheduling"


def _tech(outcome: service.TechSetupOutcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    return TechSetupResult(
        status=outcome.status,
        appointment=outcome.appointment.appointment if outcome.appointment else None,
        team_id=outcome.team_id,
        requested_date=outcome.requested_date.isoformat() if outcome.requested_date else None,
        chosen_date=outcome.chosen_date.isoformat() if outcome.chosen_date else None,
        fallback=outcome.fallback,
        detail=outcome.detail,
    ).model_dump(mode="json")


def _booked(result: service.Booked, status: int = 201) -> Response:
    body = BookingResponse(appointment=result.appointment.appointment, hold_expires_at=result.hold_expires_at)
    data = body.model_dump(mode="json")
    data["tech_setup"] = _tech(result.tech_setup)
    response = jsonify(data)
    response.status_code = status
    response.headers["ETag"] = result.appointment.etag
    return response


#: The flows ``POST /bookings/{initial,fitting,follow-up}`` book: what each takes, and what it does.
FLOWS: dict[Purpose, tuple[type[service.BookingRequest], str]] = {
    Purpose.INITIAL: (
        InitialBookingRequest,
        "Lead conversion: book an INITIAL consultation from a consultant's availability (and its tech-setup call)",
    ),
    Purpose.FITTING: (FollowOnBookingRequest, "Book the fitting with a fitter, from fitter availability"),
    Purpose.FOLLOW_UP: (FollowOnBookingRequest, "Book a follow-up from fitter availability"),
}


def _flow(purpose: Purpose) -> Callable[[service.BookingRequest], Response]:
    def view(body: service.BookingRequest) -> Response:
        return _booked(service.book(uow(), current_actor("api"), purpose, body, options()))

    view.__name__ = f"book_{purpose.value.lower()}"  # the endpoint and operationId
    return view


for _purpose, (_request, _summary) in FLOWS.items():
    operation(
        bp,
        "POST",
        "/bookings/" + _purpose.value.lower().replace("_", "-"),
        summary=_summary,
        tag=TAG,
        body=_request,
        idempotent=True,
        responses={201: BookingResponse, 409: "The slot is taken or not bookable (problem)"},
    )(_flow(_purpose))


@operation(
    bp,
    "POST",
    "/bookings/{id}/tech-setup",
    summary="Schedule the tech-setup call of a booked INITIAL appointment that has none",
    tag=TAG,
    body=TechSetupRequest,
    idempotent=True,
    responses={201: TechSetupResult},
)
def schedule_tech_setup(id: str, body: TechSetupRequest) -> Response:
    outcome = service.schedule_tech_setup(
        uow(), current_actor("api"), id, options(), team_id=body.team_id, mode=body.mode
    )
    response = jsonify(_tech(outcome))
    response.status_code = 201
    return response


@operation(
    bp,
    "POST",
    "/bookings/{id}/confirm",
    summary="Confirm a hold (RESERVED → BOOKED); a confirmed INITIAL gets its tech-setup call",
    tag=TAG,
    idempotent=True,
    responses={200: BookingResponse},
)
def confirm_booking(id: str) -> Response:
    return _booked(service.confirm(uow(), current_actor("api"), id, options()), 200)


@operation(
    bp,
    "POST",
    "/bookings/{id}/reschedule",
    summary="Move a booking to a free slot; an INITIAL's tech-setup call is offered (or moved) along",
    tag=TAG,
    body=RescheduleBookingRequest,
    idempotent=True,
    responses={200: RescheduleBookingResponse},
)
def reschedule_booking(id: str, body: RescheduleBookingRequest) -> Response:
    result = service.reschedule(uow(), current_actor("api"), id, body, options())
    offer = result.tech_setup_offer
    out = RescheduleBookingResponse.model_validate(
        {
            "appointment": result.appointment.appointment,
            "tech_setup_offer": None
            if offer is None
            else {
                "appointment_id": offer.appointment_id,
                "date_start": offer.date_start,
                "date_end": offer.date_end,
                "moved": offer.moved,
                "detail": offer.detail,
                "cancelled": offer.cancelled,
            },
        }
    )
    response = jsonify(out.model_dump(mode="json"))
    response.headers["ETag"] = result.appointment.etag
    return response


@operation(
    bp,
    "POST",
    "/bookings/{id}/cancel",
    summary="Cancel a booking and release its slot; an INITIAL's pending tech-setup call is cancelled too",
    tag=TAG,
    body=CancelBookingRequest,
    idempotent=True,
    responses={200: CancelBookingResponse},
)
def cancel_booking(id: str, body: CancelBookingRequest) -> Response:
    result = service.cancel(uow(), current_actor("api"), id, body)
    out = CancelBookingResponse(appointment=result.appointment.appointment, cancelled=result.cancelled)
    return jsonify(out.model_dump(mode="json"))
