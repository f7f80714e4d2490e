"""The hottest reads answered before Flask, by the route's own code, with what Flask's hooks add.

Flask's per-request machinery (request context, routing, the hooks, the response object) costs about 0.2 ms a
request: as much as a whole request of a minimal Flask app, and a third of an API read (bench/README.md, fifteenth
session). A route may give, beside its Flask view, a *direct* handler: a function of the request
(:class:`DirectRequest`) that answers the route's usual case (a 200 or a 304) as an :class:`Answer`, or returns None
to leave the request to Flask. Flask answers everything else, errors included: a handler that raises is not
answered here either (the view runs again and its error handlers render the problem once, as for any request);
a direct handler must therefore do nothing before its answer that doing twice would harm (a read audited twice is
still audited).

:class:`Direct`, WSGI middleware, matches a request with the app's own URL map, so a direct handler sees exactly
the requests its route would, and does for an answer what the hooks do for a Flask response: the request id, the
default headers (:data:`DEFAULT_HEADERS`), the metrics and the access log line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Response
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Map
from werkzeug.wrappers import Request

from caldav_bridge.services.actor import request_id_from
from feeds.access_log import log_request

__all__ = ["DEFAULT_HEADERS", "JSON", "Answer", "Direct", "DirectRequest", "DirectRoute", "Observe", "response_of"]

log = logging.getLogger(__name__)
#: Headers every answer carries unless it sets them itself (Flask's responses get them in an ``after_request``).
DEFAULT_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store"))
#: The media type of the API's JSON (Flask's ``app.json.mimetype``).
JSON = "application/json"

Observe = Callable[[str, str, int, float, str | None], None]


@dataclass(frozen=True)
class Answer:
    """A whole answer: status, headers (without ``X-Request-ID`` and the defaults, added here) and body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    #: Who asked (the access log's ``user``), if known.
    user: str | None = None


def response_of(answer: Answer) -> Response:
    """``answer`` as the Flask view's response (the same status, headers and bytes)."""
    return Response(answer.body, answer.status, answer.headers)


@dataclass
class DirectRequest:
    """What a direct handler knows of the request: the WSGI environ, the route's arguments, the request id."""

    environ: dict[str, Any]
    path_args: Mapping[str, Any]
    request_id: str
    _args: MultiDict[str, str] | None = field(default=None, init=False, repr=False)

    def header(self, name: str) -> str | None:
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"))

    @property
    def args(self) -> MultiDict[str, str]:
        """The query string parsed as Flask's ``request.args`` is (werkzeug's own parser)."""
        if self._args is None:
            self._args = Request(self.environ).args
        return self._args


@dataclass(frozen=True)
class DirectRoute:
    """A direct handler for the Flask endpoint ``endpoint`` and the methods it answers."""

    endpoint: str
    handler: Callable[[DirectRequest], Answer | None]
    methods: frozenset[str] = frozenset({"GET"})


class Direct:
    """Answers the requests of ``routes`` that their handlers answer; passes every other request to ``app``."""

    def __init__(self, app: Any, url_map: Map, routes: Iterable[DirectRoute], observe: Observe | None = None) -> None:
        self.app = app
        # One adapter for every request: the map matches paths only (no host or subdomain rules); a redirect it
        # would answer (a missing trailing slash) is an HTTPException here, and Flask answers it.
        self.adapter = url_map.bind("direct")
        self.routes = {route.endpoint: route for route in routes}
        self.methods = frozenset(method for route in self.routes.values() for method in route.methods)
        rules = [rule.rule for rule in url_map.iter_rules() if rule.endpoint in self.routes]
        self.prefixes = tuple(_static_prefix(rule) for rule in rules)
        self.observe = observe

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        if method not in self.methods or not environ.get("PATH_INFO", "").startswith(self.prefixes):
            return self.app(environ, start_response)
        started = time.perf_counter()
        path = environ["PATH_INFO"].encode("latin-1").decode("utf-8", "replace")  # as werkzeug decodes PATH_INFO
        try:
            rule, args = self.adapter.match(path, method, return_rule=True)
        except HTTPException:
            return self.app(environ, start_response)  # not found, a redirect, a method not allowed: Flask's answer
        route = self.routes.get(str(rule.endpoint))
        if route is None or method not in route.methods:
            return self.app(environ, start_response)
        request = DirectRequest(environ, args, request_id_from(environ.get("HTTP_X_REQUEST_ID")))
        try:
            answer = route.handler(request)
        except Exception:  # Flask answers: the view meets the same error and renders it
            log.debug("direct answer to %s left to Flask", route.endpoint, exc_info=True)
            return self.app(environ, start_response)
        if answer is None:
            return self.app(environ, start_response)
        status = f"{answer.status} {HTTP_STATUS_CODES[answer.status].upper()}"  # as werkzeug's responses give it
        start_response(status, _headers(answer, request.request_id))
        elapsed = time.perf_counter() - started
        if self.observe is not None:
            self.observe(rule.rule, method, answer.status, elapsed, route.endpoint)
        query = environ.get("QUERY_STRING", "")
        log_request(method, path, query, answer.status, elapsed, request.request_id, answer.user)
        return [answer.body]


def _headers(answer: Answer, request_id: str) -> list[tuple[str, str]]:
    names = {name.lower() for name, _ in answer.headers}
    defaults = [(name, value) for name, value in DEFAULT_HEADERS if name.lower() not in names]
    return [*answer.headers, *defaults, ("X-Request-ID", request_id)]


def _static_prefix(rule: str) -> str:
    """The part of a rule before its first variable: a request outside it cannot match the rule."""
    return rule.split("<", 1)[0]
