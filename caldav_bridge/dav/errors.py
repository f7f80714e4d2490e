"""Errors of the CalDAV store, translated into DAV responses at the edge (``storage_plugin``)."""

from __future__ import annotations

from caldav_bridge.errors import DomainError, FieldError, ValidationFailed

__all__ = ["DavError", "InvalidCalendarData", "SyncTokenInvalid"]


class InvalidCalendarData(ValidationFailed):
    """A calendar object that is no usable event (unparseable, ending before it starts, not an appointment)."""

    def __init__(self, detail: str) -> None:
        super().__init__([FieldError("(calendar object)", detail)], detail)


class DavError(DomainError):
    """A request the store refuses: HTTP ``status`` and the RFC's precondition element, if any.

    ``precondition`` is a prefixed name such as ``"C:valid-calendar-data"`` (CalDAV) or
    ``"D:need-privileges"``; ``None`` answers with a plain status.
    """

    title = "CalDAV request refused"

    def __init__(self, status: int, detail: str, precondition: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.precondition = precondition


class SyncTokenInvalid(ValueError):
    """An unknown, malformed, foreign or expired sync token (RFC 6578 ``DAV:valid-sync-token``)."""
