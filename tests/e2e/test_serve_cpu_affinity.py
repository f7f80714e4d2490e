"""``serve`` binds each serving process to one CPU (``feeds/cli/cpu_affinity.py``): the real CLI, one process and
gunicorn's workers (those in ``test_serve_workers.py``), and the choice of a worker's CPU."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from config import Settings
from feeds.cli import cpu_affinity
from tests.support.cli import CLI
from tests.support.processes import free_port, running, thread_cpus

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [*CLI, "serve", "--host", "127.0.0.1", "--threads", "3"]


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


def test_a_watched_process_moves_every_thread_off_its_crowded_cpu() -> None:
    """In a process of its own (it rebinds itself): bound to one CPU, with a thread started after the binding,
    and a watch whose readings say other programs took that CPU while another idled; the real ``/proc`` readings
    depend on what else the machine runs (test_a_crowded_cpu_is_left_for_the_idlest covers the decision)."""
    allowed = cpu_affinity.allowed_cpus()
    if len(allowed) < 2:
        pytest.fail("needs two CPUs to move between (this machine lets the tests use one)")
    script = (
        "import itertools, os, threading, time\n"
        "from feeds.cli import cpu_affinity as c\n"
        f"first, second = {allowed[0]}, {allowed[1]}\n"
        "c.bind_process(first)\n"
        "done = threading.Event()\n"
        "worker = threading.Thread(target=done.wait); worker.start()\n"
        "ticks = itertools.count(step=100)\n"
        "def sample():\n"
        "    n = next(ticks)\n"
        "    return {first: c.Ticks(n, n), second: c.Ticks(0, n)}, 0  # others keep the first busy\n"
        "c.CpuWatch(first, [first, second], interval=0.05, sample=sample).start()\n"
        "deadline = time.monotonic() + 10\n"
        "while os.sched_getaffinity(0) != {second} and time.monotonic() < deadline: time.sleep(0.05)\n"
        "tasks = [int(t) for t in os.listdir('/proc/self/task')]\n"
        "print(sorted({frozenset(os.sched_getaffinity(t)) == {second} for t in tasks}))\n"
        "done.set()\n"
    )
    moved = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert moved.stdout == "[True]\n", moved.stdout + moved.stderr  # every thread, the later one too


@pytest.mark.parametrize(
    ("own", "busy", "moves_to"),
    [
        (90, {0: 95, 1: 10, 2: 40}, None),  # its CPU is busy with its own work: it stays
        (40, {0: 100, 1: 10, 2: 40}, 1),  # others took 60 % of it: to the idlest
        (10, {0: 100, 1: 60, 2: 80}, 1),  # others took 90 %: a CPU 60 % busy is better
        (10, {0: 100, 1: 80, 2: 90}, None),  # crowded, but no other CPU is idle enough
        (0, {0: 50, 1: 25, 2: 30}, 1),  # exactly half taken by others, a quarter less busy there: it moves
        (0, {0: 49, 1: 0, 2: 0}, None),  # others took less than half: it stays
    ],
)
def test_a_crowded_cpu_is_left_for_the_idlest(own: int, busy: dict[int, int], moves_to: int | None) -> None:
    before = {cpu: cpu_affinity.Ticks(1000, 5000) for cpu in busy}
    after = {cpu: cpu_affinity.Ticks(1000 + ticks, 5100) for cpu, ticks in busy.items()}
    assert cpu_affinity.better_cpu(0, before, after, own, [0, 1, 2]) == moves_to
    assert cpu_affinity.better_cpu(0, before, after, own, [0]) is None  # nowhere to go


def test_cpu_times_reads_every_cpu() -> None:
    times = cpu_affinity.cpu_times()
    assert set(cpu_affinity.allowed_cpus()) <= set(times)
    assert all(0 <= t.busy <= t.total for t in times.values())


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
