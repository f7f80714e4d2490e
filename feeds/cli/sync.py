"""``appointment-service sync status|run|check`` (Salesforce sync) and ``appointment-service worker`` (every job)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from feeds.cli.bootstrap import runtime_of
from feeds.cli.output import emit, fail, table
from feeds.cli.progress import ItemProgress

if TYPE_CHECKING:
    from caldav_bridge.jobs.scheduler import JobScheduler

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
    ck.set_defaults(handler=sync_check, creates_database=True)
    run = sub.add_parser("run", help="run sync jobs now (mirror, then push; or the ones named)")
    run.add_argument("--once", action="store_true", required=True, help="run once and exit")
    run.add_argument("--mirror", action="store_true", help="Salesforce → store")
    run.add_argument("--push", action="store_true", help="outbox → Salesforce")
    run.add_argument("--reconcile", action="store_true", help="diff the mirrored window's ids")
    run.add_argument("--json", action="store_true", help="print JSON")
    run.set_defaults(handler=sync_run, creates_database=True)
    w = commands.add_parser("worker", help="run every background job in the foreground (the ones serve runs)")
    w.set_defaults(handler=worker, creates_database=True)


def sync_status(args: argparse.Namespace) -> int:
    from caldav_bridge.salesforce.runner import status

    rt = runtime_of(args)
    data = status(rt.uow(), rt.settings)
    data["running"] = running_sync(data["last_runs"])
    text = [
        "Salesforce: " + state_line(data),
        "outbox: " + ", ".join(f"{k} {v}" for k, v in data["outbox"].items()),
        f"unassigned appointments: {data['unassigned']}",
        "unmapped Salesforce values: "
        + (
            "; ".join(
                f"{f} " + ", ".join(f"{v!r} {n}" for v, n in sorted(c.items())) for f, c in data["unmapped"].items()
            )
            or "none"
        ),
        "tech-setup policy for INITIALs scheduled in Salesforce: {policy}; standing proposals: {proposed}".format(
            **data["tech_setup"]
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


#: A sync whose last run started this recently counts as running (the jobs run every few minutes at most).
RUNNING_WITHIN_SECONDS = 15 * 60


def running_sync(last_runs: dict[str, list[dict[str, Any]]], now: datetime | None = None) -> dict[str, Any] | None:
    """The newest run recorded in the database by whichever process syncs, if it is recent."""
    newest = max((r for runs in last_runs.values() for r in runs[:1]), key=lambda r: r["started_at"], default=None)
    if newest is None:
        return None
    started = datetime.fromisoformat(newest["started_at"])
    started = started if started.tzinfo else started.replace(tzinfo=UTC)
    age = ((now or datetime.now(UTC)) - started).total_seconds()
    if age > RUNNING_WITHIN_SECONDS:
        return None
    return {"holder": newest["holder"], "last_run_seconds_ago": round(age), "outcome": newest["outcome"]}


def state_line(data: dict[str, Any]) -> str:
    """What the database says of the sync, whatever this shell's settings are."""
    running = data.get("running")
    if running:
        return (
            f"syncing ({running['holder']} ran a job {running['last_run_seconds_ago']} s ago: {running['outcome']}; "
            f"{data['mode']} mode)"
        )
    if data["configured"]:
        return f"configured here ({data['mode']} mode), no run in the last {RUNNING_WITHIN_SECONDS // 60} minutes"
    return (
        f"no sync has run in the last {RUNNING_WITHIN_SECONDS // 60} minutes "
        "(and this shell has no APPOINTMENTS_SF_* settings)"
    )


def sync_run(args: argparse.Namespace) -> int:
    from caldav_bridge.salesforce.runner import JOBS, run_job
    from caldav_bridge.salesforce.sync_context import SyncContext
    from caldav_bridge.store.migrate import upgrade

    rt = runtime_of(args)
    if not rt.settings.salesforce_configured():
        return fail("Salesforce is not configured (set APPOINTMENTS_SF_AUTH and its credentials)", code=2)
    upgrade(rt.engine)
    ctx = SyncContext.from_runtime(rt)
    chosen = [j for j in JOBS if getattr(args, j)] or ["mirror", "push"]
    results = {}
    worst = 0
    for job in chosen:
        with ItemProgress(job) as bar:
            result = run_job(ctx, job, progress=bar)
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
    from caldav_bridge.jobs.catalog import build_scheduler
    from caldav_bridge.store.migrate import upgrade

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
    from caldav_bridge.salesforce.gateway import SalesforceSyncError
    from caldav_bridge.salesforce.preflight import check, record
    from caldav_bridge.salesforce.sync_context import SyncContext
    from caldav_bridge.store.migrate import upgrade

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
    from caldav_bridge.jobs.catalog import build_scheduler

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
