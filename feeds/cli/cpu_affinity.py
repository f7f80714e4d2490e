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

A bound process cannot move off a CPU another program keeps busy (with a busy loop on its CPU a bound server
answered 40 % fewer reads than an unbound one, which the kernel moved to the idle CPU). So each bound process runs
a :class:`CpuWatch`: every few seconds it reads how busy every CPU was (``/proc/stat``) and how much of its own
CPU's time was its own (``/proc/self/stat``); when others took at least half of its CPU and another allowed CPU
was busy at least a quarter less than that, it binds itself to the idlest one.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "CpuWatch",
    "allowed_cpus",
    "better_cpu",
    "bind_and_watch",
    "bind_process",
    "choose",
    "cpu_times",
    "current_cpu",
    "post_fork",
    "pre_fork",
]

log = logging.getLogger(__name__)

#: How often a bound process looks whether its CPU is taken by others (seconds).
WATCH_INTERVAL = 2.0
#: Others' share of this process's CPU from which it moves ...
CROWDED = 0.5
#: ... to a CPU busy at least this much less than others kept its own.
MARGIN = 0.25


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on, in order (empty where the operating system does not say)."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


def current_cpu() -> int | None:
    """The CPU this thread runs on now (Linux: ``/proc/thread-self/stat``), or None where it is not known."""
    try:
        stat = Path("/proc/thread-self/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[36])  # field 39, "processor"


def bind_process(cpu: int) -> None:
    """Bind every thread of this process to ``cpu`` (threads started later inherit it from their creator)."""
    for thread in _threads():
        try:
            os.sched_setaffinity(thread, {cpu})
        except ProcessLookupError:  # a thread that ended meanwhile
            continue


def bind_and_watch(cpu: int | None) -> CpuWatch | None:
    """Bind this process to ``cpu`` and watch that CPU (:class:`CpuWatch`); nothing where ``cpu`` is None or the
    process may use one CPU only. Call it before starting threads: they inherit the binding."""
    allowed = allowed_cpus()
    if cpu is None or len(allowed) < 2:
        return None
    bind_process(cpu)
    return CpuWatch(cpu, allowed).start()


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
    """In the worker, just after the fork, before it builds its app: bind it to its CPU, and watch it."""
    bind_and_watch(getattr(worker, "cpu", None))


class Ticks(NamedTuple):
    """One CPU's time since boot in clock ticks: busy (not idle, not waiting for I/O) and all."""

    busy: int
    total: int


def cpu_times() -> dict[int, Ticks]:
    """Every CPU's ticks (``/proc/stat``); empty where they cannot be read."""
    found = {}
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu":
            continue
        values = [int(v) for v in rest.split()]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        found[int(name[3:])] = Ticks(sum(values[:8]) - idle, sum(values[:8]))
    return found


def own_ticks() -> int:
    """This process's CPU time in clock ticks (user + system, every thread)."""
    stat = Path("/proc/self/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def better_cpu(
    cpu: int, before: Mapping[int, Ticks], after: Mapping[int, Ticks], own: int, allowed: Iterable[int]
) -> int | None:
    """The CPU to move to from ``cpu``, given every CPU's ticks ``before`` and ``after`` an interval in which this
    process used ``own`` ticks: the idlest allowed one when others took at least :data:`CROWDED` of ``cpu`` and it
    was busy at least :data:`MARGIN` less than that; None to stay."""
    if cpu not in before or cpu not in after:
        return None
    total = after[cpu].total - before[cpu].total
    crowd = (after[cpu].busy - before[cpu].busy - own) / total if total > 0 else 0.0
    if crowd < CROWDED:
        return None
    shares = {}
    for other in allowed:
        if other != cpu and other in before and other in after:
            spent = after[other].total - before[other].total
            if spent > 0:
                shares[other] = (after[other].busy - before[other].busy) / spent
    idlest = min(shares, key=shares.__getitem__, default=None)
    return idlest if idlest is not None and shares[idlest] <= crowd - MARGIN else None


class CpuWatch:
    """A daemon thread moving this bound process to an idle CPU when others crowd its own (see the module)."""

    def __init__(
        self,
        cpu: int,
        allowed: Iterable[int],
        interval: float = WATCH_INTERVAL,
        sample: Callable[[], tuple[Mapping[int, Ticks], int]] | None = None,
    ) -> None:
        """``sample``: every CPU's ticks and this process's own, read together (default: from ``/proc``)."""
        self.cpu = cpu
        self.allowed = list(allowed)  # as before the binding: the process's own affinity is one CPU now
        self.interval = interval
        self.sample = sample or _sample
        self._stop = threading.Event()

    def start(self) -> CpuWatch:
        threading.Thread(target=self._run, name="cpu-affinity", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        before, own = self.sample()
        while not self._stop.wait(self.interval):
            after, now = self.sample()
            target = better_cpu(self.cpu, before, after, now - own, self.allowed)
            if target is not None:
                bind_process(target)
                log.info("CPU %d is busy with other work: serving from CPU %d", self.cpu, target)
                self.cpu = target
            before, own = self.sample()


def _sample() -> tuple[dict[int, Ticks], int]:
    return cpu_times(), own_ticks()
