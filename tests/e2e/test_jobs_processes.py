"""Two ``serve`` processes and a ``worker`` on one PostgreSQL: every job's every tick runs exactly once.

The processes are the real CLI (through ``tests.salesforce.cli_shim``, which points the Salesforce
gateway at an emulator on loopback), with short intervals. Each tick must be claimed once in
``job_ticks``, with outcome ``ok``, and logged as run by exactly one process; with both ``serve``
processes stopped the worker alone runs every job's ticks (it runs everything ``serve`` would).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from caldav_bridge.jobs.ticks import Every
from caldav_bridge.store.engine import make_engine
from caldav_bridge.store.job_tables import JobTickRow
from sf_emulator.emulator import SalesforceEmulator, running_emulator
from tests.conftest import postgresql_only

SHIM = [sys.executable, "-m", "tests.salesforce.cli_shim"]
INTERVALS = {
    "webhooks-deliver": 1,
    "scheduling-expire-holds": 1,
    "caldav-prune-change-log": 2,
    "salesforce-mirror": 5,
    "salesforce-push": 5,
}


class Process:
    """A CLI process whose output (stdout and stderr) is collected by a thread."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.lines: list[str] = []
        self.popen = subprocess.Popen(
            [*SHIM, "--verbose", *args],  # --verbose: the per-tick log lines this test counts
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.holder = f"{socket.gethostname()[:40]}:{self.popen.pid}"
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)

    def wait_for(self, prefix: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(line.startswith(prefix) for line in self.lines):
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"{self.name} never printed {prefix!r}:\n" + "".join(self.lines[-40:]))

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)
        self._reader.join(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def _expected(job_id: str, start: datetime, end: datetime) -> list[datetime]:
    """The job's ticks in ``(start, end]``."""
    trigger, ticks = Every(INTERVALS[job_id]), []
    tick = trigger.after(start)
    while tick <= end:
        ticks.append(tick)
        tick = trigger.after(tick)
    return ticks


def _logged_runs(processes: list[Process]) -> Counter[tuple[str, str]]:
    """(job, tick) → how many processes logged running it (``job J: tick T ok by H``)."""
    runs: Counter[tuple[str, str]] = Counter()
    for process in processes:
        for line in process.lines:
            if "job " in line and ": tick " in line and " by " in line:
                words = line[line.index("job ") :].split()
                runs[(words[1].rstrip(":"), words[3])] += 1
    return runs


@postgresql_only
def test_two_serves_and_a_worker_run_every_tick_exactly_once(
    database_url: str, tmp_path: Path, emulator: SalesforceEmulator
) -> None:
    env = _env(database_url, tmp_path / "data", emulator)
    serves = [
        Process(f"serve{i}", ["serve", "--host", "127.0.0.1", "--port", str(_free_port()), "--threads", "2"], env)
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
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = list(
                connection.execute(select(JobTickRow.job_id, JobTickRow.tick_at, JobTickRow.holder, JobTickRow.outcome))
            )
    finally:
        engine.dispose()
    claims = {(job, tick): (holder, outcome) for job, tick, holder, outcome in rows}
    logged = _logged_runs(processes)
    output = "".join(line for p in processes for line in p.lines[-30:])
    holders = {p.holder for p in processes}
    for job_id in INTERVALS:
        for tick in _expected(job_id, together, together_end):
            holder, outcome = claims.get((job_id, tick), (None, None))
            assert outcome == "ok" and holder in holders, (job_id, tick, holder, outcome, output)
            assert logged[(job_id, tick.isoformat())] == 1, (job_id, tick, output)
        worker_ticks = _expected(job_id, alone, alone_end)
        assert worker_ticks, job_id
        for tick in worker_ticks:
            assert claims.get((job_id, tick)) == (worker.holder, "ok"), (job_id, tick, claims.get((job_id, tick)))
            assert logged[(job_id, tick.isoformat())] == 1, (job_id, tick, output)
    assert all(count == 1 for count in logged.values()), [k for k, v in logged.items() if v != 1]
    assert {outcome for _, _, _, outcome in rows} <= {"ok", "running"}, Counter(o for *_, o in rows)
