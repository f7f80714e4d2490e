"""Salesforce records with hostile field values, mirrored through the strict emulator (SQLite and PostgreSQL).

Control characters, line breaks that would start iCalendar properties in a feed, right-to-left overrides,
fields at their length limits, an end before the start, events centuries away or months long, and a
mirror of them all: the job finishes within the CPU budget, nothing it writes lets a value break out
of its field (no injected RRULE in the CalDAV item), and availability over the calendar stays cheap.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from caldav_bridge.converters.salesforce import format_sf_datetime
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import users
from caldav_bridge.store.dav_tables import DavItemRow
from caldav_bridge.store.sf_tables import SfLinkRow
from sf_emulator.emulator import SalesforceEmulator
from tests.support.cpu import CPU_BUDGET

T0 = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=3)
INJECTION = "Fitting\r\nRRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil"


def _hostile(owner: str) -> list[dict[str, object]]:
    def when(start: datetime, end: datetime) -> dict[str, str]:
        return {"StartDateTime": format_sf_datetime(start), "EndDateTime": format_sf_datetime(end)}

    one_hour = when(T0, T0 + timedelta(hours=1))
    return [
        {"Subject": INJECTION, **one_hour},
        {"Subject": "\u202eevil\u202c" * 20, "Description": "\x00\x01\x07\x1b[31m" * 1000, **one_hour},
        {"Subject": "x" * 255, "Location": ";\\,\n" * 60, **one_hour},
        {"Subject": "Backwards", **when(T0 + timedelta(hours=2), T0)},
        {"Subject": "Far away", **when(datetime(4000, 1, 1, tzinfo=UTC), datetime(4000, 1, 1, 1, tzinfo=UTC))},
        {"Subject": "Long ago", **when(datetime(1701, 1, 1, tzinfo=UTC), datetime(1701, 1, 1, 1, tzinfo=UTC))},
        {"Subject": "Half a year", **when(T0, T0 + timedelta(days=180))},
        {"Subject": "BEGIN:VCALENDAR", "Description": "END:VCALENDAR\r\n" * 2000, **one_hour},
    ]


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_mirroring_hostile_records_is_cheap_and_nothing_breaks_out_of_its_field(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    users.add_user(runtime.uow(), "fitter.sf", "fitter", email="sf@example.com", timezone="UTC")
    owner = emulator.create("User", {"Name": "SF", "Email": "sf@example.com", "IsActive": True})
    made = []
    for fields in _hostile(owner):
        try:
            made.append(emulator.create("Event", {**fields, "OwnerId": owner}))
        except Exception:  # the strict org refuses some of them itself (lengths, the end before the start)
            continue
    assert len(made) >= 5, made
    wall = time.monotonic()
    cpu = time.process_time()  # the mirror and the emulator both run in this process: counted together
    result = run_job(sync, "mirror")
    spent = time.process_time() - cpu
    assert result is not None, result
    # one page of records, each with the per-request budget (generous: the emulator's own work is counted too)
    assert spent < CPU_BUDGET * len(made), (spent, time.monotonic() - wall, result)
    with runtime.uow() as uow:
        linked = set(uow.session.scalars(select(SfLinkRow.sf_id)))
        texts = list(uow.session.scalars(select(DavItemRow.text)))
    assert linked <= set(made) and linked, (linked, made)
    for text_ in texts:
        lines = text_.replace("\r\n ", "").split("\r\n")  # unfolded
        assert not any(line.startswith(("RRULE", "UID:evil")) for line in lines), text_[:2000]
        assert lines.count("BEGIN:VEVENT") == 1 and lines.count("BEGIN:VCALENDAR") == 1, text_[:2000]
        assert "\x00" not in text_
