"""Radicale's own test suite (test_base + test_expand) against the storage plugin, on both databases.

The PyPI wheel and sdist of Radicale ship no tests, so the suite needs a Radicale git source:
set ``RADICALE_SRC`` (a bare mirror or checkout of Kozea/Radicale). Without it these tests are
skipped with that reason; docs/caldav-conformance.md records the counts of the last full run.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer
from tests.support.radicale_suite import SCRIPT, run_suite

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("RADICALE_SRC"), reason="RADICALE_SRC (a Radicale git source) is not set"),
    pytest.mark.skipif(not SCRIPT.exists(), reason=f"{SCRIPT} is missing"),
]
ROOT = Path(__file__).resolve().parents[2]
#: Tests from Kozea/Radicale f02ff33 (3.8.0.dev; no v3.9.0 tag is reachable): the stock baseline.
BASELINE_PASSED = 189


def _check(counts: dict[str, int], output: str) -> None:
    assert not counts.get("failed") and not counts.get("error") and not counts.get("errors"), output
    assert counts.get("passed", 0) >= BASELINE_PASSED, output


def test_radicale_suite_on_sqlite() -> None:
    result = run_suite(sys.executable, os.environ["RADICALE_SRC"], {"url": "sqlite:///{colpath}/radicale.db"})
    _check(result.counts, result.output)


def test_radicale_suite_on_postgresql(pg_server: PostgresServer) -> None:
    name = "radicale_" + uuid.uuid4().hex[:12]
    url = pg_server.create_database(name)
    try:
        result = run_suite(
            sys.executable,
            os.environ["RADICALE_SRC"],
            {"url": url},
            "--per-test-hook",
            "tests.support.radicale_suite:reset",
            "--pythonpath",
            str(ROOT),
            env={"RADICALE_SUITE_PG_URL": url},
        )
    finally:
        pg_server.drop_database(name)
    _check(result.counts, result.output)
