"""``serve --workers 2``: the real CLI with gunicorn's worker processes on SQLite and PostgreSQL.

Both workers answer, each on a listening socket of its own, so keep-alive clients are spread over them; a second
``serve`` on the same port is refused; every tick of every job runs exactly once (each worker runs a scheduler; the
tick claims decide); a killed worker is replaced; SIGTERM to the master stops every process it started.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from config import Settings
from feeds.cli import cpu_affinity
from tests.conftest import People
from tests.support.cli import CLI
from tests.support.job_ticks import claimed_ticks, expected_ticks, logged_runs, wait_ticks_ended
from tests.support.processes import Collected, free_port, thread_cpus

COMMAND = [*CLI, "--verbose", "serve", "--host", "127.0.0.1"]
INTERVALS = {"webhooks-deliver": 1, "scheduling-expire-holds": 1, "caldav-prune-change-log": 2}


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


def _env(settings: Settings) -> Mapping[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPOINTMENTS_")}
    env.update(
        APPOINTMENTS_DATABASE_URL=settings.resolved_database_url(),
        APPOINTMENTS_DATA_DIR=settings.data_dir,
        APPOINTMENTS_LOG_LEVEL="INFO",
        APPOINTMENTS_WEBHOOK_DELIVERY_INTERVAL_SECONDS=str(INTERVALS["webhooks-deliver"]),
        APPOINTMENTS_HOLD_EXPIRY_INTERVAL_SECONDS=str(INTERVALS["scheduling-expire-holds"]),
        APPOINTMENTS_DAV_PRUNE_INTERVAL_SECONDS=str(INTERVALS["caldav-prune-change-log"]),
    )
    return env


class Served(Collected):
    """``serve --workers 2`` (gunicorn's master and its workers)."""

    def __init__(self, settings: Settings, port: int) -> None:
        command = [*COMMAND, "--port", str(port), "--workers", "2", "--threads", "2", "--no-migrate"]
        super().__init__("serve --workers 2", command, _env(settings))
        self.base = f"http://127.0.0.1:{port}"

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


def _sockets(port: int, state: str) -> set[int]:
    """The inodes of the IPv4 TCP sockets in ``state`` (``/proc/net/tcp``: 0A listening, 01 established) whose
    local port is ``port``."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
            found.add(int(fields[9]))
    return found


def _holders(pids: set[int], inodes: set[int]) -> Counter[int]:
    """How many of the sockets ``inodes`` each process of ``pids`` holds open."""
    held: Counter[int] = Counter()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue  # closed meanwhile
            if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                held[pid] += 1
    return held


def _check_each_worker_listens_and_clients_are_spread(served: Served, port: int, workers: set[int]) -> None:
    """Each worker holds a listening socket of its own on the port (SO_REUSEPORT; the master none), and 16
    keep-alive connections opened at once are held by both workers (on the master's one socket the first worker
    awake accepted all of them: all 16 on one worker has a chance of 2 in 65,536 here)."""
    listening = _sockets(port, "0A")
    assert _holders(workers | {served.popen.pid}, listening) == dict.fromkeys(workers, 1), listening
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(16)]
    try:
        for connection in connections:
            connection.request("GET", "/healthz")
        for connection in connections:
            response = connection.getresponse()
            response.read()
            assert response.status == 200 and not response.will_close
        held = _holders(workers, _sockets(port, "01"))
        assert sum(held.values()) == 16 and len(held) == 2, held
    finally:
        for connection in connections:
            connection.close()


def _check_a_second_serve_is_refused(settings: Settings, port: int) -> None:
    second = subprocess.run(
        [*COMMAND, "--port", str(port), "--workers", "2", "--no-migrate"],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2, (second.stdout, second.stderr)
    assert f"cannot listen on 127.0.0.1:{port}" in second.stderr and "Serving on" not in second.stdout


def _bearer(people: People) -> dict[str, str]:
    return {"Authorization": f"Bearer {people.dispatcher.token}"}


def _moved(lines: list[str]) -> bool:
    """Whether a worker moved off a CPU other programs kept busy (``cpu_affinity.CpuWatch`` logs it)."""
    return any("is busy with other work: serving from CPU" in line for line in lines)


def _worker_cpus(workers: set[int]) -> dict[int, frozenset[int]]:
    """Each worker's CPUs (every thread of a worker may run on the same ones)."""
    found = {}
    for pid in workers:
        cpus = set(thread_cpus(pid).values())
        assert len(cpus) == 1, (pid, cpus)
        found[pid] = cpus.pop()
    return found


def test_two_workers_answer_run_each_tick_once_survive_a_crash_and_stop_on_sigterm(
    settings: Settings, people: People, tmp_path: Path
) -> None:
    port = free_port()
    served = Served(settings, port)
    every_worker: set[int] = set()
    try:
        workers = served.wait_workers(2)
        every_worker |= workers
        _check_each_worker_listens_and_clients_are_spread(served, port, workers)
        _check_a_second_serve_is_refused(settings, port)
        for _ in range(20):  # a new connection each: spread over both workers; each answers with the same data
            listed = requests.get(served.base + "/api/v1/appointments", headers=_bearer(people), timeout=10)
            assert listed.status_code == 200 and listed.json() == {"items": [], "next_cursor": None}

        together = datetime.now(UTC)
        time.sleep(7)
        together_end = datetime.now(UTC)

        allowed = frozenset(cpu_affinity.allowed_cpus())
        cpus = _worker_cpus(workers)
        if len(allowed) >= 2:  # each worker bound to a CPU of its own (unless a busy CPU made one move since)
            assert all(len(c) == 1 for c in cpus.values()), cpus
            assert len(set(cpus.values())) == 2 or _moved(served.lines), cpus
        else:
            assert set(cpus.values()) == {allowed}

        # a job of a loaded machine may still be running the window's last tick: a crash now would leave it "running"
        wait_ticks_ended(settings.resolved_database_url(), together_end)
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)  # a worker crashes
        replaced = served.wait_workers(2, exclude=frozenset({victim}))
        every_worker |= replaced
        assert victim not in replaced and len(replaced & workers) == 1
        (newcomer,) = replaced - workers
        if len(allowed) >= 2 and not _moved(served.lines):  # it takes the CPU the crashed one left
            assert _worker_cpus(replaced)[newcomer] == cpus[victim]
        assert requests.get(served.base + "/api/v1/appointments", headers=_bearer(people), timeout=10).ok
    finally:
        started = time.monotonic()
        served.stop()
        stopped_in = time.monotonic() - started
    assert served.popen.returncode == 0, served.output()
    assert stopped_in < 30
    assert not [pid for pid in every_worker if _alive(pid)], "a worker outlived the master"

    claims = {key: outcome for key, (_holder, outcome) in claimed_ticks(settings.resolved_database_url()).items()}
    logged = logged_runs(served.lines)
    for job_id, interval in INTERVALS.items():
        ticks = expected_ticks(interval, together, together_end)
        assert ticks, job_id
        for tick in ticks:
            assert claims.get((job_id, tick)) == "ok", (job_id, tick, served.output())
            assert logged[(job_id, tick.isoformat())] == 1, (job_id, tick, served.output())
    assert all(count == 1 for count in logged.values()), [k for k, v in logged.items() if v != 1]
    holders = {line.split(" by ")[-1].strip() for line in served.lines if ": tick " in line and " by " in line}
    assert holders and {int(h.rsplit(":", 1)[1]) for h in holders} <= every_worker, holders  # the workers ran them
