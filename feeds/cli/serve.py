"""``appointment-service serve``: the Flask app over HTTP: one process (waitress), or with ``--workers N``
several worker processes under gunicorn (``feeds/cli/workers.py``)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import signal
import socket
from typing import TYPE_CHECKING, Any

from caldav_bridge.infra.gc_pacing import freeze_startup_heap
from feeds.cli import cpu_affinity
from feeds.cli.bootstrap import runtime_of
from feeds.cli.demo import demo_summary, demo_text, run_demo
from feeds.cli.output import fail
from feeds.cli.sync import start_in_serve

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    p = commands.add_parser("serve", help="serve the REST APIs, CalDAV at /dav/, feeds and the calendar page over HTTP")
    p.add_argument("--demo", action="store_true", help="migrate, seed the demo data and print URLs and demo users")
    p.add_argument("--host", help="interface to listen on (default $APPOINTMENTS_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default $APPOINTMENTS_PORT or 8080)")
    p.add_argument("--threads", type=int, default=8, help="threads per process (default 8)")
    p.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="processes serving requests (default 1: one waitress process; more: gunicorn workers, "
        "e.g. one per CPU core)",
    )
    p.add_argument(
        "--no-cpu-affinity",
        dest="cpu_affinity",
        action="store_false",
        help="leave each process free to run on any CPU (default: each serving process bound to one CPU of its "
        "own, where Python's threads hand over to each other at ~half the CPU cost; see docs/operations.md)",
    )
    p.add_argument("--no-migrate", action="store_true", help="refuse to start on an old schema instead of migrating")
    p.add_argument(
        "--salesforce-emulator",
        action="store_true",
        help="with --demo: start the in-repo Salesforce emulator on 127.0.0.1 with demo Events and sync with it "
        "(needs the source tree: make run-sf)",
    )
    p.set_defaults(handler=serve, creates_database=True)


def _workers(value: str) -> int:
    try:
        workers = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= workers <= 64:
        raise argparse.ArgumentTypeError("must be between 1 and 64")
    return workers


def serve(args: argparse.Namespace) -> int:
    if getattr(args, "salesforce_emulator", False):
        if not args.demo:
            return fail("--salesforce-emulator needs --demo (its Events belong to the demo fitters)", code=2)
        if args.workers > 1:
            return fail("--salesforce-emulator runs in one process: leave out --workers", code=2)
        from feeds.cli.sf_emulator import EmulatorMissing, emulator_org

        with contextlib.ExitStack() as stack:
            try:
                org = stack.enter_context(emulator_org())
            except EmulatorMissing as exc:
                return fail(str(exc), code=2)
            return _serve(args, org)
    return _serve(args, None)


def _serve(args: argparse.Namespace, org: Any) -> int:
    import waitress

    from caldav_bridge.store.migrate import is_current, upgrade
    from config import DEMO_CONFIG
    from feeds.access_log import configure_logging
    from feeds.app import create_app
    from feeds.docs import demo_links, set_demo_links
    from feeds.feed_state import close_app

    if args.demo and not args.config and not os.environ.get("APPOINTMENTS_CONFIG"):
        args.config = str(DEMO_CONFIG)  # the demo's code tables: every export works out of the box
    overrides: dict[str, object] = {"host": args.host, "port": args.port}
    if org is not None:
        overrides.update(org.settings)
    rt = runtime_of(args, **overrides)  # links follow the address served unless APPOINTMENTS_PUBLIC_URL is set
    settings = rt.settings
    problem = _listen_problem(settings.host, settings.port)
    if problem is not None:
        return fail(problem, code=2)
    configure_logging(settings.log_format, settings.log_level)
    if args.no_migrate and not args.demo:
        if not is_current(rt.engine):
            return fail("the database schema is not current; run `appointment-service db upgrade`", code=2)
    else:
        upgrade(rt.engine)
    app = create_app(rt=rt)
    links = None
    if args.demo:
        demo = demo_summary(rt, run_demo(rt), served=lambda path: serves(app, path))
        links = demo_links(demo)
        set_demo_links(app, links)  # the root page links the demo's pages
        print(demo_text(demo), flush=True)
    if args.workers > 1:
        close_app(app)
        rt.close()  # no connection and no thread crosses the fork: each worker builds its own
        return _serve_workers(args, overrides, links, settings)
    session_factory = org.session_factory if org is not None else None
    if org is not None:
        _first_sync(rt, org)
    freeze_startup_heap()  # full collections skip the app's start-up objects (70-90 ms stalls -> ~4 ms)
    if args.cpu_affinity:
        cpu_affinity.bind_and_watch(cpu_affinity.current_cpu())  # before the other threads start: they inherit it
    scheduler = start_in_serve(rt, session_factory=session_factory)
    print(f"Serving on http://{settings.host}:{settings.port} (Ctrl-C to stop)", flush=True)
    # SIGTERM stops like Ctrl-C, so buffered feed fetches are written before the process ends.
    signal.signal(signal.SIGTERM, _stop)
    try:
        waitress.serve(
            app,
            host=settings.host,
            port=settings.port,
            threads=args.threads,
            ident="appointment-service",
            clear_untrusted_proxy_headers=True,
        )
    finally:
        close_app(app)
    if scheduler is not None:
        scheduler.shutdown()
    return 0


def _listen_problem(host: str, port: int) -> str | None:
    """Why ``serve`` could not listen on ``host:port`` (None: it can), found before anything starts: a bind
    without ``SO_REUSEPORT`` fails where any server listens, also one whose workers share the port with
    ``SO_REUSEPORT`` (``feeds/cli/workers.py``), so a second ``serve`` never joins a running one."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed connection's TIME_WAIT is no user
            probe.bind(address)
    except OSError as exc:
        hint = "another server listens there: choose another --port" if exc.errno == errno.EADDRINUSE else "see --host"
        return f"cannot listen on {host}:{port}: {exc.strerror or exc} ({hint})"
    return None


def _serve_workers(args: argparse.Namespace, overrides: dict[str, object], links: Any, settings: Any) -> int:
    from feeds.app import create_app
    from feeds.cli.workers import Worker, run_workers
    from feeds.docs import set_demo_links
    from feeds.feed_state import close_app

    def build() -> Worker:
        rt = runtime_of(args, **overrides)
        app = create_app(rt=rt)
        if links is not None:
            set_demo_links(app, links)
        worker = Worker(app, [lambda: close_app(app), rt.close])
        scheduler = start_in_serve(rt)
        if scheduler is not None:
            worker.stops.insert(0, scheduler.shutdown)
        freeze_startup_heap()
        return worker

    print(
        f"Serving on http://{settings.host}:{settings.port} with {args.workers} worker processes (Ctrl-C to stop)",
        flush=True,
    )
    run_workers(
        build,
        host=settings.host,
        port=settings.port,
        workers=args.workers,
        threads=args.threads,
        bind_cpus=args.cpu_affinity,
    )
    return 0


def _first_sync(rt: Any, org: Any) -> None:
    """Mirror the emulator's demo Events and push the demo's appointments once before serving."""
    from caldav_bridge.salesforce.runner import run_job
    from caldav_bridge.salesforce.sync_context import SyncContext

    ctx = SyncContext.from_runtime(rt, org.session_factory)
    mirrored = run_job(ctx, "mirror")
    pushed = run_job(ctx, "push")
    print(
        f"Salesforce emulator on {org.base_url} (demo org: {org.seeded.get('events', 0)} Events for "
        f"{org.seeded.get('users', 0)} fitters); mirrored: "
        f"{mirrored.created if mirrored else 0} created ({mirrored.outcome if mirrored else 'skipped'}), "
        f"pushed: {pushed.created if pushed else 0} created ({pushed.outcome if pushed else 'skipped'}); "
        "the sync then runs every few seconds",
        flush=True,
    )


def serves(app: Flask, path: str) -> bool:
    """Whether ``app`` answers a GET of ``path`` with something other than a 404 (routes and CalDAV)."""
    from werkzeug.exceptions import MethodNotAllowed, NotFound
    from werkzeug.routing import RequestRedirect

    if path.startswith("/dav/"):
        return True  # CalDAV is mounted beside the routes (feeds.dav)
    try:
        app.url_map.bind("localhost").match(path, method="GET")
    except (NotFound, MethodNotAllowed):
        return False
    except RequestRedirect:
        return True
    return True


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
