"""Pydantic validation errors as the field-level errors every edge reports."""

from __future__ import annotations

from pydantic import ValidationError

from caldav_bridge.errors import FieldError, FieldValueError

__all__ = ["field_errors"]


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """One :class:`FieldError` per problem, located by a dotted path (``guests.0.timezone``).

    A check of several fields together is located at the field its :class:`FieldValueError` names.
    """
    errors = []
    for error in exc.errors(include_url=False):
        loc = [str(p) for p in error["loc"]]
        culprit = error.get("ctx", {}).get("error")
        if isinstance(culprit, FieldValueError):
            loc.append(culprit.field)
        path = ".".join(loc)
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        message = error["msg"].removeprefix("Value error, ")
        errors.append(FieldError(path or "(body)", message))
    return errors
