"""``/healthz`` (the process is alive) and ``/readyz`` (the database answers, migrations are current; with
Salesforce configured, whether the sync jobs run or are held by the preflight, and why)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from caldav_bridge.salesforce.preflight import last_report
from caldav_bridge.store.migrate import current_revision, head_revision
from feeds.operations import operation
from feeds.problems import problem
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
    responses={200: _STATUS, 503: "Not ready: the database is unreachable or its migrations are not current"},
    public=True,
)
def readyz() -> Response:
    engine = runtime().engine
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current, head = current_revision(engine), head_revision()
    except SQLAlchemyError as exc:
        return _not_ready(f"the database does not answer ({type(exc).__name__})", {"database": "unreachable"})
    if current != head:
        detail = f"the database is at migration {current or 'none'}, the code expects {head}"
        return _not_ready(detail, {"database": "ok", "migration": current, "expected": head})
    return jsonify({"status": "ok", "database": "ok", "migration": current, **_salesforce()})


def _salesforce() -> dict[str, object]:
    """The Salesforce sync's gate (when configured): the service is ready either way, the sync may be held."""
    rt = runtime()
    if not rt.settings.salesforce_configured():
        return {}
    report = last_report(rt.uow())
    if report is None:
        return {"salesforce_sync": "preflight not run yet"}
    if report.get("ok"):
        return {"salesforce_sync": "ok"}
    return {"salesforce_sync": "held until the preflight passes", "salesforce_problems": report.get("problems") or []}


def _not_ready(detail: str, members: dict[str, str | None]) -> Response:
    """503 as an RFC 9457 problem document; ``members`` say what is wrong (extension members)."""
    return problem(503, "Service unavailable", detail, kind="not-ready", extra=members)
