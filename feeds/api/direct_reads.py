"""The reads the fitter-cockpit sends most, answered before Flask (:mod:`feeds.direct`): an appointment, and a
page of the list.

Each is its Flask view's usual case, built by the view's own functions (:func:`read_answer`,
:func:`page_answer`), with the same validation and service call: a request either gets the view's answer here or
goes to the view (a query string on the single read, ``expand``, any error). The token: a cached one is checked by
the read's own statement (:func:`feeds.auth.read_as_header`), one statement fewer than the view's check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from caldav_bridge.runtime import Runtime
from caldav_bridge.services import appointments as service
from caldav_bridge.services.actor import Actor, UncheckedActor
from caldav_bridge.services.users import TokenCache
from feeds.api.appointments import page_answer, page_limit, read_answer
from feeds.api.schemas import AppointmentListParams
from feeds.auth import read_as_header
from feeds.direct import Answer, DirectRequest, DirectRoute
from feeds.operations import check_path_args, validated_query

__all__ = ["appointment_reads"]


def appointment_reads(rt: Runtime, tokens: TokenCache) -> list[DirectRoute]:
    """``GET /api/v1/appointments/{id}`` and ``GET /api/v1/appointments`` answered directly."""

    def read_one(request: DirectRequest) -> Answer | None:
        if request.environ.get("QUERY_STRING"):
            return None  # ?format= and the like: the view's
        check_path_args(request.path_args)
        appointment_id, if_none_match = str(request.path_args["id"]), request.header("If-None-Match")

        def read(actor: Actor | UncheckedActor) -> Answer:
            found = service.get_encoded(rt.uow(), actor, appointment_id)
            return replace(read_answer(found, if_none_match), user=actor.username)

        return _as_token(request, read)

    def read_page(request: DirectRequest) -> Answer | None:
        query = validated_query(AppointmentListParams, request.args)
        if query.expand:
            return None
        limit = page_limit(rt.settings, query)

        def read(actor: Actor | UncheckedActor) -> Answer:
            page = service.list_encoded(rt.uow(), actor, query, limit=limit, cursor=query.cursor)
            return replace(page_answer(page), user=actor.username)

        return _as_token(request, read)

    def _as_token(request: DirectRequest, read: Callable[[Actor | UncheckedActor], Answer]) -> Answer:
        return read_as_header(rt.uow, request.header("Authorization"), "api", request.request_id, tokens, read)

    return [DirectRoute("api_v1.get_appointment", read_one), DirectRoute("api_v1.list_appointments", read_page)]
