"""Two ``serve`` processes and a ``worker`` on one PostgreSQL: every job's every tick runs exactly once.

The processes are the real CLI (through ``tests.salesforce.cli_shim``, which points the Salesforce
gateway at an emulator on loopback), with short intervals. Each tick must be claimed once in
``job_ticks``, with outcome ``ok``, and logged as run by exactly one process; with both ``serve``
processes stopped the worker alone runs every job's ticks (it runs everything ``serve`` would).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sf_emulator.emulator import SalesforceEmulator, running_emulator
from tests.conftest import postgresql_only
from tests.support.job_ticks import claimed_ticks, expected_ticks, logged_runs
from tests.support.processes import Collected, free_port

SHIM = [sys.executable, "-m", "tests.salesforce.cli_shim"]
INTERVALS = {
    "webhooks-deliver": 1,
    "scheduling-expire-holds": 1,
    "caldav-prune-change-log": 2,
    "salesforce-mirror": 5,
    "salesforce-push": 5,
}


class Process(Collected):
    """A CLI process through the shim; ``holder``: how its scheduler names itself in ``job_ticks``."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        super().__init__(name, [*SHIM, "--verbose", *args], env)  # --verbose: the per-tick log lines this test counts
        self.holder = f"{socket.gethostname()[:40]}:{self.popen.pid}"


@pytest.fixture
def emulator() -> Iterator[SalesforceEmulator]:
    with running_emulator(SalesforceEmulator()) as emu:
        yield emu


def _env(database_url: str, data_dir: Path, emu: SalesforceEmulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPOINTMENTS_")}
    env.update(
        {
            "APPOINTMENTS_DATABASE_URL": database_url,
            "APPOINTMENTS_DATA_DIR": str(data_dir),
            "APPOINTMENTS_LOG_LEVEL": "INFO",
            "APPOINTMENTS_WEBHOOK_DELIVERY_INTERVAL_SECONDS": str(INTERVALS["webhooks-deliver"]),
            "APPOINTMENTS_HOLD_EXPIRY_INTERVAL_SECONDS": str(INTERVALS["scheduling-expire-holds"]),
            "APPOINTMENTS_DAV_PRUNE_INTERVAL_SECONDS": str(INTERVALS["caldav-prune-change-log"]),
            "APPOINTMENTS_SF_MIRROR_INTERVAL_SECONDS": str(INTERVALS["salesforce-mirror"]),
            "APPOINTMENTS_SF_PUSH_INTERVAL_SECONDS": str(INTERVALS["salesforce-push"]),
            "APPOINTMENTS_SF_AUTH": "password",
            "APPOINTMENTS_SF_USERNAME": emu.username,
            "APPOINTMENTS_SF_PASSWORD": emu.password,
            "APPOINTMENTS_SF_SECURITY_TOKEN": emu.security_token,
            "SF_EMULATOR_URL": emu.base_url,
        }
    )
    return env


@postgresql_only
def test_two_serves_and_a_worker_run_every_tick_exactly_once(
    database_url: str, tmp_path: Path, emulator: SalesforceEmulator
) -> None:
    env = _env(database_url, tmp_path / "data", emulator)
    serves = [
        Process(f"serve{i}", ["serve", "--host", "127.0.0.1", "--port", str(free_port()), "--threads", "2"], env)
        for i in (1, 2)
    ]
    worker = Process("worker", ["worker"], env)
    processes = [*serves, worker]
    try:
        for process in serves:
            process.wait_for("Serving on")
        worker.wait_for("Background worker running")
        together = datetime.now(UTC)
        time.sleep(11)
        together_end = datetime.now(UTC)
        for process in serves:
            process.stop()
        alone = datetime.now(UTC)
        # long enough that (alone, alone_end] holds a tick of the slowest job (a 4.5 s window held none of a
        # 5 s job about one run in ten)
        time.sleep(max(INTERVALS.values()) + 2)
        alone_end = datetime.now(UTC) - timedelta(seconds=1.5)  # the last second's ticks may still be running
    finally:
        for process in processes:
            process.stop()
    claims = claimed_ticks(database_url)
    logged = logged_runs(line for p in processes for line in p.lines)
    output = "".join(line for p in processes for line in p.lines[-30:])
    holders = {p.holder for p in processes}
    for job_id, interval in INTERVALS.items():
        for tick in expected_ticks(interval, together, together_end):
            holder, outcome = claims.get((job_id, tick), (None, None))
            assert outcome == "ok" and holder in holders, (job_id, tick, holder, outcome, output)
            assert logged[(job_id, tick.isoformat())] == 1, (job_id, tick, output)
        worker_ticks = expected_ticks(interval, alone, alone_end)
        assert worker_ticks, job_id
        for tick in worker_ticks:
            assert claims.get((job_id, tick)) == (worker.holder, "ok"), (job_id, tick, claims.get((job_id, tick)))
            assert logged[(job_id, tick.isoformat())] == 1, (job_id, tick, output)
    assert all(count == 1 for count in logged.values()), [k for k, v in logged.items() if v != 1]
    assert {outcome for _, outcome in claims.values()} <= {"ok", "running"}, Counter(o for _, o in claims.values())
