"""CPU time the server spends on a request, for the hostile-input budgets.

The live server (tests.support.live) runs in this process: the CPU time of every thread but the
caller's (the client) is the server's. PostgreSQL's own processes are not counted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["CPU_BUDGET", "CpuSpent", "server_cpu"]

#: What one request may cost, in seconds of CPU (the issue's limit; bounded inputs take milliseconds).
CPU_BUDGET = 1.0


@dataclass
class CpuSpent:
    seconds: float = 0.0


def _others() -> float:
    return time.process_time() - time.thread_time()


@contextmanager
def server_cpu() -> Iterator[CpuSpent]:
    """Measure the CPU seconds spent outside the calling thread while the block runs."""
    spent = CpuSpent()
    before = _others()
    try:
        yield spent
    finally:
        spent.seconds = _others() - before
