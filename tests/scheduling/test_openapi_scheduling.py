"""Schemathesis over the scheduling and webhook operations of the OpenAPI document, on a live server
with a seeded organisation: no 5xx, and every response matches the document.

The requests go through ``requests`` directly (schemathesis' own transport trips over
urllib3-future when that is installed next to urllib3); ``positive_data_acceptance`` is left out
because a schema-valid request can still be semantically invalid here (``to`` before ``from``,
neither ``calendar_id`` nor ``team_id``), which is a documented 422, and ``ignored_auth`` because
it re-sends through that transport (auth is covered in test_webhooks and test_flows_api).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS
from schemathesis.core.result import Err, Ok

from tests.conftest import People
from tests.scheduling.conftest import World
from tests.support.live import LiveServer, loopback_session

MAX_EXAMPLES = 12
PREFIXES = ("/api/v1/availability", "/api/v1/bookings", "/api/v1/webhooks", "/api/v1/calendars/{id}/availability")


def test_scheduling_operations_conform(live: LiveServer, people: People, world: World) -> None:
    token = people.admin.token
    config = schemathesis.Config.from_dict(
        {"generation": {"max-examples": MAX_EXAMPLES, "database": "none"}, "base-url": live.base_url}
    )
    schema = schemathesis.openapi.from_url(live.base_url + "/api/openapi.json", config=config)
    excluded = CHECKS.get_by_names(["positive_data_acceptance", "ignored_auth"])
    results = list(schema.get_all_operations())
    assert all(isinstance(r, Ok) for r in results), [r.err() for r in results if isinstance(r, Err)]
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    ours = [op for op in operations if op.path.startswith(PREFIXES)]
    assert len(ours) >= 18
    session = loopback_session()
    for op in ours:

        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=op.as_strategy())
        def check(case: Any) -> None:
            kwargs = case.as_transport_kwargs(base_url=live.base_url, headers={"Authorization": f"Bearer {token}"})
            kwargs["timeout"] = 30
            response = session.request(**kwargs)
            assert response.status_code < 500, (response.status_code, response.text[:300])
            case.validate_response(response, excluded_checks=excluded)

        try:
            check()
        except Exception as exc:  # name the operation
            pytest.fail(f"{op.method.upper()} {op.path}: {exc}")
