"""``/api/v1/sync``: Salesforce sync status and dead letters (admin scope). Nothing here calls Salesforce."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from caldav_bridge.errors import NotFound
from caldav_bridge.salesforce import push, runner
from feeds.api.blueprint import bp
from feeds.auth import current_actor
from feeds.operations import operation
from feeds.runtime import runtime, uow

TAG = "sync"


class SyncStatus(BaseModel):
    """Watermarks and lag, last runs per job, outbox depth by state, dead letters, API usage."""

    model_config = ConfigDict(extra="allow")

    configured: bool
    mode: str
    watermarks: list[dict[str, Any]]
    last_runs: dict[str, list[dict[str, Any]]]
    outbox: dict[str, int]
    dead_letters: int
    unassigned: int
    tech_setup: dict[str, Any] | None = Field(
        None,
        description="The tech-setup policy for INITIALs scheduled in Salesforce (`policy`) and the standing proposals "
        "(`proposed`, `appointment_ids`); accept one with POST /api/v1/bookings/{id}/tech-setup",
    )
    api_usage: dict[str, Any] | None = None


class DeadLetter(BaseModel):
    id: int
    appointment_id: str
    operation: str
    attempts: int
    last_error: str | None = None
    created_at: str


class DeadLetterList(BaseModel):
    items: list[DeadLetter]


class Retried(BaseModel):
    retried: int


@operation(bp, "GET", "/sync/status", summary="Salesforce sync status", tag=TAG, responses={200: SyncStatus})
def sync_status() -> Response:
    current_actor("api").require("admin")
    return jsonify(runner.status(uow(), runtime().settings))


@operation(
    bp, "GET", "/sync/dead-letters", summary="Changes Salesforce refused", tag=TAG, responses={200: DeadLetterList}
)
def list_dead_letters() -> Response:
    current_actor("api").require("admin")
    return jsonify({"items": runner.dead_letters(uow())})


@operation(
    bp,
    "POST",
    "/sync/dead-letters/{id}/retry",
    summary="Queue a dead letter again (after fixing the appointment or the org)",
    tag=TAG,
    idempotent=True,
    responses={200: Retried},
)
def retry_dead_letter(id: str) -> Response:
    current_actor("api").require("admin")
    if not id.isdigit() or not push.retry_dead(uow(), [int(id)]):
        raise NotFound("dead letter", id)
    return jsonify({"retried": 1})
