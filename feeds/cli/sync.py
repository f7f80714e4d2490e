"""``appointment-service sync status|run`` and ``appointment-service worker``: the Salesforce sync."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from typing import Any

from caldav_bridge.salesforce.runner import JOBS, run_job, status
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.store.migrate import upgrade
from feeds.cli.bootstrap import runtime_of
from feeds.cli.output import emit, fail, table

__all__ = ["register", "start_in_serve"]

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    p = commands.add_parser("sync", help="Salesforce sync: status, or run a job once")
    sub = p.add_subparsers(dest="sync_command", metavar="SUBCOMMAND", required=True)
    st = sub.add_parser("status", help="watermarks, lag, last runs, outbox depth, dead letters, API usage")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(handler=sync_status)
    run = sub.add_parser("run", help="run sync jobs now (mirror, then push; or the ones named)")
    run.add_argument("--once", action="store_true", required=True, help="run once and exit")
    run.add_argument("--mirror", action="store_true", help="Salesforce → store")
    run.add_argument("--push", action="store_true", help="outbox → Salesforce")
    run.add_argument("--reconcile", action="store_true", help="diff the mirrored window's ids")
    run.add_argument("--json", action="store_true", help="print JSON")
    run.set_defaults(handler=sync_run)
    w = commands.add_parser("worker", help="run the Salesforce sync scheduler in the foreground")
    w.set_defaults(handler=worker)


def sync_status(args: argparse.Namespace) -> int:
    rt = runtime_of(args)
    data = status(rt.uow(), rt.settings)
    text = [
        f"Salesforce: {'configured' if data['configured'] else 'not configured'} ({data['mode']} mode)",
        "outbox: " + ", ".join(f"{k} {v}" for k, v in data["outbox"].items()),
        f"unassigned appointments: {data['unassigned']}",
        f"API usage: {data['api_usage'] or 'unknown'}",
        "",
        table(data["watermarks"], ["object", "system_modstamp", "lag_seconds"]),
        "",
        table(
            [{"job": j, **r} for j, runs in data["last_runs"].items() for r in runs[:1]],
            ["job", "started_at", "outcome", "processed", "failed", "api_calls"],
        ),
    ]
    return emit(data, args.json, "\n".join(text))


class _Bar:
    """A progress line on stderr when it is a terminal (and a final count otherwise)."""

    def __init__(self, job: str) -> None:
        self.job = job
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if not self.tty or now - self.last < 0.2:
            return
        self.last = now
        if total:
            filled = int(30 * done / max(total, 1))
            sys.stderr.write(f"\r{self.job:9} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        else:
            spin = "|/-\\"[int(now * 5) % 4]
            sys.stderr.write(f"\r{self.job:9} {spin} {done} records")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def sync_run(args: argparse.Namespace) -> int:
    rt = runtime_of(args)
    if not rt.settings.salesforce_configured():
        return fail("Salesforce is not configured (set APPOINTMENTS_SF_AUTH and its credentials)", code=2)
    upgrade(rt.engine)
    ctx = SyncContext.from_runtime(rt)
    chosen = [j for j in JOBS if getattr(args, j)] or ["mirror", "push"]
    results = {}
    worst = 0
    for job in chosen:
        bar = _Bar(job)
        result = run_job(ctx, job, progress=bar)
        bar.close()
        if result is None:
            results[job] = {"outcome": "skipped", "reason": "another worker holds this job"}
            continue
        results[job] = result.as_dict()
        if result.outcome in {"failed", "limited"}:
            worst = 1
    lines = [
        f"{job}: {r['outcome']}"
        + (
            f" processed={r['processed']} created={r['created']} updated={r['updated']} deleted={r['deleted']}"
            f" failed={r['failed']} api_calls={r['api_calls']}"
            if "processed" in r
            else ""
        )
        for job, r in results.items()
    ]
    emit(results, args.json, "\n".join(lines))
    return worst


def worker(args: argparse.Namespace) -> int:
    rt = runtime_of(args)
    if not rt.settings.salesforce_configured():
        return fail("Salesforce is not configured (set APPOINTMENTS_SF_AUTH and its credentials)", code=2)
    from caldav_bridge.jobs.scheduler import build_scheduler

    upgrade(rt.engine)
    logging.basicConfig(level=rt.settings.log_level.upper())
    scheduler = build_scheduler(rt, SyncContext.from_runtime(rt), background=False)
    print("Salesforce sync worker running (Ctrl-C to stop)", flush=True)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
    return 0


def start_in_serve(rt: Any, session_factory: Any = None) -> Any:
    """Start the background scheduler inside ``serve`` when Salesforce is configured and it is enabled.

    ``session_factory`` makes the gateway's ``requests.Session`` (``serve --salesforce-emulator``).
    """
    s = rt.settings
    if not (s.salesforce_configured() and s.sf_scheduler_in_serve):
        return None
    from caldav_bridge.jobs.scheduler import build_scheduler

    scheduler = build_scheduler(rt, SyncContext.from_runtime(rt, session_factory), background=True)
    from caldav_bridge.jobs import scheduling as scheduling_jobs  # webhook delivery, hold expiry

    scheduling_jobs.add_jobs(scheduler, rt)
    from caldav_bridge.jobs import dav as dav_jobs  # CalDAV change-log prune

    dav_jobs.add_jobs(scheduler, rt)
    scheduler.start()
    log.info(
        "Salesforce sync scheduler started (mirror every %ss, push every %ss)",
        s.sf_mirror_interval_seconds,
        s.sf_push_interval_seconds,
    )
    return scheduler
