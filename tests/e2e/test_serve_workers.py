"""``serve --workers 2``: the real CLI with gunicorn's worker processes on SQLite and PostgreSQL.

Both workers answer; every tick of every job runs exactly once (each worker runs a scheduler; the tick
claims decide); a killed worker is replaced; SIGTERM to the master stops every process it started.
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
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from caldav_bridge.jobs.ticks import Every
from caldav_bridge.store.engine import make_engine
from caldav_bridge.store.job_tables import JobTickRow
from config import Settings
from tests.conftest import People

COMMAND = [sys.executable, "-m", "feeds.cli", "--verbose", "serve", "--host", "127.0.0.1"]
INTERVALS = {"webhooks-deliver": 1, "scheduling-expire-holds": 1, "caldav-prune-change-log": 2}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> set[int]:
    """The live (not zombie) child processes of ``pid``, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


class Served:
    def __init__(self, settings: Settings, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("APPOINTMENTS_")}
        env.update(
            APPOINTMENTS_DATABASE_URL=settings.resolved_database_url(),
            APPOINTMENTS_DATA_DIR=settings.data_dir,
            APPOINTMENTS_LOG_LEVEL="INFO",
            APPOINTMENTS_WEBHOOK_DELIVERY_INTERVAL_SECONDS=str(INTERVALS["webhooks-deliver"]),
            APPOINTMENTS_HOLD_EXPIRY_INTERVAL_SECONDS=str(INTERVALS["scheduling-expire-holds"]),
            APPOINTMENTS_DAV_PRUNE_INTERVAL_SECONDS=str(INTERVALS["caldav-prune-change-log"]),
        )
        self.base = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.popen = subprocess.Popen(
            [*COMMAND, "--port", str(port), "--workers", "2", "--threads", "2", "--no-migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines[-40:])

    def wait_workers(self, count: int, exclude: frozenset[int] = frozenset(), timeout: float = 60) -> set[int]:
        """Once ``count`` workers (none in ``exclude``) run and the server answers: their PIDs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.popen.poll() is None:
            workers = _children(self.popen.pid)
            if len(workers) == count and not workers & exclude:
                try:
                    if requests.get(self.base + "/readyz", timeout=5).status_code == 200:
                        return workers
                except requests.RequestException:
                    pass
            time.sleep(0.2)
        pytest.fail(f"{count} workers never answered:\n{self.output()}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)
        self._reader.join(10)


def _expected(job_id: str, start: datetime, end: datetime) -> list[datetime]:
    trigger, ticks = Every(INTERVALS[job_id]), []
    tick = trigger.after(start)
    while tick <= end:
        ticks.append(tick)
        tick = trigger.after(tick)
    return ticks


def _logged_runs(lines: list[str]) -> Counter[tuple[str, str]]:
    runs: Counter[tuple[str, str]] = Counter()
    for line in lines:
        if "job " in line and ": tick " in line and " by " in line:
            words = line[line.index("job ") :].split()
            runs[(words[1].rstrip(":"), words[3])] += 1
    return runs


def test_two_workers_answer_run_each_tick_once_survive_a_crash_and_stop_on_sigterm(
    settings: Settings, people: People, tmp_path: Path
) -> None:
    served = Served(settings, _free_port())
    every_worker: set[int] = set()
    try:
        workers = served.wait_workers(2)
        every_worker |= workers
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {people.dispatcher.token}"
        for _ in range(20):  # spread over both workers by the kernel; each answers with the same data
            listed = api.get(served.base + "/api/v1/appointments", timeout=10)
            assert listed.status_code == 200 and listed.json() == {"items": [], "next_cursor": None}

        together = datetime.now(UTC)
        time.sleep(7)
        together_end = datetime.now(UTC)

        victim = min(workers)
        os.kill(victim, signal.SIGKILL)  # a worker crashes
        replaced = served.wait_workers(2, exclude=frozenset({victim}))
        every_worker |= replaced
        assert victim not in replaced and len(replaced & workers) == 1
        assert api.get(served.base + "/api/v1/appointments", timeout=10).status_code == 200
    finally:
        started = time.monotonic()
        served.stop()
        stopped_in = time.monotonic() - started
    assert served.popen.returncode == 0, served.output()
    assert stopped_in < 30
    assert not [pid for pid in every_worker if _alive(pid)], "a worker outlived the master"

    engine = make_engine(settings.resolved_database_url())
    try:
        with engine.connect() as connection:
            rows = list(connection.execute(select(JobTickRow.job_id, JobTickRow.tick_at, JobTickRow.outcome)))
    finally:
        engine.dispose()
    claims = {(job, tick): outcome for job, tick, outcome in rows}
    logged = _logged_runs(served.lines)
    for job_id in INTERVALS:
        ticks = _expected(job_id, together, together_end)
        assert ticks, job_id
        for tick in ticks:
            assert claims.get((job_id, tick)) == "ok", (job_id, tick, served.output())
            assert logged[(job_id, tick.isoformat())] == 1, (job_id, tick, served.output())
    assert all(count == 1 for count in logged.values()), [k for k, v in logged.items() if v != 1]
    holders = {line.split(" by ")[-1].strip() for line in served.lines if ": tick " in line and " by " in line}
    assert holders and {int(h.rsplit(":", 1)[1]) for h in holders} <= every_worker, holders  # the workers ran them
