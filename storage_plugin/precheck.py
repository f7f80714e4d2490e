"""The checks a PUT body gets before Radicale parses it or takes a storage lock.

:func:`refused_put` reads the body (after checking its declared length), hands it back to the WSGI
environ, and runs :func:`caldav_bridge.dav.validate.check_calendar_body` on it: recurrence rules that
never occur or cost more than the budget, year-zero dates, unknown time zones, invalid UTF-8, items
above the resource size. Two callers:

- in the service, ``feeds.dav.DavErrors`` (WSGI middleware in front of Radicale) answers a refusal
  with its own status and DAV precondition element;
- Radicale on its own (``radicale`` with this package's plugins) has no middleware hook, but it asks
  the auth plugin for an external login with the request's environ before the method handler reads
  the body (``BaseAuth.get_external_login``): :class:`storage_plugin.auth.Auth` runs the same check
  there and, on a refusal, logs the reason and replaces the body with :data:`REFUSED_BODY`, which
  Radicale's own iCalendar reader refuses at once (400 Bad Request), before any parsing or lock.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from caldav_bridge.dav.validate import check_calendar_body
from caldav_bridge.errors import DomainError
from storage_plugin.dav_errors import MAX_RESOURCE_SIZE, DavError, dav_error

__all__ = ["REFUSED_BODY", "refused_put", "replace_refused_body"]

log = logging.getLogger("appointments.caldav")

#: What Radicale on its own is handed instead of a refused body: no iCalendar reader accepts it.
REFUSED_BODY = b"BEGIN:VCALENDAR\r\nX-REFUSED:the body was refused before parsing (see the server log)\r\n"


def declared_length(environ: dict[str, Any]) -> int:
    try:
        return max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def refused_put(environ: dict[str, Any], max_resource: int | None) -> DavError | None:
    """A PUT's body checked before Radicale parses it (None: it may go on; anything else: unchanged).

    The caller has made sure the declared length is within the body limit; the body is read here and
    put back as the environ's ``wsgi.input``.
    """
    length = declared_length(environ)
    if environ.get("REQUEST_METHOD") != "PUT" or length <= 0:
        return None
    if max_resource is not None and length > max_resource:
        # RFC 4791 5.3.2.1; Radicale itself would answer 412 (as if an If-Match had failed).
        return DavError(403, f"a calendar object may have at most {max_resource} bytes", MAX_RESOURCE_SIZE)
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        check_calendar_body(body, environ.get("CONTENT_TYPE") or "")
    except DomainError as exc:  # the core's refusal, answered as DAV (storage_plugin.dav_errors)
        return dav_error(exc)
    return None


def replace_refused_body(environ: dict[str, Any], error: DavError) -> None:
    """For Radicale on its own: log the refusal and hand Radicale :data:`REFUSED_BODY` instead of the body."""
    log.warning("CalDAV PUT refused before parsing: %s %s", error.status, error.detail)
    environ["wsgi.input"] = io.BytesIO(REFUSED_BODY)
    environ["CONTENT_LENGTH"] = str(len(REFUSED_BODY))
    environ["CONTENT_TYPE"] = "text/calendar"
