"""``appointment-service sync status|run|check`` (Salesforce sync) and ``appointment-service worker`` (every job)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import time
from typing import Any

from caldav_bridge.jobs.catalog import build_scheduler
from caldav_bridge.jobs.scheduler import JobScheduler
from caldav_bridge.salesforce.gateway import SalesforceSyncError
from caldav_bridge.salesforce.preflight import check, record
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
    ck = sub.add_parser("check", help="preflight: does the org have the fields, picklist values and permissions?")
    ck.add_argument("--json", action="store_true", help="print JSON")
    ck.set_defaults(handler=sync_check)
    run = sub.add_parser("run", help="run sync jobs now (mirror, then push; or the ones named)")
    run.add_argument("--once", action="store_true", required=True, help="run once and exit")
    run.add_argument("--mirror", action="store_true", help="Salesforce → store")
    run.add_argument("--push", action="store_true", help="outbox → Salesforce")
    run.add_argument("--reconcile", action="store_true", help="diff the mirrored window's ids")
    run.add_argument("--json", action="store_true", help="print JSON")
    run.set_defaults(handler=sync_run)
    w = commands.add_parser("worker", help="run every background job in the foreground (the ones serve runs)")
    w.set_defaults(handler=worker)


def sync_status(args: argparse.Namespace) -> int:
    rt = runtime_of(args)
    data = status(rt.uow(), rt.settings)
    text = [
        f"Salesforce: {'configured' if data['configured'] else 'not configured'} ({data['mode']} mode)",
        "outbox: " + ", ".join(f"{k} {v}" for k, v in data["outbox"].items()),
        f"unassigned appointments: {data['unassigned']}",
        "unmapped Salesforce values: "
        + (
            "; ".join(
                f"{f} " + ", ".join(f"{v!r} {n}" for v, n in sorted(c.items())) for f, c in data["unmapped"].items()
            )
            or "none"
        ),
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
    """Every background job in the foreground: the same jobs ``serve`` runs (``jobs.catalog.build_scheduler``)."""
    rt = runtime_of(args)
    upgrade(rt.engine)
    logging.basicConfig(level=rt.settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    scheduler = build_scheduler(rt)
    print(f"Background worker running {_described(scheduler)} (Ctrl-C to stop)", flush=True)
    signal.signal(signal.SIGTERM, _stop)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.run_forever()
    scheduler.shutdown()
    return 0


def sync_check(args: argparse.Namespace) -> int:
    """Preflight: exit 0 when the org has what the sync needs, 2 with one line per problem otherwise."""
    rt = runtime_of(args)
    if not rt.settings.salesforce_configured():
        return fail("Salesforce is not configured (set APPOINTMENTS_SF_AUTH and its credentials)", code=2)
    ctx = SyncContext.from_runtime(rt)
    try:
        report = check(ctx.gateway_factory(), ctx.mapping, feed_url_field=ctx.feed_url_field)
    except SalesforceSyncError as exc:
        return fail(f"Salesforce: cannot read the org's metadata ({exc.code or exc.message})", code=2)
    data = report.as_dict()
    upgrade(rt.engine)
    record(rt.uow(), data)
    lines = [f"problem: {p}" for p in data["problems"]]
    shared = {True: "on", False: "off", None: "unknown"}[report.shared_activities]
    lines += [
        f"Shared Activities: {shared}",
        f"API requests left today: {report.api_remaining} of {report.api_max}",
        "ok: the org has what the sync needs"
        if report.ok
        else f"{len(report.problems)} problem(s): sync jobs stay off",
    ]
    emit(data, args.json, "\n".join(lines))
    return 0 if report.ok else 2


def start_in_serve(rt: Any, session_factory: Any = None) -> JobScheduler | None:
    """Start every background job inside ``serve`` (unless ``jobs_in_serve`` is off); the scheduler or None.

    ``session_factory`` makes the gateway's ``requests.Session`` (``serve --salesforce-emulator``).
    """
    s = rt.settings
    if not (s.jobs_in_serve and s.sf_scheduler_in_serve):
        return None
    scheduler = build_scheduler(rt, session_factory=session_factory)
    scheduler.start()
    log.info("background jobs started: %s", _described(scheduler))
    return scheduler


def _described(scheduler: JobScheduler) -> str:
    return ", ".join(f"{job.id} ({job.trigger.describe()})" for job in scheduler.jobs)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
