"""``/healthz`` (the process is alive) and ``/readyz`` (the database answers, migrations are current)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from caldav_bridge.store.migrate import current_revision, head_revision
from feeds.operations import operation
from feeds.runtime import runtime

bp = Blueprint("health", __name__)
_STATUS = {"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]}


@operation(bp, "GET", "/healthz", summary="Liveness", tag="health", responses={200: _STATUS}, public=True)
def healthz() -> Response:
    return jsonify({"status": "ok"})


@operation(
    bp,
    "GET",
    "/readyz",
    summary="Readiness: database reachable and migrated",
    tag="health",
    responses={200: _STATUS, 503: _STATUS},
    public=True,
)
def readyz() -> Response:
    engine = runtime().engine
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current, head = current_revision(engine), head_revision()
    except SQLAlchemyError as exc:
        response = jsonify({"status": "unavailable", "database": "unreachable", "detail": type(exc).__name__})
        response.status_code = 503
        return response
    if current != head:
        response = jsonify({"status": "unavailable", "database": "ok", "migration": current, "expected": head})
        response.status_code = 503
        return response
    return jsonify({"status": "ok", "database": "ok", "migration": current})
