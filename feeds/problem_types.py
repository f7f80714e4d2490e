"""The catalogue of problem types: every ``type`` URI a problem document carries names one of these.

Each type is served as a page at ``/problems/<slug>`` (:mod:`feeds.problems`) that says what the
problem means and what to do about it, so the ``type`` of any error a client receives resolves.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GENERIC_BY_STATUS", "PROBLEM_TYPES", "ProblemType", "slug_for"]


@dataclass(frozen=True)
class ProblemType:
    slug: str
    title: str
    status: int
    explanation: str
    remedy: str


_TYPES = (
    ProblemType(
        "bad-request",
        "Bad request",
        400,
        "The request could not be understood: its URL, headers or body are not what HTTP or this API expects.",
        "Check the request against the operation in the API documentation (/api/docs) and send it again.",
    ),
    ProblemType(
        "malformed-request-body",
        "Malformed request body",
        400,
        "The body is not valid JSON (a syntax error, a NaN or Infinity constant, text that is not UTF-8) or it is "
        "nested more deeply than the API reads. `errors` names `(body)` and says where parsing stopped.",
        "Send one JSON document encoded as UTF-8, with `Content-Type: application/json`.",
    ),
    ProblemType(
        "request-failed",
        "Request failed",
        400,
        "The service refused the request for a reason that has no more specific type; `detail` says which.",
        "Read `detail`, correct the request and send it again.",
    ),
    ProblemType(
        "authentication-required",
        "Authentication required",
        401,
        "The request carries no API token, or the token is unknown, revoked or expired.",
        "Send `Authorization: Bearer <token>` with a valid token. An administrator issues tokens "
        "(`appointments tokens issue`).",
    ),
    ProblemType(
        "forbidden",
        "Forbidden",
        403,
        "The token is valid but lacks the scope the operation needs (read, write or admin).",
        "Use a token with the scope named in `detail`, or ask an administrator to issue one.",
    ),
    ProblemType(
        "not-found",
        "Not found",
        404,
        "Nothing exists at this URL, or the resource it names (an appointment, a calendar, a token) does not exist "
        "or is not visible to this token. The two cases are deliberately indistinguishable.",
        "Check the id and the URL (the operations are listed at /api/docs) and that the token reaches the calendar.",
    ),
    ProblemType(
        "unknown-format",
        "Unknown format",
        404,
        "The interchange format named in the URL or in `?format=` is not one the service converts; `detail` lists "
        "the known ones.",
        "Use one of the listed formats (see docs/converters.md).",
    ),
    ProblemType(
        "method-not-allowed",
        "Method not allowed",
        405,
        "The URL exists but does not accept this HTTP method. The `Allow` header lists the methods it accepts.",
        "Use one of the methods in `Allow`.",
    ),
    ProblemType(
        "not-acceptable",
        "Not acceptable",
        406,
        "The service cannot answer in any media type the `Accept` header allows.",
        "Accept `application/json` (and `application/problem+json` for errors).",
    ),
    ProblemType(
        "conflict",
        "Conflict",
        409,
        "The change conflicts with the resource's current state (for example a name already taken).",
        "Read the resource again, then decide whether to repeat the change.",
    ),
    ProblemType(
        "invalid-property-value",
        "Invalid property value",
        409,
        "A WebDAV property was given a value it cannot take (RFC 4918 9.2), such as an empty or over-long calendar "
        "name in a PROPPATCH of DAV:displayname; nothing of the request was written. `detail` names the property.",
        "Send a value the property accepts (a calendar name of 1 to 255 characters) and try again.",
    ),
    ProblemType(
        "invalid-status-transition",
        "Invalid status transition",
        409,
        "The appointment's status does not allow this action (a cancelled appointment cannot be booked again).",
        "Read the appointment's current status; the allowed transitions are in docs/api.md.",
    ),
    ProblemType(
        "slot-unavailable",
        "Slot unavailable",
        409,
        "The requested time is no longer free on the calendar (another appointment, a buffer or closed hours).",
        "Ask `GET /api/v1/availability` for free slots and book one of them.",
    ),
    ProblemType(
        "already-booked",
        "Already booked",
        409,
        "The customer of this personal booking link already has a live booking.",
        "Manage that booking (reschedule or cancel it) through the link in its confirmation instead of booking again.",
    ),
    ProblemType(
        "precondition-failed",
        "Precondition failed",
        412,
        "`If-Match` names a version (ETag) that is no longer the current one: someone changed the resource since "
        "you read it.",
        "GET the resource again, apply your change to the current version and send it with the new ETag.",
    ),
    ProblemType(
        "request-entity-too-large",
        "Request entity too large",
        413,
        "The request body is larger than the service accepts (the `max_body_bytes` setting).",
        "Send less per request: split an import into several requests or use the command line import.",
    ),
    ProblemType(
        "unsupported-media-type",
        "Unsupported media type",
        415,
        "The body's `Content-Type` is not one the operation reads.",
        "Send JSON with `Content-Type: application/json`.",
    ),
    ProblemType(
        "invalid-request",
        "Invalid request",
        422,
        "The request is well-formed JSON but some values are invalid. `errors` lists every invalid field with its "
        "dotted location (`guests.0.timezone`, `query.limit`) and what is wrong with it.",
        "Correct every field listed in `errors`; the schemas and examples are at /api/docs.",
    ),
    ProblemType(
        "cannot-convert-appointment",
        "Cannot convert appointment",
        422,
        "An appointment cannot be converted to or from the interchange format: `errors` names each field in the "
        "source format's terms, and says which code table to configure when a code is missing.",
        "Correct the item, or configure the format's code tables (docs/converters.md).",
    ),
    ProblemType(
        "import-failed",
        "Import failed",
        422,
        "An atomic import found at least one bad item, so nothing was written. `results` reports every item.",
        "Correct the items reported as errors and import again, or import without `atomic` to keep the good ones.",
    ),
    ProblemType(
        "idempotency-key-reused",
        "Idempotency-Key reused",
        422,
        "The `Idempotency-Key` header was already used with a different request body.",
        "Use a new key for a new request; repeat a key only to retry exactly the same request.",
    ),
    ProblemType(
        "idempotency-key-in-use",
        "Idempotency-Key in use",
        409,
        "The first request with this `Idempotency-Key` is still being processed (a repeat waits up to 10 seconds for "
        "its answer), or it was applied and its answer was lost.",
        "Retry the same request with the same key in a few seconds; if the answer was lost, look the record up.",
    ),
    ProblemType(
        "too-many-requests",
        "Too many requests",
        429,
        "The client sent more requests than allowed in a period.",
        "Wait for the number of seconds in `Retry-After`, then try again.",
    ),
    ProblemType(
        "internal-server-error",
        "Internal server error",
        500,
        "The service failed unexpectedly. The error was logged; nothing about it is disclosed here.",
        "Try again later. When reporting it, quote the `X-Request-ID` response header.",
    ),
    ProblemType(
        "not-ready",
        "Service unavailable",
        503,
        "The service runs but cannot serve yet: the database is unreachable or its migrations are not current. "
        "The members of the document say which.",
        "Operators: start the database or run `appointments db upgrade`. Clients: retry later.",
    ),
    ProblemType(
        "service-unavailable",
        "Service unavailable",
        503,
        "The service cannot handle the request at the moment.",
        "Retry later.",
    ),
    ProblemType(
        "audit-unavailable",
        "Audit log unavailable",
        503,
        "The data was read but its read could not be recorded in the audit log (the database refused the write: "
        "full, locked too long, failing), so none of it was returned: every read of patient data is audited first.",
        "Retry later. Operators: check the database's free space and its log.",
    ),
    ProblemType(
        "http-error",
        "HTTP error",
        400,
        "An HTTP error without a more specific type; `status` and `detail` say what happened.",
        "Read `detail`; the operations and what they answer are listed at /api/docs.",
    ),
)

#: Every problem type by slug.
PROBLEM_TYPES: dict[str, ProblemType] = {t.slug: t for t in _TYPES}
#: The type an HTTP status gets when nothing more specific is known.
GENERIC_BY_STATUS: dict[int, str] = {
    400: "bad-request",
    401: "authentication-required",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "request-entity-too-large",
    415: "unsupported-media-type",
    422: "invalid-request",
    429: "too-many-requests",
    500: "internal-server-error",
    503: "service-unavailable",
}
_BY_TITLE = {t.title.casefold(): t.slug for t in _TYPES if t.slug not in {"not-ready", "service-unavailable"}}


def slug_for(status: int, title: str, kind: str | None = None) -> str:
    """The catalogued slug for a problem: ``kind`` if catalogued, else by ``title``, else by ``status``."""
    if kind in PROBLEM_TYPES:
        return kind
    by_title = _BY_TITLE.get(title.casefold())
    if by_title is not None:
        return by_title
    return GENERIC_BY_STATUS.get(status, "http-error")
