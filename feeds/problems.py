"""RFC 9457 ``application/problem+json`` for every error the HTTP edge returns, and the pages its types name.

A problem's ``type`` is an absolute URL on this service, ``<root>/problems/<slug>`` (the root of the URL
the request came to), and that page explains the problem and what to do
(:mod:`feeds.problem_types` is the catalogue). Titles are those of the catalogue, in sentence case, so
one kind of problem has one title whether the router or the service found it.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, abort, has_request_context, json, render_template, request
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.exceptions import HTTPException

from caldav_bridge.errors import (
    AuditFailed,
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    IdempotencyKeyReused,
    MalformedBody,
    NotFound,
    PreconditionFailed,
    Unauthorized,
    ValidationFailed,
)
from feeds.problem_types import GENERIC_BY_STATUS, PROBLEM_TYPES, slug_for

__all__ = ["PROBLEM_PATH", "Problem", "bp", "problem", "problem_type_url", "register_error_handlers"]

log = logging.getLogger(__name__)
#: Where the problem type pages are served; a type URI is this path, absolute, plus the slug.
PROBLEM_PATH = "/problems/"
bp = Blueprint("problems", __name__)
_STATUS = {
    MalformedBody: 400,
    ValidationFailed: 422,
    NotFound: 404,
    Unauthorized: 401,
    Forbidden: 403,
    Conflict: 409,
    PreconditionFailed: 412,
    IdempotencyKeyReused: 422,
    AuditFailed: 503,
}


class ProblemFieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document; ``errors`` lists invalid fields on validation failures."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="A URL of a page that explains this kind of problem and what to do about it "
        f"(`{PROBLEM_PATH}<slug>` on this service; the index is at `{PROBLEM_PATH}`)"
    )
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
    body: dict[str, Any] = {"type": problem_type_url(slug_for(status, title, kind)), "title": title, "status": status}
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


def problem_type_url(slug: str) -> str:
    """The absolute URL of ``slug``'s page: on the host the request came to (relative outside a request)."""
    root = request.url_root if has_request_context() else "/"
    return root.rstrip("/") + PROBLEM_PATH + slug


def _domain_error(exc: DomainError) -> Response:
    status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 400)
    errors = exc.errors if isinstance(exc, ValidationFailed) else None
    headers = {"WWW-Authenticate": 'Bearer realm="appointments"'} if status == 401 else None
    members = getattr(exc, "members", None)  # extension members an error carries (e.g. the conflicting appointment)
    return problem(status, exc.title, exc.detail, errors=errors, headers=headers, extra=members)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {}
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    generic = PROBLEM_TYPES.get(GENERIC_BY_STATUS.get(status, ""))
    title = generic.title if generic else exc.name[:1] + exc.name[1:].lower()
    return problem(status, title, exc.description, headers=headers)


def _unexpected(exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return problem(500, "Internal server error", "the error was logged; quote the X-Request-ID when reporting it")


@bp.get(PROBLEM_PATH)
def problem_index() -> str:
    """Every problem type, linked."""
    return render_template("problem.html", types=sorted(PROBLEM_TYPES.values(), key=lambda t: (t.status, t.slug)))


@bp.get(PROBLEM_PATH + "<slug>")
def problem_page(slug: str) -> str:
    """What the problem type ``slug`` means and what to do about it."""
    problem_type = PROBLEM_TYPES.get(slug)
    if problem_type is None:
        abort(404)
    return render_template("problem.html", type=problem_type, url=problem_type_url(slug))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.register_blueprint(bp)
