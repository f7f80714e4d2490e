"""The core's refusals as DAV answers: status codes and RFC 4791/4918 precondition names live here.

The core (``caldav_bridge``) raises errors that carry data (``ValidationFailed``, ``Conflict``, ...;
``InvalidCalendarData`` from the CalDAV side); :func:`dav_error` says how each is answered.
"""

from __future__ import annotations

from caldav_bridge.dav.errors import DavError, InvalidCalendarData
from caldav_bridge.errors import Conflict, DomainError, Forbidden, NotFound, PreconditionFailed, ValidationFailed

__all__ = ["VALID_CALENDAR_DATA", "dav_error"]

#: RFC 4791 5.3.2: the calendar object is not valid (or not one we can store).
VALID_CALENDAR_DATA = "C:valid-calendar-data"
#: RFC 3744: the principal lacks the privilege.
NEED_PRIVILEGES = "D:need-privileges"

#: Error class → (HTTP status, precondition); the first matching class wins.
_ANSWERS: tuple[tuple[type[DomainError], int, str | None], ...] = (
    (InvalidCalendarData, 403, VALID_CALENDAR_DATA),
    (ValidationFailed, 403, VALID_CALENDAR_DATA),
    (Forbidden, 403, NEED_PRIVILEGES),
    (PreconditionFailed, 412, None),
    (Conflict, 409, None),
    (NotFound, 409, None),
)


def dav_error(exc: DomainError) -> DavError:
    """The DAV answer to ``exc``: itself if it is one already; a refusal not listed is a 409 conflict."""
    if isinstance(exc, DavError):
        return exc
    for kind, status, precondition in _ANSWERS:
        if isinstance(exc, kind):
            return DavError(status, exc.detail, precondition)
    return DavError(409, exc.detail)
