"""Errors of the CalDAV store. They carry data; ``storage_plugin.dav_errors`` answers them as DAV."""

from __future__ import annotations

from caldav_bridge.errors import DomainError, FieldError, NotFound, ValidationFailed

__all__ = [
    "InvalidCalendarData",
    "InvalidPropertyValue",
    "ItemChanged",
    "MalformedCalendarData",
    "ResourceNotFound",
    "SyncTokenInvalid",
    "UnsupportedComponent",
]


class InvalidCalendarData(ValidationFailed):
    """A calendar object that is no usable event (unparseable, ending before it starts, not an appointment)."""

    def __init__(self, detail: str) -> None:
        super().__init__([FieldError("(calendar object)", detail)], detail)


class MalformedCalendarData(InvalidCalendarData):
    """A body that cannot be read as calendar data at all (not text in its charset, no component)."""


class UnsupportedComponent(ValidationFailed):
    """A component (VTODO, VJOURNAL, ...) the collection does not accept."""

    def __init__(self, component: str) -> None:
        detail = f"this calendar does not accept {component}"
        super().__init__([FieldError("(calendar object)", detail)], detail)
        self.component = component


class InvalidPropertyValue(DomainError):
    """A PROPPATCH value the property cannot take (RFC 4918 9.2: answered 409), e.g. an empty calendar name."""

    title = "Invalid property value"

    def __init__(self, prop: str, detail: str) -> None:
        super().__init__(f"{prop}: {detail}")
        self.prop = prop


class ResourceNotFound(NotFound):
    """The collection or item a CalDAV request names does not exist (``kind``: "collection" or "item")."""


class ItemChanged(DomainError):
    """The item is no longer the one the request's preconditions (If-Match, If-None-Match) matched."""

    title = "Precondition failed"

    def __init__(self, href: str, detail: str) -> None:
        super().__init__(detail)
        self.href = href


class SyncTokenInvalid(ValueError):
    """An unknown, malformed, foreign or expired sync token (RFC 6578 ``DAV:valid-sync-token``)."""
