"""RFC 9457 ``application/problem+json`` for every error the HTTP edge returns."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, has_request_context, json, request
from pydantic import BaseModel, ConfigDict
from werkzeug.exceptions import HTTPException

from caldav_bridge.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    PreconditionFailed,
    Unauthorized,
    ValidationFailed,
)

__all__ = ["PROBLEM_TYPE_BASE", "Problem", "problem", "register_error_handlers"]

log = logging.getLogger(__name__)
PROBLEM_TYPE_BASE = "https://appointments.invalid/problems/"
_STATUS = {
    ValidationFailed: 422,
    NotFound: 404,
    Unauthorized: 401,
    Forbidden: 403,
    Conflict: 409,
    PreconditionFailed: 412,
    IdempotencyKeyReused: 422,
}


class ProblemFieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document; ``errors`` lists invalid fields on validation failures."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemFieldError] | None = None


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    kind: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A problem response; ``extra`` adds members (RFC 9457 extension members, e.g. per-item results)."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (kind or title.lower().replace(" ", "-").replace("'", "")),
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if has_request_context():
        body["instance"] = request.path
    if errors is not None:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    for key, value in (extra or {}).items():
        body.setdefault(key, value)
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _domain_error(exc: DomainError) -> Response:
    status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 400)
    errors = exc.errors if isinstance(exc, ValidationFailed) else None
    headers = {"WWW-Authenticate": 'Bearer realm="appointments"'} if status == 401 else None
    return problem(status, exc.title, exc.detail, errors=errors, headers=headers)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {}
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return problem(status, exc.name, exc.description, headers=headers)


def _unexpected(exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return problem(500, "Internal Server Error", "the error was logged; quote the X-Request-ID when reporting it")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
