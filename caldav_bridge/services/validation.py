"""Pydantic validation errors as the field-level errors every edge reports."""

from __future__ import annotations

from pydantic import ValidationError

from caldav_bridge.errors import FieldError

__all__ = ["field_errors"]


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """One :class:`FieldError` per problem, located by a dotted path (``guests.0.timezone``)."""
    errors = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(p) for p in error["loc"])
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        message = error["msg"].removeprefix("Value error, ")
        errors.append(FieldError(path or "(body)", message))
    return errors
