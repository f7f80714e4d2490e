"""Domain errors. They carry data; the edges (REST, OLS, CalDAV, CLI) translate them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AuditFailed",
    "Conflict",
    "DomainError",
    "FieldError",
    "FieldValueError",
    "Forbidden",
    "IdempotencyKeyInUse",
    "IdempotencyKeyReused",
    "InvalidTransition",
    "MalformedBody",
    "NotFound",
    "PreconditionFailed",
    "Unauthorized",
    "ValidationFailed",
]


class DomainError(Exception):
    """Base of every error the core raises on purpose."""

    title = "Request failed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class FieldError:
    """One invalid field: a JSON-pointer-like dotted location and what is wrong with it."""

    field: str
    message: str


class FieldValueError(ValueError):
    """Raised by a validator that checks several fields together, naming the one to blame (``date_end``
    for an end before the start); the edges report it at that field, not at the body as a whole."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ValidationFailed(DomainError):
    title = "Invalid request"

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        super().__init__(detail or "; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


class MalformedBody(ValidationFailed):
    """A request body that cannot be read at all (not JSON, nested too deeply): a 400, not a 422."""

    title = "Malformed request body"


class NotFound(DomainError):
    title = "Not found"

    def __init__(self, kind: str, identifier: str) -> None:
        super().__init__(f"{kind} {identifier!r} not found")
        self.kind = kind
        self.identifier = identifier


class Unauthorized(DomainError):
    title = "Authentication required"


class Forbidden(DomainError):
    title = "Forbidden"


class Conflict(DomainError):
    title = "Conflict"


class InvalidTransition(Conflict):
    title = "Invalid status transition"

    def __init__(self, current: str, action: str) -> None:
        super().__init__(f"cannot {action} an appointment whose status is {current}")
        self.current = current
        self.action = action


class PreconditionFailed(DomainError):
    title = "Precondition failed"

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"If-Match {expected} does not match the current ETag {actual}")
        self.expected = expected
        self.actual = actual


class IdempotencyKeyReused(DomainError):
    title = "Idempotency-Key reused"

    def __init__(self, key: str, endpoint: str | None = None, first_endpoint: str | None = None) -> None:
        if first_endpoint and endpoint and first_endpoint != endpoint:
            detail = f"Idempotency-Key {key!r} was already used for {first_endpoint}, not {endpoint}"
        else:
            detail = f"Idempotency-Key {key!r} was already used with a different request body"
        super().__init__(detail)
        self.key = key
        self.members = {"idempotency_key": key, "first_request": first_endpoint} if first_endpoint else None


class IdempotencyKeyInUse(Conflict):
    """The first request with this key has not answered yet (or its answer was lost after it was applied)."""

    title = "Idempotency-Key in use"


class AuditFailed(DomainError):
    """A read could not be audited, so its data is not returned (answered 503: retry later)."""

    title = "Audit log unavailable"

    def __init__(self) -> None:
        super().__init__("the read could not be recorded in the audit log, so nothing was returned; retry later")
