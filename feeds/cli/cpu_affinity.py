"""Each serving process bound to one CPU (``serve``'s default on Linux; ``--no-cpu-affinity`` leaves it to the
kernel).

A Python process runs one thread at a time (the GIL), and a request lets go of it at every database statement,
socket write and lock wait. On a machine of several cores, another of the server's threads then wakes on another
core and takes it, and the first thread, back from its 10 us statement, waits to have it back: a request became a
few dozen hand-overs between cores. Bound to one core, the thread that let go keeps running (the woken thread
cannot run before it yields the core) and takes the GIL straight back; threads that really wait (a slow client,
a database lock) still let the others run. Measured with wrk, 8 clients, waitress with 8 threads on 2 cores
(bench/README.md, eighth session): the API's single read 1.47 -> 0.76 ms of CPU (761 -> 1,285 req/s), the list of
50 3.2 -> 2.4 ms; a minimal Flask app 3,430 -> 6,150 req/s. One process uses one core of Python anyway; the others
stay free for the database server and the other workers.

``serve --workers N`` binds worker ``i`` to the ``i``-th CPU the process may use (round robin when there are more
workers than CPUs), chosen in the master before each fork among the CPUs its living workers do not hold, so a
replaced worker takes its predecessor's CPU. Where the operating system has no CPU affinity, or the process may
use one CPU only, nothing is bound.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["allowed_cpus", "bind_process", "choose", "current_cpu", "post_fork", "pre_fork"]


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on, in order (empty where the operating system does not say)."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


def current_cpu() -> int | None:
    """The CPU this thread runs on now (Linux: ``/proc/self/stat``), or None where it is not known."""
    try:
        stat = Path("/proc/thread-self/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[36])  # field 39, "processor"


def bind_process(cpu: int) -> bool:
    """Bind every thread of this process to ``cpu`` (threads started later inherit it from their creator); False
    where there is nothing to bind (no affinity, or one CPU allowed only)."""
    if len(allowed_cpus()) < 2:
        return False
    for thread in _threads():
        try:
            os.sched_setaffinity(thread, {cpu})
        except ProcessLookupError:  # a thread that ended meanwhile
            continue
    return True


def _threads() -> Iterable[int]:
    try:
        return [int(task.name) for task in Path("/proc/self/task").iterdir()]
    except OSError:
        return [0]  # the calling thread


def choose(taken: Iterable[int | None]) -> int | None:
    """The CPU for a new worker: the first allowed one ``taken`` (its living siblings' CPUs) does not hold, or
    round robin when every one is held."""
    cpus = allowed_cpus()
    if len(cpus) < 2:
        return None
    held = [cpu for cpu in taken if cpu is not None]
    free = [cpu for cpu in cpus if cpu not in held]
    return free[0] if free else cpus[len(held) % len(cpus)]


# gunicorn's server hooks (``feeds/cli/workers.py``, and the bench's peer with ``-c python:feeds.cli.cpu_affinity``).


def pre_fork(server: Any, worker: Any) -> None:
    """In the master, before a worker is forked: the CPU it will be bound to."""
    worker.cpu = choose(getattr(other, "cpu", None) for other in server.WORKERS.values())


def post_fork(_server: Any, worker: Any) -> None:
    """In the worker, just after the fork, before it builds its app: bind it to its CPU."""
    cpu = getattr(worker, "cpu", None)
    if cpu is not None:
        bind_process(cpu)
