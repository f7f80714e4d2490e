"""Access to the :class:`~caldav_bridge.runtime.Runtime` bound to the current Flask app."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context

from caldav_bridge.runtime import Runtime
from caldav_bridge.services.idempotency import Claim, applied_check
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["init_app", "runtime", "uow"]

_KEY = "appointments.runtime"


def init_app(app: Flask, rt: Runtime) -> None:
    app.extensions[_KEY] = rt


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions[_KEY]
    return rt


def uow() -> UnitOfWork:
    """A unit of work for this request; under an ``Idempotency-Key`` claim (:mod:`feeds.idempotency`) each of its
    commits also marks the claim applied, in the same transaction."""
    unit = runtime().uow()
    claim: Claim | None = g.get("idempotency_claim") if has_request_context() else None
    if claim is not None:
        unit.before_commit(applied_check(claim))
    return unit
