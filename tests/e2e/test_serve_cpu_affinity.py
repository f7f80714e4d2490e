"""``serve`` binds each serving process to one CPU (``feeds/cli/cpu_affinity.py``): the real CLI, one process and
gunicorn's workers (those in ``test_serve_workers.py``), and the choice of a worker's CPU."""

from __future__ import annotations

import os
import sys
import time

import pytest
import requests

from config import Settings
from feeds.cli import cpu_affinity
from tests.support.processes import free_port, running, thread_cpus

COMMAND = [sys.executable, "-m", "feeds.cli", "serve", "--host", "127.0.0.1", "--threads", "3"]


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPOINTMENTS_")}
    env.update(APPOINTMENTS_DATABASE_URL=settings.resolved_database_url(), APPOINTMENTS_DATA_DIR=settings.data_dir)
    return env


def _served_threads(settings: Settings, *options: str) -> dict[int, frozenset[int]]:
    """The threads of a ``serve`` process (``options`` added) once it has answered requests on its threads."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running([*COMMAND, "--port", str(port), *options], base + "/healthz", env=_env(settings)) as popen:
        for _ in range(6):  # every server thread has started and served
            assert requests.get(base + "/healthz", timeout=10).status_code == 200
        time.sleep(0.2)
        return thread_cpus(popen.pid)


def test_one_process_runs_every_thread_on_one_cpu(settings: Settings) -> None:
    threads = _served_threads(settings)
    allowed = frozenset(cpu_affinity.allowed_cpus())
    assert len(threads) >= 4  # the main thread, the server's 3, the scheduler's
    bound = set(threads.values())
    if len(allowed) >= 2:
        assert len(bound) == 1 and len(next(iter(bound))) == 1 and next(iter(bound)) <= allowed, bound
    else:  # a single CPU: nothing to bind
        assert bound == {allowed}


def test_no_cpu_affinity_leaves_every_thread_free(settings: Settings) -> None:
    threads = _served_threads(settings, "--no-cpu-affinity")
    assert set(threads.values()) == {frozenset(cpu_affinity.allowed_cpus())}


@pytest.mark.parametrize(
    ("allowed", "taken", "chosen"),
    [
        ([0, 1], [], 0),
        ([0, 1], [0], 1),
        ([0, 1], [1], 0),  # a replaced worker takes the CPU its predecessor left
        ([0, 1], [0, 1], 0),  # more workers than CPUs: round robin
        ([0, 1], [0, 1, 0], 1),
        ([2, 5, 7], [5, None], 2),
        ([3], [], None),  # one CPU: nothing to bind
        ([], [], None),
    ],
)
def test_a_worker_takes_the_first_cpu_no_living_worker_holds(
    monkeypatch: pytest.MonkeyPatch, allowed: list[int], taken: list[int | None], chosen: int | None
) -> None:
    monkeypatch.setattr(cpu_affinity, "allowed_cpus", lambda: allowed)
    assert cpu_affinity.choose(taken) == chosen


def test_current_cpu_is_one_this_process_may_use() -> None:
    cpu = cpu_affinity.current_cpu()
    assert cpu is not None and cpu in cpu_affinity.allowed_cpus()
