"""An idle mirror tick costs one API call (all objects asked at once through the Composite API), and a change
to any watched object still makes the next tick a full run. Strict emulator over loopback, both databases.

The org's records are stamped ten minutes back (the emulator's clock), as after a quiet spell longer than
the overlap window (``sf_overlap_minutes``, 5): changes made "now" then stand out, as they do in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from caldav_bridge.converters.salesforce import format_sf_datetime
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import users
from sf_emulator.emulator import SalesforceEmulator, running_emulator
from tests.salesforce.conftest import make_context
from tests.salesforce.test_sync import T0


@pytest.fixture
def emulator() -> Iterator[SalesforceEmulator]:
    with running_emulator(SalesforceEmulator(page_size=7, clock_offset=timedelta(minutes=-10))) as emu:
        yield emu


@pytest.fixture
def sync(runtime: Runtime, emulator: SalesforceEmulator) -> SyncContext:
    return make_context(runtime, emulator)


def _quiet_org(runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext) -> tuple[str, str]:
    users.add_user(runtime.uow(), "fitter.idle", "fitter", email="idle@example.com")
    owner = emulator.create("User", {"Name": "Idle", "Email": "idle@example.com", "IsActive": True})
    contact = emulator.create("Contact", {"FirstName": "Ann", "LastName": "Doe"})
    other = emulator.create("Contact", {"FirstName": "Ben", "LastName": "Doe"})
    event = emulator.create(
        "Event",
        {
            "Subject": "Fitting",
            "StartDateTime": format_sf_datetime(T0),
            "EndDateTime": format_sf_datetime(T0 + timedelta(hours=1)),
            "OwnerId": owner,
            "WhoId": contact,
        },
    )
    first = run_job(sync, "mirror")
    assert first is not None and first.created == 1 and first.api_calls > 5, first
    for _ in range(3):
        before = emulator.api_used
        idle = run_job(sync, "mirror")
        assert idle is not None and idle.outcome == "ok" and idle.api_calls == 1, idle
        assert emulator.api_used - before == 1 and idle.created == idle.updated == idle.processed == 0
    emulator.clock_offset = timedelta(0)
    return event, other


def test_an_idle_tick_costs_one_call_and_a_change_still_arrives(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    event, _ = _quiet_org(runtime, emulator, sync)
    assert emulator.stats.by_path.get("/services/data/v59.0/composite", 0) == 3
    emulator.update("Event", event, {"Subject": "Fitting, moved"})
    changed = run_job(sync, "mirror")
    assert changed is not None and changed.updated == 1 and changed.api_calls > 1, changed
    # a push tick with nothing in the outbox makes no call at all
    pushed = run_job(sync, "push")
    assert pushed is not None and pushed.api_calls == 0, pushed


def test_a_relation_changed_alone_makes_a_full_run(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    event, other = _quiet_org(runtime, emulator, sync)
    emulator.relate(event, other, touch_event=False)  # only an EventRelation row changes
    related = run_job(sync, "mirror")
    assert related is not None and related.api_calls > 1 and related.updated == 1, related
