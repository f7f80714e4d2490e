"""Radicale on its own (the ``radicale`` command with this project's plugins) gets the pre-parse body checks.

In the service, ``feeds.dav`` checks a PUT body before Radicale parses it; a real ``radicale`` process has
no such middleware, so the auth plugin runs the same checks when Radicale asks it for an external login
(``storage_plugin.precheck``). Each refused body answers Radicale's own 400, names its reason in the log,
and stores nothing; an ordinary PUT still goes through.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from caldav_bridge.runtime import Runtime
from caldav_bridge.services import users
from caldav_bridge.store.dav_tables import DavItemRow
from config import Settings
from tests.caldav.support import event_ics
from tests.support.processes import free_port, running

pytestmark = pytest.mark.slow


@dataclass
class Standalone:
    base: str
    auth: tuple[str, str]
    log: Path


@pytest.fixture
def standalone(runtime: Runtime, settings: Settings, tmp_path: Path) -> Iterator[Standalone]:
    _, password = users.add_user(runtime.uow(), "solo.fitter", "fitter", timezone="Europe/Berlin")
    port = free_port()
    config = tmp_path / "radicale.conf"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        "[auth]\ntype = storage_plugin.auth\n"
        "[rights]\ntype = storage_plugin.rights\n"
        f"[storage]\ntype = storage_plugin\nurl = {settings.resolved_database_url()}\nauto_migrate = False\n"
        "[web]\ntype = none\n"
        "[logging]\nlevel = info\n"
    )
    log = tmp_path / "radicale.log"
    env = {**os.environ, "APPOINTMENTS_DATA_DIR": settings.data_dir}
    base = f"http://127.0.0.1:{port}"
    auth = ("solo.fitter", password)
    command = [sys.executable, "-m", "radicale", "--config", str(config)]
    with running(command, base + "/", method="PROPFIND", auth=auth, env=env, log=log):
        yield Standalone(base, auth, log)


def _items(runtime: Runtime) -> int:
    with runtime.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(DavItemRow)) or 0)


HOSTILE = {
    "never occurs": event_ics("never@solo", extra="RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\r\n").encode(),
    "more often than daily": event_ics("secondly@solo", extra="RRULE:FREQ=SECONDLY;BYMONTH=2\r\n").encode(),
    "unreadable DTSTART": event_ics("y0@solo", tzid=None)
    .replace("DTSTART:20261201T090000Z", "DTSTART:00000101")
    .encode(),
    "UTF-8": event_ics("latin@solo", summary="M\udcfcller").encode("utf-8", "surrogateescape"),
    "Mars/Base": event_ics("mars@solo", tzid="Mars/Base").encode(),
}


def test_standalone_radicale_refuses_hostile_bodies_before_parsing(standalone: Standalone, runtime: Runtime) -> None:
    """Each body in turn to one server (a Radicale process costs seconds of CPU to start): a 400, nothing stored,
    and the reason in the log."""
    calendar = f"{standalone.base}/solo.fitter/appointments/"
    assert requests.request("PROPFIND", calendar, auth=standalone.auth, headers={"Depth": "1"}, timeout=30).ok
    before = _items(runtime)
    for reason, body in HOSTILE.items():
        response = requests.put(
            calendar + "hostile.ics",
            data=body,
            auth=standalone.auth,
            headers={"Content-Type": "text/calendar"},
            timeout=60,
        )
        assert response.status_code == 400, (reason, response.text)
        assert _items(runtime) == before, reason
        log = standalone.log.read_text(errors="replace")
        refused = [line for line in log.splitlines() if "refused before parsing" in line]
        assert refused and reason.lower() in refused[-1].lower(), (reason, log[-2000:])


def test_standalone_radicale_still_stores_an_ordinary_event(standalone: Standalone, runtime: Runtime) -> None:
    calendar = f"{standalone.base}/solo.fitter/appointments/"
    body = event_ics("fine@solo", extra="RRULE:FREQ=WEEKLY;COUNT=4\r\n")
    response = requests.put(calendar + "fine.ics", data=body, auth=standalone.auth, timeout=60)
    assert response.status_code == 201, response.text
    got = requests.get(calendar + "fine.ics", auth=standalone.auth, timeout=30)
    assert got.status_code == 200 and "UID:fine@solo" in got.text
    assert "refused before parsing" not in standalone.log.read_text(errors="replace")


def test_standalone_radicale_refuses_an_xml_entity_bomb_with_a_400(standalone: Standalone) -> None:
    """Radicale's defusedxml refuses entities with a 500; the pre-check answers 400 before it reads the body."""
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&b;</D:displayname></D:prop></D:propfind>'
    )
    calendar = f"{standalone.base}/solo.fitter/appointments/"
    response = requests.request(
        "PROPFIND", calendar, data=laughs, auth=standalone.auth, headers={"Depth": "1"}, timeout=30
    )
    assert response.status_code == 400, response.text
    assert "PROPFIND refused before parsing: 400" in standalone.log.read_text(errors="replace")
