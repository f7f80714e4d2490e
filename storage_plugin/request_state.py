"""Per-thread state shared by the plugins and the WSGI wrapper (one request per thread)."""

from __future__ import annotations

import threading
from typing import Any

from caldav_bridge.converters.ical_parse import ParsedText
from storage_plugin.dav_errors import DavError

__all__ = ["DavRefused", "local", "pop_error", "preconditions", "put_body", "set_error", "set_put_body"]

local = threading.local()


class DavRefused(ValueError):
    """Raised into Radicale (which answers 400 for a ValueError); the wrapper rewrites the answer."""

    def __init__(self, error: DavError) -> None:
        super().__init__(error.detail)
        self.error = error


def set_error(error: DavError) -> DavRefused:
    local.error = error
    return DavRefused(error)


def pop_error() -> DavError | None:
    error: DavError | None = getattr(local, "error", None)
    local.error = None
    return error


def request_info() -> dict[str, Any]:
    info: dict[str, Any] | None = getattr(local, "request", None)
    return info or {}


def preconditions() -> tuple[str | None, str | None]:
    """The request's ``If-Match`` and ``If-None-Match`` headers (None when absent or outside a request)."""
    info = request_info()
    return info.get("if_match"), info.get("if_none_match")


def set_put_body(body: ParsedText | None) -> None:
    """The PUT body of this thread's request as the pre-parse check read it (None: none, or not iCalendar)."""
    local.put_body = body


def put_body() -> ParsedText | None:
    """What :func:`set_put_body` kept for this thread's request."""
    body: ParsedText | None = getattr(local, "put_body", None)
    return body
