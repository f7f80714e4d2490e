"""``appointment-service serve``: one WSGI process (waitress) serving the Flask app."""

from __future__ import annotations

import argparse
import logging
import signal
from typing import Any

from caldav_bridge.store.migrate import is_current, upgrade
from feeds.app import create_app
from feeds.cli.admin import demo_summary, demo_text, run_demo
from feeds.cli.context import runtime_of
from feeds.cli.output import fail
from feeds.feed_context import close_app
from feeds.request_context import configure_logging

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    p = commands.add_parser("serve", help="serve the REST APIs, CalDAV at /dav/, feeds and the calendar page over HTTP")
    p.add_argument("--demo", action="store_true", help="migrate, seed the demo data and print URLs and demo users")
    p.add_argument("--host", help="interface to listen on (default $APPOINTMENTS_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default $APPOINTMENTS_PORT or 8080)")
    p.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    p.add_argument("--no-migrate", action="store_true", help="refuse to start on an old schema instead of migrating")
    p.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    import waitress

    overrides: dict[str, object] = {"host": args.host, "port": args.port}
    rt = runtime_of(args, **overrides)
    settings = rt.settings
    if args.host or args.port:  # links printed and served follow the address actually used
        default_public = f"http://{settings.host}:{settings.port}"
        if settings.public_url == "http://127.0.0.1:8080":
            rt = runtime_of(args, **overrides, public_url=default_public)
            settings = rt.settings
    configure_logging(settings.log_format, settings.log_level)
    if args.demo:
        print(demo_text(demo_summary(rt, run_demo(rt))), flush=True)
    elif args.no_migrate:
        if not is_current(rt.engine):
            return fail("the database schema is not current; run `appointment-service db upgrade`", code=2)
    else:
        upgrade(rt.engine)
    app = create_app(rt=rt)
    from feeds.cli.sync import start_in_serve  # the Salesforce scheduler, when configured

    scheduler = start_in_serve(rt)
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
        scheduler.shutdown(wait=False)
    return 0


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
