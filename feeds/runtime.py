"""Access to the :class:`~caldav_bridge.runtime.Runtime` bound to the current Flask app."""

from __future__ import annotations

from flask import Flask, current_app

from caldav_bridge.runtime import Runtime
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["init_app", "runtime", "uow"]

_KEY = "appointments.runtime"


def init_app(app: Flask, rt: Runtime) -> None:
    app.extensions[_KEY] = rt


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions[_KEY]
    return rt


def uow() -> UnitOfWork:
    return runtime().uow()
