"""What one CalDAV PUT of a changed appointment costs, in work that machine load does not change.

A PUT parses the client's iCalendar text once with icalendar: the pre-parse check on the body
(``storage_plugin.precheck``); the store reads that parse for the event and its series, since the text Radicale
stores (vobject's re-serialisation) reads alike (``caldav_bridge.converters.ical_same``; it parsed the stored text
again before). The appointment is read once, when the DAV store locks it before the item: the
update does not read it again. (The write-path bench found a third parse, for the series, and two more
reads of the locked appointment: a PUT cost 1.25x what it did at d365404; bench/README.md.)
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import icalendar
import pytest
from sqlalchemy import event as sa_event

from tests.caldav.support import dav_session
from tests.conftest import People
from tests.support.factories import appointment_body
from tests.support.live import Api, LiveServer

_APPOINTMENT_READ = re.compile(r"^\s*SELECT appointments\.id\b", re.IGNORECASE)


@contextmanager
def counted(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """icalendar parses and reads of appointment rows while the block runs (any thread)."""
    counts = {"parses": 0, "appointment_reads": 0}
    lock = threading.Lock()
    parse = icalendar.Calendar.from_ical

    def counting_parse(st: Any, multiple: bool = False) -> Any:
        with lock:
            counts["parses"] += 1
        return parse(st, True) if multiple else parse(st)

    def hook(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if _APPOINTMENT_READ.match(statement):
            with lock:
                counts["appointment_reads"] += 1

    monkeypatch.setattr(icalendar.Calendar, "from_ical", staticmethod(counting_parse))
    sa_event.listen(live.runtime.engine, "before_cursor_execute", hook)
    try:
        yield counts
    finally:
        sa_event.remove(live.runtime.engine, "before_cursor_execute", hook)
        monkeypatch.undo()


def test_put_parses_once_and_reads_the_appointment_once(
    live: LiveServer, people: People, fitter_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert people.fitter.calendar_id is not None
    created = fitter_api.post(
        "/api/v1/appointments",
        json=appointment_body(people.fitter.calendar_id, start=datetime(2030, 1, 7, 16, 0, tzinfo=UTC)),
    )
    assert created.status_code == 201, created.text
    appointment = created.json()
    url = f"{live.base_url}/dav/{people.fitter.username}/appointments/{appointment['id']}.ics"
    dav = dav_session(people.fitter.username, people.fitter.password)
    text = dav.get(url, timeout=10).text
    assert "X-GUEST-ID=" in text  # the guest's attendee: the PUT resolves it (names and visibility)
    changed = re.sub(r"SUMMARY:[^\r\n]*", "SUMMARY:Fitting (moved)", text).replace(
        "END:VEVENT", "RRULE:FREQ=WEEKLY;COUNT=4\r\nEND:VEVENT", 1
    )

    with counted(live, monkeypatch) as counts:
        put = dav.put(url, data=changed.encode(), headers={"Content-Type": "text/calendar"}, timeout=10)
    assert put.status_code == 204, put.text
    assert counts == {"parses": 1, "appointment_reads": 1}

    after = fitter_api.get(f"/api/v1/appointments/{appointment['id']}").json()
    assert after["name"] == "Fitting (moved)"
    assert after["meta"]["recurrence"]["rrule"] == "FREQ=WEEKLY;COUNT=4"
    assert [g["id"] for g in after["guests"]] == [g["id"] for g in appointment["guests"]]
