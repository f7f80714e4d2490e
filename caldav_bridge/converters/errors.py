"""The one error every converter raises: a payload (or an appointment) that cannot be converted.

It is a :class:`~caldav_bridge.errors.ValidationFailed`, so every edge already knows how to report it
(one :class:`~caldav_bridge.errors.FieldError` per problem, each naming the field in the *source*
format: ``start_time``, ``attributes.event_info.end``, ``customers.0.timezone``), and a ``ValueError``,
so code that only knows the standard library can still catch it.

Messages name fields and, where useful, codes and ids (an unmapped ``eventTypeId`` 9, an unknown
``state``). They never carry secrets or patient data: no ``onlineBookingSecret``, no birthdate.
"""

from __future__ import annotations

from collections.abc import Sequence

from caldav_bridge.errors import FieldError, ValidationFailed

__all__ = ["ConversionError", "UnknownFormatError"]


class ConversionError(ValidationFailed, ValueError):
    """One item that cannot be converted, with every field that is wrong in it."""

    title = "Cannot convert appointment"

    def __init__(self, format_name: str, errors: Sequence[FieldError]) -> None:
        if not errors:
            raise ValueError("a ConversionError needs at least one FieldError")
        errors = list(errors)
        super().__init__(errors, f"{format_name}: " + "; ".join(f"{e.field}: {e.message}" for e in errors))
        self.format = format_name

    @property
    def fields(self) -> list[str]:
        """The names of the wrong fields, in the order they were found."""
        return [e.field for e in self.errors]


class UnknownFormatError(LookupError):
    """No converter is registered under the asked-for name."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(f"unknown appointment format {name!r}; known formats: {', '.join(known)}")
        self.name = name
        self.known = tuple(known)
