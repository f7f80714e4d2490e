"""Two server processes on one database write over CalDAV at once: no lost update, no lock error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from caldav_bridge.runtime import Runtime
from caldav_bridge.services import users
from caldav_bridge.store.dav_tables import DavItemRow
from caldav_bridge.store.tables import AppointmentRow, OutboxRow
from config import Settings
from tests.caldav.support import event_ics
from tests.support.processes import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def two_servers(runtime: Runtime, settings: Settings) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "APPOINTMENTS_DATABASE_URL": settings.resolved_database_url(),
        "APPOINTMENTS_DATA_DIR": settings.data_dir,
    }
    processes, bases = [], []
    for _ in range(2):
        port = free_port()
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "feeds.cli",
                    "serve",
                    "--no-migrate",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        bases.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        for base, process in zip(bases, processes, strict=True):
            while True:
                try:
                    if requests.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert process.poll() is None, f"serve exited with {process.returncode}"  # not a minute's wait
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        yield bases
    finally:
        for process in processes:
            os.kill(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _count(runtime: Runtime, table: type) -> int:
    with runtime.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(table)) or 0)


def test_two_processes_write_concurrently(runtime: Runtime, two_servers: list[str]) -> None:
    _, password = users.add_user(runtime.uow(), "fitter.two", "fitter", timezone="America/Denver")
    path = "/dav/fitter.two/appointments/"

    def put(i: int) -> int:
        base = two_servers[i % 2]
        day = 1 + i % 28
        body = event_ics(f"p{i}@test", start=f"202612{day:02d}T090000", end=f"202612{day:02d}T100000")
        return requests.put(base + path + f"p{i}.ics", data=body, auth=("fitter.two", password), timeout=60).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(put, range(40)))
    assert statuses == [201] * 40
    assert _count(runtime, AppointmentRow) == 40
    assert _count(runtime, DavItemRow) == 40
    assert _count(runtime, OutboxRow) == 40

    # 16 concurrent edits of one event, all sent with the same If-Match: exactly one wins.
    url = two_servers[0] + path + "p0.ics"
    etag = requests.get(url, auth=("fitter.two", password), timeout=10).headers["ETag"]

    def edit(i: int) -> int:
        body = event_ics("p0@test", summary=f"edit {i}")
        headers = {"If-Match": etag}
        return requests.put(
            two_servers[i % 2] + path + "p0.ics", data=body, headers=headers, auth=("fitter.two", password), timeout=60
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        edits = list(pool.map(edit, range(16)))
    assert sorted(edits) == [204] + [412] * 15, edits
    winner = edits.index(204)
    text = requests.get(url, auth=("fitter.two", password), timeout=10).text
    assert f"SUMMARY:edit {winner}" in text
    with runtime.uow() as uow:
        names = list(uow.session.scalars(select(AppointmentRow.name).where(AppointmentRow.name.like("edit %"))))
    assert names == [f"edit {winner}"]
