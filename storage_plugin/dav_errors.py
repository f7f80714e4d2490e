"""The core's refusals as DAV answers: status codes and RFC 4791/4918 precondition names live here.

The core (``caldav_bridge``) raises errors that carry data (``ValidationFailed``, ``Conflict``, ...;
``InvalidCalendarData``, ``ResourceNotFound``, ``ItemChanged`` ... from the CalDAV side, see
``caldav_bridge.dav.errors``); :func:`dav_error` says how each is answered.
"""

from __future__ import annotations

from caldav_bridge.dav.errors import (
    InvalidCalendarData,
    InvalidPropertyValue,
    ItemChanged,
    MalformedCalendarData,
    ResourceNotFound,
    UnsupportedComponent,
)
from caldav_bridge.errors import Conflict, DomainError, Forbidden, NotFound, PreconditionFailed, ValidationFailed

__all__ = ["MAX_DATE_TIME", "MAX_RESOURCE_SIZE", "MIN_DATE_TIME", "VALID_CALENDAR_DATA", "DavError", "dav_error"]

#: RFC 4791 5.3.2.1: the calendar object is not valid (or not one we can store).
VALID_CALENDAR_DATA = "C:valid-calendar-data"
#: RFC 4791 5.3.2.1: the collection does not accept this component.
SUPPORTED_COMPONENT = "C:supported-calendar-component"
#: RFC 4791 5.3.2.1: the calendar object is larger than the server accepts.
MAX_RESOURCE_SIZE = "C:max-resource-size"
#: RFC 4791 9.9: a time-range or expand before the earliest date the server serves.
MIN_DATE_TIME = "C:min-date-time"
#: RFC 4791 9.9: a time-range or expand after the latest date the server serves.
MAX_DATE_TIME = "C:max-date-time"
#: RFC 3744: the principal lacks the privilege.
NEED_PRIVILEGES = "D:need-privileges"


class DavError(Exception):
    """A refused DAV request: HTTP ``status`` and the RFC's precondition element, if any.

    ``precondition`` is a prefixed name such as ``"C:valid-calendar-data"`` (CalDAV) or
    ``"D:need-privileges"``; ``None`` answers with a plain status.
    """

    def __init__(self, status: int, detail: str, precondition: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.precondition = precondition


#: Error class → (HTTP status, precondition); the first matching class wins.
_ANSWERS: tuple[tuple[type[DomainError], int, str | None], ...] = (
    (MalformedCalendarData, 400, VALID_CALENDAR_DATA),
    (InvalidCalendarData, 403, VALID_CALENDAR_DATA),
    (UnsupportedComponent, 403, SUPPORTED_COMPONENT),
    (ValidationFailed, 403, VALID_CALENDAR_DATA),
    (Forbidden, 403, NEED_PRIVILEGES),
    (InvalidPropertyValue, 409, None),
    (PreconditionFailed, 412, None),
    (ItemChanged, 412, None),
    (ResourceNotFound, 404, None),
    (Conflict, 409, None),
    (NotFound, 409, None),
)


def dav_error(exc: DomainError) -> DavError:
    """The DAV answer to ``exc``; a refusal not listed is a 409 conflict."""
    for kind, status, precondition in _ANSWERS:
        if isinstance(exc, kind):
            return DavError(status, exc.detail, precondition)
    return DavError(409, exc.detail)
