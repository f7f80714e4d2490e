"""Bearer API tokens → :class:`Actor`, once per request."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, g, request

from caldav_bridge.errors import Unauthorized
from caldav_bridge.services import users
from caldav_bridge.services.actor import Actor, Channel, ClockMoved, UncheckedActor
from caldav_bridge.store.uow import UnitOfWork
from feeds.access_log import request_id
from feeds.runtime import uow

__all__ = ["actor_for_header", "current_actor", "init_app", "read_as_header", "token_cache"]

T = TypeVar("T")

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
    return users.actor_for_token(unit, _bearer(header), channel, rid, cache)


def read_as_header(
    unit: Callable[[], UnitOfWork],
    header: str | None,
    channel: Channel,
    rid: str | None,
    cache: users.TokenCache,
    read: Callable[[Actor | UncheckedActor], T],
) -> T:
    """``read`` as the header's bearer token: as its cached actor, checked by the read's own statement
    (``services.actor.UncheckedActor``), and if the clock moved or the token is not cached, as the actor resolved
    now (Unauthorized without a valid token)."""
    secret = _bearer(header)
    unchecked = users.unchecked_actor(secret, channel, rid, cache)
    if unchecked is not None:
        try:
            return read(unchecked)
        except ClockMoved:
            pass
    return read(users.actor_for_token(unit(), secret, channel, rid, cache))


def _bearer(header: str | None) -> str:
    scheme, _, secret = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>'")
    return secret.strip()
