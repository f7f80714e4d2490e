"""``webhooks deliver`` and ``scheduling expire-holds``: the scheduling jobs, runnable by hand or from cron."""

from __future__ import annotations

import argparse
from typing import Any

from feeds.cli.bootstrap import runtime_of
from feeds.cli.output import emit
from feeds.cli.passes import add_pass_options, run_passes

__all__ = ["register"]


def register(commands: Any) -> None:
    w = commands.add_parser("webhooks", help="webhook deliveries").add_subparsers(
        dest="webhooks_command", required=True, metavar="ACTION"
    )
    p = w.add_parser("deliver", help="POST the due webhook deliveries (signed; failures retried with backoff)")
    add_pass_options(p, interval=10.0)
    p.add_argument("--limit", type=int, default=100, help="deliveries per pass (default 100)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=webhooks_deliver)
    s = commands.add_parser("scheduling", help="scheduling jobs").add_subparsers(
        dest="scheduling_command", required=True, metavar="ACTION"
    )
    p = s.add_parser("expire-holds", help="release holds (RESERVED bookings) whose time is up")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=scheduling_expire_holds)


def webhooks_deliver(args: argparse.Namespace) -> int:
    from caldav_bridge.webhooks.delivery import WebhookOptions, deliver_due

    rt = runtime_of(args)
    options = WebhookOptions.from_settings(rt.settings)
    total = run_passes(args, lambda: deliver_due(rt.uow, options, limit=max(1, args.limit)))
    text = (
        f"{total['attempted']} attempted, {total['delivered']} delivered, "
        f"{total['retrying']} to retry, {total['failed']} failed"
    )
    return emit(total, args.json, text)


def scheduling_expire_holds(args: argparse.Namespace) -> int:
    from caldav_bridge.scheduling.booking import expire_holds

    rt = runtime_of(args)
    count = expire_holds(rt.uow())
    return emit({"expired": count}, args.json, f"{count} hold(s) expired")
