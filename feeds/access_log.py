"""Request ids and structured access logs (tokens and secrets never logged)."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from flask import Flask, Response, g, request

from caldav_bridge.services.actor import request_id_from

__all__ = ["configure_logging", "init_app", "log_request", "redact", "request_id"]

log = logging.getLogger("appointments.access")
#: Query keys and path segments that carry secrets.
_SECRET_QUERY = re.compile(r"(?i)\b(token|access_token|key|password|secret)=[^&\s]*")
_SECRET_PATH = re.compile(r"(/(?:feeds|calendar)/)[^/?\s]+")


def redact(text: str) -> str:
    """``text`` with tokens in query strings and feed paths replaced by ``[redacted]``."""
    text = _SECRET_QUERY.sub(lambda m: m.group(1) + "=[redacted]", text)
    return _SECRET_PATH.sub(r"\1[redacted]", text)


def request_id() -> str | None:
    try:
        rid: str | None = g.get("request_id")
    except RuntimeError:
        return None
    return rid


def log_request(
    method: str, path: str, query: str, status: int, seconds: float, rid: str | None, user: str | None = None
) -> None:
    """The access log line of one answered request (secrets in its path and query redacted)."""
    if not log.isEnabledFor(logging.INFO):
        return  # the line's fields (two redactions, the path) are not built for nobody
    full_path = f"{path}?{query}" if query else path
    extra = {
        "request_id": rid,
        "method": method,
        "path": redact(path),
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "user": user,
    }
    log.info("%s %s %s", method, redact(full_path), status, extra=extra)


def init_app(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.request_id = request_id_from(request.headers.get("X-Request-ID"))
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            response.headers["X-Request-ID"] = rid
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        actor = g.get("actor")
        query = request.query_string.decode("latin-1")
        user = actor.username if actor else None
        log_request(request.method, request.path, query, response.status_code, elapsed, rid, user)
        return response


class JsonLineFormatter(logging.Formatter):
    _FIELDS = ("request_id", "method", "path", "status", "duration_ms", "user")

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in self._FIELDS:
            if hasattr(record, name):
                data[name] = getattr(record, name)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


class TextFormatter(logging.Formatter):
    """The whole line redacted, as the JSON formatter's message is: a token may come in the message's arguments
    (``log.info("GET %s", path)``) or in an exception's text, not only in the message itself."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(fmt: str, level: str) -> None:
    """Send logs to stderr as text or JSON lines (``APPOINTMENTS_LOG_FORMAT``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonLineFormatter() if fmt == "json" else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
