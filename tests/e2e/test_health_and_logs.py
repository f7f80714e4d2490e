"""Health endpoints, request logs without secrets, JSON-lines logging."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from caldav_bridge.runtime import Runtime
from config import load_settings
from feeds.access_log import JsonLineFormatter, TextFormatter, redact
from tests.conftest import People
from tests.support.live import LiveServer, serve


def test_healthz_and_readyz(live: LiveServer) -> None:
    client = live.client()
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"


def test_readyz_is_503_before_migrations(empty_database_url: str, tmp_path: Path) -> None:
    rt = Runtime.from_settings(load_settings(environ={}, database_url=empty_database_url, data_dir=str(tmp_path)))
    with serve(rt) as server:
        response = server.client().get("/readyz")
        assert response.status_code == 503
        assert response.headers["Content-Type"] == "application/problem+json"
        body = response.json()
        assert body["status"] == 503 and body["type"].endswith("/not-ready") and body["instance"] == "/readyz"
        assert body["title"] == "Service unavailable" and "migration" in body["detail"]
        assert body["database"] == "ok" and body["expected"] and body["migration"] is None
        assert server.client().get("/healthz").status_code == 200
    rt.close()


def test_access_log_has_no_tokens(live: LiveServer, people: People, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="appointments.access")
    client = live.client(people.fitter.token)
    client.get("/api/v1/appointments", params={"token": "ast_secret_in_query"})
    client.get("/feeds/ast_secret_in_path.ics")
    text = "\n".join(r.getMessage() + json.dumps(getattr(r, "path", "")) for r in caplog.records)
    assert "GET /api/v1/appointments" in text
    assert people.fitter.token not in text
    assert "ast_secret_in_query" not in text and "ast_secret_in_path" not in text
    assert "[redacted]" in text


def test_json_lines_formatter_carries_request_fields_and_redacts() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    logger = logging.getLogger("test.jsonlines")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning("GET /feeds/abc123.ics?password=hunter2", extra={"request_id": "r1", "status": 200})
    record = json.loads(stream.getvalue())
    assert record["request_id"] == "r1" and record["status"] == 200 and record["level"] == "WARNING"
    assert "abc123" not in record["message"] and "hunter2" not in record["message"]


def test_text_formatter_redacts_arguments_and_exceptions() -> None:
    """A token in a message's arguments (as a library logging the path it served) never reaches the text log."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("test.textlines")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning("Client disconnected while serving %s", "/feeds/ast_secret_in_args.ics")
    try:
        raise ValueError("/calendar/ast_secret_in_exc?x=1")
    except ValueError:
        logger.exception("GET %s failed", "/api?access_token=ast_secret_in_query")
    text = stream.getvalue()
    assert "Client disconnected while serving /feeds/[redacted]" in text
    assert "ast_secret_in_args" not in text and "ast_secret_in_exc" not in text
    assert "ast_secret_in_query" not in text


def test_redact() -> None:
    assert redact("/calendar/tok123?x=1") == "/calendar/[redacted]?x=1"
    assert redact("/api?access_token=abc&b=2") == "/api?access_token=[redacted]&b=2"
