"""``/api/v1/calendars/{id}/feeds``: a calendar's feed tokens (issue, list, rotate, revoke) and recent fetches."""

from __future__ import annotations

from typing import Annotated

from flask import Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from caldav_bridge.model.feeds import FeedFetch, FeedToken, FeedTokenDraft, IssuedFeedToken
from caldav_bridge.services import feed_tokens as service
from feeds.api.blueprint import bp
from feeds.auth import current_actor
from feeds.operations import operation
from feeds.runtime import runtime, uow

TAG = "feeds"


class FeedTokenList(BaseModel):
    items: list[FeedToken]


class FeedFetchList(BaseModel):
    items: list[FeedFetch]


class FetchesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=service.MAX_FETCHES)] = 100


def _issued(issued: IssuedFeedToken, status: int) -> Response:
    response = jsonify(issued.model_dump(mode="json"))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@operation(
    bp,
    "GET",
    "/calendars/{id}/feeds",
    summary="List a calendar's feed tokens (never their secrets)",
    tag=TAG,
    responses={200: FeedTokenList},
)
def list_feeds(id: str) -> Response:
    actor = current_actor("api")
    runtime().fetch_logs.flush()  # last_used_at of fetches this process still buffers
    items = service.list_tokens(uow(), actor, id)
    return jsonify({"items": [t.model_dump(mode="json") for t in items]})


@operation(
    bp,
    "POST",
    "/calendars/{id}/feeds",
    summary="Issue a feed token (secret and URLs shown once). Privacy 'full' puts customers' names and notes "
    "into the feed, and Google and Microsoft keep copies of it",
    tag=TAG,
    body=FeedTokenDraft,
    idempotent=True,
    withhold_on_replay=("secret", "urls"),
    responses={201: IssuedFeedToken},
)
def issue_feed(id: str, body: FeedTokenDraft) -> Response:
    issued = service.issue(uow(), current_actor("api"), id, body, runtime().settings.public_url)
    return _issued(issued, 201)


@operation(
    bp,
    "POST",
    "/calendars/{id}/feeds/{token_id}/rotate",
    summary="Replace a feed token with a new one (same name, privacy, alarm); the old URL stops working",
    tag=TAG,
    idempotent=True,
    withhold_on_replay=("secret", "urls"),
    responses={200: IssuedFeedToken},
)
def rotate_feed(id: str, token_id: str) -> Response:
    issued = service.rotate(uow(), current_actor("api"), id, token_id, runtime().settings.public_url)
    return _issued(issued, 200)


@operation(
    bp,
    "DELETE",
    "/calendars/{id}/feeds/{token_id}",
    summary="Revoke a feed token (its URL answers 404 from now on)",
    tag=TAG,
    idempotent=True,
    responses={204: "Revoked"},
)
def revoke_feed(id: str, token_id: str) -> Response:
    service.revoke(uow(), current_actor("api"), id, token_id)
    return Response(status=204)


@operation(
    bp,
    "GET",
    "/calendars/{id}/feeds/fetches",
    summary="Recent fetches of the calendar's feeds and calendar page (who, when, status), newest first",
    tag=TAG,
    query=FetchesQuery,
    responses={200: FeedFetchList},
)
def list_feed_fetches(id: str, query: FetchesQuery) -> Response:
    actor = current_actor("api")
    runtime().fetch_logs.flush()  # fetches this process still buffers
    items = service.list_fetches(uow(), actor, id, query.limit)
    return jsonify({"items": [f.model_dump(mode="json") for f in items]})
