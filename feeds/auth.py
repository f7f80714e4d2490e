"""Bearer API tokens → :class:`Actor`, once per request."""

from __future__ import annotations

from flask import Flask, current_app, g, request

from caldav_bridge.errors import Unauthorized
from caldav_bridge.services import users
from caldav_bridge.services.actor import Actor, Channel
from caldav_bridge.store.uow import UnitOfWork
from feeds.access_log import request_id
from feeds.runtime import uow

__all__ = ["actor_for_header", "current_actor", "init_app", "token_cache"]

_KEY = "appointments.tokens"


def init_app(app: Flask) -> None:
    """The app's cache of resolved tokens (``users.TokenCache``: one per process)."""
    app.extensions[_KEY] = users.TokenCache()


def token_cache(app: Flask) -> users.TokenCache:
    cache: users.TokenCache = app.extensions[_KEY]
    return cache


def current_actor(channel: Channel) -> Actor:
    """The actor of this request's ``Authorization: Bearer`` token; 401 without a valid one."""
    actor: Actor | None = g.get("actor")
    if actor is not None:
        return actor
    header = request.headers.get("Authorization")
    actor = actor_for_header(uow(), header, channel, request_id(), token_cache(current_app))
    g.actor = actor
    return actor


def actor_for_header(
    unit: UnitOfWork, header: str | None, channel: Channel, rid: str | None, cache: users.TokenCache
) -> Actor:
    """The actor of an ``Authorization`` header's bearer token (Unauthorized without a valid one)."""
    scheme, _, secret = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>'")
    return users.actor_for_token(unit, secret.strip(), channel, rid, cache)
