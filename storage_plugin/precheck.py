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
import re
from typing import Any
from xml.parsers import expat

from caldav_bridge.dav.validate import check_calendar_body
from caldav_bridge.errors import DomainError
from storage_plugin import request_state
from storage_plugin.dav_errors import MAX_DATE_TIME, MAX_RESOURCE_SIZE, MIN_DATE_TIME, DavError, dav_error

__all__ = ["REFUSED_BODY", "REFUSED_XML", "refused_put", "refused_xml", "replace_refused_body"]

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
    put back as the environ's ``wsgi.input``. The body's parse is kept for the request
    (:func:`storage_plugin.request_state.put_body`), so that the store need not parse it again.
    """
    request_state.set_put_body(None)
    length = declared_length(environ)
    if environ.get("REQUEST_METHOD") != "PUT" or length <= 0:
        return None
    if max_resource is not None and length > max_resource:
        # RFC 4791 5.3.2.1; Radicale itself would answer 412 (as if an If-Match had failed).
        return DavError(403, f"a calendar object may have at most {max_resource} bytes", MAX_RESOURCE_SIZE)
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        parsed = check_calendar_body(body, environ.get("CONTENT_TYPE") or "")
    except DomainError as exc:  # the core's refusal, answered as DAV (storage_plugin.dav_errors)
        return dav_error(exc)
    request_state.set_put_body(parsed)  # the store reads this parse when the stored text reads alike
    return None


def replace_refused_body(environ: dict[str, Any], error: DavError) -> None:
    """For Radicale on its own: log the refusal and hand Radicale a body its reader refuses (400) instead."""
    method = environ.get("REQUEST_METHOD")
    log.warning("CalDAV %s refused before parsing: %s %s", method, error.status, error.detail)
    body = REFUSED_BODY if method == "PUT" else REFUSED_XML
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    if method == "PUT":
        environ["CONTENT_TYPE"] = "text/calendar"


#: Methods whose bodies are WebDAV/CalDAV XML.
XML_METHODS = frozenset({"PROPFIND", "PROPPATCH", "REPORT", "MKCALENDAR", "MKCOL"})
#: Deepest element nesting a DAV body may have (a calendar-query with its filters needs about eight).
MAX_XML_DEPTH = 64
#: Years a time-range or expand of a REPORT may name (RFC 4791 min-date-time / max-date-time).
MIN_YEAR, MAX_YEAR = 1900, 2200
#: What Radicale on its own is handed instead of a refused XML body: its XML reader refuses it at once (400).
REFUSED_XML = b"<refused/"
_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


class _Refusal(Exception):
    def __init__(self, error: DavError) -> None:
        super().__init__(error.detail)
        self.error = error


def _check_dates(name: str, attributes: dict[str, str]) -> None:
    if name.rpartition(" ")[2] not in ("time-range", "expand"):
        return
    for key in ("start", "end"):
        value = attributes.get(key)
        if not value:
            continue
        year = int(value[:4]) if value[:4].isdigit() else None
        if year is None or year < MIN_YEAR:
            raise _Refusal(
                DavError(403, f"{key}={value!r}: the earliest date served is {MIN_YEAR}-01-01", MIN_DATE_TIME)
            )
        if year >= MAX_YEAR:
            raise _Refusal(DavError(403, f"{key}={value!r}: the latest date served is {MAX_YEAR}-01-01", MAX_DATE_TIME))


def refused_xml(environ: dict[str, Any]) -> DavError | None:
    """A WebDAV/CalDAV XML body checked before Radicale parses it (None: it may go on).

    Refused: a DTD or entity declaration (DAV bodies need none; Radicale's defusedxml refuses entities
    with a 500), nesting deeper than :data:`MAX_XML_DEPTH` (Radicale recurses into filters: a 500 at
    Python's recursion limit), and a REPORT time-range or expand outside :data:`MIN_YEAR`..:data:`MAX_YEAR`
    (Radicale's expand fails on year 1 with a 500). Anything else, malformed XML included, is Radicale's
    to answer. The caller has made sure the declared length is within the body limit.
    """
    length = declared_length(environ)
    if environ.get("REQUEST_METHOD") not in XML_METHODS or length <= 0:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    if _DECLARATION.search(body):
        return DavError(400, "an XML body may not declare a DTD or entities")
    depth = 0

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_XML_DEPTH:
            raise _Refusal(DavError(400, f"the XML body nests deeper than {MAX_XML_DEPTH} elements"))
        _check_dates(name, attributes)

    def end(name: str) -> None:
        nonlocal depth
        depth -= 1

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(body, True)
    except _Refusal as exc:
        return exc.error
    except expat.ExpatError:
        return None  # malformed: Radicale answers 400 itself
    return None
