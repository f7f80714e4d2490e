"""CalDAV at ``/dav/``: Radicale's WSGI application in the same process as the Flask app.

:func:`mount` wraps the Flask app's ``wsgi_app``: requests under ``/dav`` go to Radicale
(configured with our storage, auth and rights plugins over the app's own runtime), and
``/.well-known/caldav`` / ``/.well-known/carddav`` redirect there (RFC 6764). Refusals the
storage raises as :class:`storage_plugin.dav_errors.DavError` reach Radicale as a ValueError
(it would answer 400); :class:`DavErrors` replaces that answer with the error's own status and
RFC precondition element.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from typing import Any
from xml.sax.saxutils import escape

from flask import Flask
from radicale import Application
from radicale import config as radicale_config

from caldav_bridge.runtime import Runtime
from caldav_bridge.services.actor import request_id_from
from storage_plugin import precheck, request_state
from storage_plugin.binding import BoundPlugins
from storage_plugin.dav_errors import VALID_CALENDAR_DATA, DavError
from storage_plugin.listings import DavListings

__all__ = ["DAV_PREFIX", "DavErrors", "dav_application", "mount", "radicale_application"]

DAV_PREFIX = "/dav"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav", "CR": "urn:ietf:params:xml:ns:carddav"}
_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 412: "Precondition Failed"}

log = logging.getLogger("appointments.caldav")


def dav_application(rt: Runtime) -> WSGIApp:
    """Radicale configured for ``rt`` (storage, auth and rights plugins of this project), with the listings
    it would answer slowly answered in front of it from SQL (:class:`storage_plugin.listings.DavListings`)."""
    configuration, plugins = _radicale_configuration(rt)
    app = _radicale(configuration, rt)
    assert plugins.storage is not None and plugins.auth is not None and plugins.rights is not None
    return DavListings(
        app,
        rt,
        plugins.auth,
        plugins.rights,
        configuration,
        max_resource_size=plugins.storage.max_resource_size,
    )


def radicale_application(rt: Runtime) -> WSGIApp:
    """Radicale alone (with our plugins and :class:`DavErrors`), no listings layer: what tests compare with."""
    configuration, _ = _radicale_configuration(rt)
    return _radicale(configuration, rt)


def _radicale(configuration: Any, rt: Runtime) -> WSGIApp:
    return DavErrors(Application(configuration), max_body=rt.settings.max_body_bytes)


def _radicale_configuration(rt: Runtime) -> tuple[Any, BoundPlugins]:
    plugins = BoundPlugins(rt)
    types = plugins.types()
    configuration = radicale_config.load([])
    configuration.update(
        {
            "server": {
                "max_content_length": str(rt.settings.max_body_bytes),
                # Radicale caps it so itself; said here, the storage's check agrees with it.
                "max_resource_size": str(max_resource_size(rt.settings.max_body_bytes)),
            },
            "auth": {"type": types["auth"], "realm": "Appointment Service CalDAV", "delay": "0.2"},
            "rights": {"type": types["rights"]},
            "storage": {"type": types["storage"]},
            "web": {"type": "none"},
            "logging": {"level": "warning", "mask_passwords": "True"},
        },
        "appointment-service",
        privileged=True,
    )
    return configuration, plugins


#: The most bytes a calendar object may have whatever the body limit: its parsers (icalendar, Radicale's vobject)
#: spend ~0.9 µs of CPU on each byte of property values, character by character, so a PUT of 800 KB cost 0.74 s
#: (bench/hostile_costs.py); 256 KiB cost ~0.25 s, and an appointment has a few KB.
MAX_RESOURCE_BYTES = 256 * 1024


def max_resource_size(max_body: int) -> int:
    """The largest calendar object stored: 80 % of the body limit (Radicale's own cap), at most 256 KiB."""
    return min(int(max_body * 0.8), MAX_RESOURCE_BYTES)


class DavErrors:
    """Runs Radicale with a request id and turns a refused storage call into its DAV answer."""

    def __init__(self, app: WSGIApp, max_body: int = 0) -> None:
        self.app = app
        self.max_body = max_body

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if self.max_body and length > self.max_body:
            # Radicale checks max_content_length only in its own server; refuse before it parses.
            message = f"the body exceeds {self.max_body} bytes".encode()
            start_response(
                "413 Request Entity Too Large",
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(message)))],
            )
            return [message]
        # Checked before Radicale parses the body or takes the storage lock (storage_plugin.precheck).
        refused = precheck.refused_put(environ, max_resource_size(self.max_body) if self.max_body else None)
        refused = refused or precheck.refused_xml(environ)
        if refused is not None:
            return _error_response(refused, start_response)
        request_state.local.request = {
            "request_id": request_id_from(environ.get("HTTP_X_REQUEST_ID")),
            # Re-checked by the store on the locked row (a REST edit may land after Radicale's check).
            "if_match": environ.get("HTTP_IF_MATCH"),
            "if_none_match": environ.get("HTTP_IF_NONE_MATCH"),
            # Whether a Depth:1 discover must read item texts in the request's transaction; only a
            # PROPFIND's answer can need them (storage_plugin.storage reads them eagerly when unsaid).
            "texts_needed": environ.get("REQUEST_METHOD") == "PROPFIND" and _propfind_needs_texts(environ, length),
        }
        request_state.pop_error()
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
            captured[:] = [status, headers]
            return lambda data: None

        try:
            body = b"".join(self.app(environ, capture))
            error = request_state.pop_error()
        finally:
            request_state.local.request = None
            request_state.set_put_body(None)
        if error is None and environ.get("REQUEST_METHOD") == "PUT" and str(captured[0]).startswith("400"):
            # Radicale could not read the body as iCalendar/vCard (RFC 4791 5.3.2.1 names this).
            error = DavError(400, "the body is not valid calendar data", VALID_CALENDAR_DATA)
        if error is not None:
            return _error_response(error, start_response)
        start_response(*captured)
        return [body]


def _propfind_needs_texts(environ: dict[str, Any], length: int) -> bool:
    """Whether a PROPFIND may need item texts: allprop (also an empty body) and getcontentlength do.

    The body is read here (at most ``max_body`` bytes, checked above) and handed on to Radicale.
    A crude test on purpose: a false "yes" only costs reading the texts, as before.
    """
    if length <= 0:
        return True
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return not body.strip() or b"allprop" in body or b"getcontentlength" in body


def _error_response(error: DavError, start_response: Callable[..., Any]) -> Iterable[bytes]:
    log.info("CalDAV request refused: %s %s", error.status, error.detail)
    status = f"{error.status} {_REASONS.get(error.status, 'Error')}"
    if error.precondition:
        prefix, _, name = error.precondition.partition(":")
        ns = _NS.get(prefix, "DAV:")
        body = (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            f'<D:error xmlns:D="DAV:" xmlns:X="{ns}"><X:{name}/>'
            f"<D:responsedescription>{escape(error.detail)}</D:responsedescription></D:error>"
        ).encode()
        content_type = "application/xml; charset=utf-8"
    else:
        body = error.detail.encode()
        content_type = "text/plain; charset=utf-8"
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


class _Dispatcher:
    def __init__(self, flask_app: WSGIApp, dav: WSGIApp) -> None:
        self.flask_app = flask_app
        self.dav = dav

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or ""
        if path == DAV_PREFIX or path.startswith(DAV_PREFIX + "/"):
            environ = dict(environ)
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + DAV_PREFIX
            environ["PATH_INFO"] = path[len(DAV_PREFIX) :] or "/"
            return self.dav(environ, start_response)
        if path.rstrip("/") in ("/.well-known/caldav", "/.well-known/carddav"):
            location = environ.get("SCRIPT_NAME", "").rstrip("/") + DAV_PREFIX + "/"
            start_response("301 Moved Permanently", [("Location", location), ("Content-Length", "0")])
            return [b""]
        return self.flask_app(environ, start_response)


def mount(app: Flask, rt: Runtime) -> None:
    """Serve CalDAV at ``/dav/`` from ``app``'s WSGI callable (same process, same runtime)."""
    app.wsgi_app = _Dispatcher(app.wsgi_app, dav_application(rt))  # type: ignore[method-assign]
