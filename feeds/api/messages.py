"""``/api/v1/messages``: the customer-message outbox (status, list, retry a dead letter)."""

from __future__ import annotations

from typing import Annotated, Literal

from flask import Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from caldav_bridge.model.timestamps import UtcTimestamp
from caldav_bridge.selfbooking import monitor as service
from feeds.api.blueprint import bp
from feeds.auth import current_actor
from feeds.operations import operation
from feeds.runtime import uow

TAG = "self-booking"


class MessageList(BaseModel):
    items: list[service.MessageInfo]


class MessagesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["pending", "sent", "dead"] | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100
    before: UtcTimestamp | None = Field(None, description="Only messages queued before this (paging)")


@operation(
    bp,
    "GET",
    "/messages/status",
    summary="Customer messages per state (pending, sent, dead letters) and the no-shows counted",
    tag=TAG,
    responses={200: service.MessageStatus},
)
def message_status() -> Response:
    return jsonify(service.status(uow(), current_actor("api")).model_dump(mode="json"))


@operation(
    bp,
    "GET",
    "/messages",
    summary="Customer messages, newest first: kind, state, attempts, last error (never an address or a body)",
    tag=TAG,
    query=MessagesQuery,
    responses={200: MessageList},
)
def list_messages(query: MessagesQuery) -> Response:
    items = service.list_messages(
        uow(), current_actor("api"), state=query.state, limit=query.limit, before=query.before
    )
    return jsonify({"items": [i.model_dump(mode="json") for i in items]})


@operation(
    bp,
    "POST",
    "/messages/{id}/retry",
    summary="Send a dead letter again (attempts start over)",
    tag=TAG,
    idempotent=True,
    responses={200: service.MessageInfo},
)
def retry_message(id: str) -> Response:
    return jsonify(service.retry(uow(), current_actor("api"), id).model_dump(mode="json"))
