"""Bearer API tokens → :class:`Actor`, once per request."""

from __future__ import annotations

from flask import Flask, current_app, g, request

from caldav_bridge.errors import Unauthorized
from caldav_bridge.services import users
from caldav_bridge.services.actor import Actor, Channel
from feeds.access_log import request_id
from feeds.runtime import uow

__all__ = ["current_actor", "init_app"]

_KEY = "appointments.tokens"


def init_app(app: Flask) -> None:
    """The app's cache of resolved tokens (``users.TokenCache``: one per process)."""
    app.extensions[_KEY] = users.TokenCache()


def current_actor(channel: Channel) -> Actor:
    """The actor of this request's ``Authorization: Bearer`` token; 401 without a valid one."""
    actor: Actor | None = g.get("actor")
    if actor is not None:
        return actor
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>'")
    actor = users.actor_for_token(uow(), secret.strip(), channel, request_id(), current_app.extensions[_KEY])
    g.actor = actor
    return actor
