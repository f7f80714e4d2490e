"""Salesforce sync benchmark against the emulator: initial mirror of N Events, then a push of M new appointments.

    .venv/bin/python bench/sync_bench.py [--events 100000] [--push 10000] [--database-url URL]

Prints records per second, API calls used and peak resident memory growth, against the targets:
mirror calls <= ceil(n/2000) + 5, push calls <= ceil(m/200) + 5, mirror >= 2,000 records/s,
resident memory growth < 100 MB over the mirror.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from caldav_bridge.converters.salesforce import format_sf_datetime
from caldav_bridge.model.requests import AppointmentDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.service import run_job
from caldav_bridge.services import appointments, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.migrate import upgrade
from config import load_settings
from tests.salesforce.conftest import make_context
from tests.salesforce.emulator import SalesforceEmulator, running_emulator


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--push", type=int, default=10_000)
    p.add_argument("--database-url", default="")
    args = p.parse_args()
    tmp = tempfile.mkdtemp()
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    rt = Runtime.from_settings(load_settings(environ={}, database_url=url, data_dir=tmp))
    upgrade(rt.engine)
    users.add_user(rt.uow(), "bench", "fitter", email="bench@example.com")
    emu = SalesforceEmulator(page_size=2000, validate_duration=False)
    owner = emu.create("User", {"Name": "Bench", "Email": "bench@example.com", "IsActive": True})
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for i in range(args.events):
        start = base + timedelta(minutes=30 * (i % 20000))
        emu.create(
            "Event",
            {
                "Subject": f"E{i}",
                "StartDateTime": format_sf_datetime(start),
                "EndDateTime": format_sf_datetime(start + timedelta(minutes=30)),
                "OwnerId": owner,
            },
        )
    with running_emulator(emu):
        ctx = make_context(rt, emu, page_size=2000, timeout=120)
        before_calls, rss0 = emu.stats.calls, rss_mb()
        t0 = time.perf_counter()
        result = run_job(ctx, "mirror")
        took = time.perf_counter() - t0
        assert result is not None
        calls = emu.stats.calls - before_calls
        print(
            f"mirror: {result.created} events in {took:.1f}s = {result.created / took:,.0f} records/s; "
            f"API calls {calls} (target <= {math.ceil(args.events / 2000) + 5}); "
            f"peak RSS growth {rss_mb() - rss0:.0f} MB (target < 100)"
        )
        with rt.uow() as uow:
            user = uow.users.by_username("bench")
            assert user is not None
            calendar_id = uow.calendars.ids_owned_by(user.id)[0]
        actor = system_actor("api")
        for i in range(args.push):
            start = base + timedelta(days=400, minutes=30 * i)
            draft = AppointmentDraft.model_validate(
                {
                    "calendar": {"id": calendar_id},
                    "date_start": start,
                    "date_end": start + timedelta(minutes=30),
                    "name": f"P{i}",
                    "meta": {"type": "INITIAL"},
                    "status": "BOOKED",
                }
            )
            appointments.create(rt.uow(), actor, draft)
        before_calls = emu.stats.calls
        t0 = time.perf_counter()
        result = run_job(ctx, "push")
        took = time.perf_counter() - t0
        assert result is not None
        calls = emu.stats.calls - before_calls
        print(
            f"push: {result.created} appointments in {took:.1f}s = {result.created / took:,.0f} records/s; "
            f"API calls {calls} (target <= {math.ceil(args.push / 200) + 5})"
        )
    rt.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
