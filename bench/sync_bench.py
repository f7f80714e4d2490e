"""Salesforce sync benchmark against the emulator: initial mirror of N Events, then a push of M new appointments.

    .venv/bin/python bench/sync_bench.py [--events 100000] [--push 10000] [--database-url URL]

The emulator runs in its own process (``python -m sf_emulator.emulator``, seeded there, on
127.0.0.1), so its JSON encoding and query work do not share this process's interpreter; it is
stopped by its PID, also on errors and Ctrl-C. API calls are the gateway's count (logins excluded).

Prints records per second, API calls used and peak resident memory growth, against the targets:
mirror calls <= ceil(n/2000) + 5, push calls <= ceil(m/200) + 5, mirror >= 2,000 records/s,
resident memory growth < 100 MB over the mirror; then the API calls an idle hour costs at the default
intervals (target <= 60).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from caldav_bridge.model.requests import AppointmentDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import appointments, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.migrate import upgrade
from config import load_settings
from sf_emulator.emulator import SalesforceEmulator
from tests.salesforce.conftest import make_context

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--push", type=int, default=10_000)
    p.add_argument("--database-url", default="")
    p.add_argument("--profile", default="", help="write a cProfile of the mirror run to this file")
    args = p.parse_args()
    tmp = tempfile.mkdtemp()
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    rt = Runtime.from_settings(load_settings(environ={}, database_url=url, data_dir=tmp))
    upgrade(rt.engine)
    users.add_user(rt.uow(), "bench", "fitter", email="bench@example.com")
    # SIGTERM (timeout, kill) must run the finally below, which stops the emulator process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sf_emulator.emulator", "--events", str(args.events), "--page-size", "2000"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        return _run(args, rt, proc)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        rt.close()
        shutil.rmtree(tmp, ignore_errors=True)  # its database and spool (each run left ~its database in /tmp)


def _run(args: argparse.Namespace, rt: Runtime, proc: subprocess.Popen[str]) -> int:
    assert proc.stdout is not None
    t_seed = time.perf_counter()
    line = proc.stdout.readline()
    if not line:
        print("the emulator process did not start", file=sys.stderr)
        return 2
    info = json.loads(line)
    print(f"emulator: pid {proc.pid}, {info['events']} events seeded in {time.perf_counter() - t_seed:.1f}s")
    emu = SalesforceEmulator()  # credentials only: the one serving is the other process
    emu.base_url = info["base_url"]
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    if True:
        ctx = make_context(rt, emu, page_size=2000, timeout=120)
        rss0 = rss_mb()
        profile = cProfile.Profile() if args.profile else None
        t0, cpu0 = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        result = run_job(ctx, "mirror")
        if profile is not None:
            profile.disable()
            profile.dump_stats(args.profile)
        took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        assert result is not None
        calls = result.api_calls
        print(
            f"mirror: {result.created} events in {took:.1f}s = {result.created / took:,.0f} records/s "
            f"({result.created / cpu:,.0f} per CPU second of this process; the emulator runs in its own); "
            f"API calls {calls} (target <= {math.ceil(args.events / 2000) + 5}); "
            f"peak RSS growth {rss_mb() - rss0:.0f} MB (target < 100); load average {os.getloadavg()[0]:.1f}"
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
        t0, cpu0 = time.perf_counter(), time.process_time()
        result = run_job(ctx, "push")
        took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        assert result is not None
        calls = result.api_calls
        print(
            f"push: {result.created} appointments in {took:.1f}s = {result.created / took:,.0f} records/s "
            f"({result.created / cpu:,.0f} per CPU second); "
            f"API calls {calls} (target <= {math.ceil(args.push / 200) + 5})"
        )
        print(_idle_hour(rt, ctx))
    return 0


def _idle_hour(rt: Runtime, ctx: SyncContext, ticks: int = 5) -> str:
    """API calls an hour costs with nothing changing, at the default intervals (mirror 60 s, push 30 s).

    The echo of the push above is mirrored first (one full run, begun two seconds after the push's last write).
    Idle ticks then ask every object at once (one composite call); a record changed within the overlap window
    (``sf_overlap_minutes``) still makes a tick a full run, so the ticks here take the overlap as passed (overlap 0)
    instead of waiting 5 minutes."""
    # SystemModstamps have whole seconds, and a tick reads as changed whatever changed up to a second before the
    # last full run began: the push's last write must be older than that, or the first tick is a full run again.
    time.sleep(2)
    run_job(ctx, "mirror")
    ctx.overlap = timedelta(0)
    defaults = load_settings(environ={})
    mirror_calls = [getattr(run_job(ctx, "mirror"), "api_calls", 0) for _ in range(ticks)]
    push_calls = [getattr(run_job(ctx, "push"), "api_calls", 0) for _ in range(ticks)]
    per_hour = (
        sum(mirror_calls) / ticks * 3600 / defaults.sf_mirror_interval_seconds
        + sum(push_calls) / ticks * 3600 / defaults.sf_push_interval_seconds
    )
    return (
        f"idle: mirror ticks cost {mirror_calls} calls, push ticks {push_calls}; "
        f"API calls per idle hour at the default intervals (mirror {defaults.sf_mirror_interval_seconds} s, "
        f"push {defaults.sf_push_interval_seconds} s): {per_hour:.0f} (target <= 60)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
