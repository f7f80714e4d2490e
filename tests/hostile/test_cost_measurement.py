"""The hostile tests' CPU measurement (``tests.support.hostile.tried``): a cost the request causes every time is
reported over the budget; one that lands in a single measurement only (a collection of the test process's heap,
other work) is measured again and does not fail the request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import requests

from tests.support.cpu import CPU_BUDGET
from tests.support.hostile import tried
from tests.support.live import LiveServer


def _burn(seconds: float) -> None:
    """Spend ``seconds`` of CPU in another thread (the server's side of the measurement), bounded in wall time."""

    def spin() -> None:
        start, deadline = time.thread_time(), time.monotonic() + 30
        while time.thread_time() - start < seconds and time.monotonic() < deadline:
            sum(range(1000))

    worker = threading.Thread(target=spin)
    worker.start()
    worker.join(timeout=60)


def _request(live: LiveServer, burns: list[float]) -> Callable[[], requests.Response]:
    def send() -> requests.Response:
        _burn(burns.pop(0) if burns else 0.0)
        return requests.get(live.base_url + "/healthz", timeout=30)

    return send


def test_a_cost_that_comes_every_time_is_over_the_budget(live: LiveServer) -> None:
    answer = tried(live, _request(live, [CPU_BUDGET * 1.2, CPU_BUDGET * 1.2]))
    assert answer.status == 200 and answer.cpu_seconds >= CPU_BUDGET


def test_a_cost_that_comes_once_is_measured_again(live: LiveServer) -> None:
    answer = tried(live, _request(live, [CPU_BUDGET * 1.2]))
    assert answer.status == 200 and answer.cpu_seconds < CPU_BUDGET / 2
