"""The suite's in-process server costs nothing while it waits: every test with a live server shares the CI
machine's two cores with it. (Its waitress loop once polled with a zero timeout, waitress reading the setting
as an int: a busy loop taking a whole core for as long as the server ran.)"""

from __future__ import annotations

import time

from tests.support.cpu import server_cpu
from tests.support.live import LiveServer


def test_an_idle_live_server_uses_no_cpu(live: LiveServer) -> None:
    assert live.client().get("/healthz").status_code == 200
    with server_cpu() as spent:
        time.sleep(1.0)
    assert spent.seconds < 0.1, spent.seconds
