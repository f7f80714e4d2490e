"""Radicale's own test suite (test_base + test_expand) against the storage plugin, on both databases.

The PyPI wheel and sdist of Radicale ship no tests, so the suite needs a Radicale git source:
``RADICALE_SRC`` (a bare mirror or checkout of Kozea/Radicale), else the workplace's mirror beside
the checkout (``../.mirror/Kozea+Radicale/repo``, where the tool library's ``fetch`` puts it). Without
either these tests are skipped with that reason (no registry ships the tests, and nothing else can be
fetched here); docs/caldav-conformance.md records the counts of the last full run.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer
from tests.support.radicale_suite import SCRIPT, run_suite

ROOT = Path(__file__).resolve().parents[2]
_MIRROR = ROOT.parent / ".mirror" / "Kozea+Radicale" / "repo"
RADICALE_SRC = os.environ.get("RADICALE_SRC") or (str(_MIRROR) if _MIRROR.is_dir() else "")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not RADICALE_SRC, reason=f"no Radicale git source: RADICALE_SRC is not set and {_MIRROR} does not exist"
    ),
    pytest.mark.skipif(not SCRIPT.exists(), reason=f"{SCRIPT} is missing"),
]
#: Tests from Kozea/Radicale f02ff33 (3.8.0.dev; no v3.9.0 tag is reachable): the stock baseline.
BASELINE_PASSED = 189


def _check(counts: dict[str, int], output: str) -> None:
    assert not counts.get("failed") and not counts.get("error") and not counts.get("errors"), output
    assert counts.get("passed", 0) >= BASELINE_PASSED, output


def test_radicale_suite_on_sqlite() -> None:
    result = run_suite(sys.executable, RADICALE_SRC, {"url": "sqlite:///{colpath}/radicale.db"})
    _check(result.counts, result.output)


def test_radicale_suite_on_postgresql(pg_server: PostgresServer) -> None:
    name = "radicale_" + uuid.uuid4().hex[:12]
    url = pg_server.create_database(name)
    try:
        result = run_suite(
            sys.executable,
            RADICALE_SRC,
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
