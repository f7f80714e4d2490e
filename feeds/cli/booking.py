"""``booking-links`` (customers' self-booking links: issue, list, revoke) and ``messages`` (the customer-message
outbox: status, list, deliver, remind, retry)."""

from __future__ import annotations

import argparse
from typing import Any

from caldav_bridge.errors import FieldError, ValidationFailed
from feeds.cli.bootstrap import runtime_of, validated
from feeds.cli.output import emit, table
from feeds.cli.passes import add_pass_options, run_passes

__all__ = ["register", "register_messages"]


def register(commands: Any) -> None:
    b = commands.add_parser("booking-links", help="customers' self-booking links").add_subparsers(
        dest="booking_links_command", required=True, metavar="ACTION"
    )
    p = b.add_parser("create", help="issue a link (its URL is printed once; only a hash is stored)")
    p.add_argument("--team", required=True, metavar="TEAM_ID", help="the team calendar whose members are booked")
    p.add_argument("--name", required=True, help="for staff: what the link is for")
    p.add_argument("--purpose", default="INITIAL", help="what customers book (INITIAL)")
    p.add_argument("--opportunity", metavar="SF_ID", help="personal link: the Salesforce opportunity")
    p.add_argument("--customer", metavar="SF_ID", help="personal link: the Salesforce customer (lead/account)")
    p.add_argument("--expires", metavar="TIMESTAMP", help="e.g. 2027-01-31T00:00:00Z (default: never)")
    _json(p).set_defaults(handler=create)
    p = b.add_parser("list", help="list links (never their secrets)")
    p.add_argument("--team", metavar="TEAM_ID")
    _json(p).set_defaults(handler=list_links)
    p = b.add_parser("revoke", help="revoke a link (its page answers 404 from now on)")
    p.add_argument("link_id")
    _json(p).set_defaults(handler=revoke)


def _json(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def create(args: argparse.Namespace) -> int:
    from caldav_bridge.selfbooking import links
    from caldav_bridge.selfbooking.keys import service_key
    from caldav_bridge.selfbooking.model import LinkDraft
    from caldav_bridge.services.actor import system_actor

    personal = bool(args.opportunity or args.customer)
    draft = validated(
        LinkDraft,
        {
            "kind": "personal" if personal else "team",
            "team_id": args.team,
            "purpose": args.purpose,
            "name": args.name,
            "expires_at": args.expires,
            "salesforce": {"opportunity_gid": args.opportunity, "customer_gid": args.customer},
        },
    )
    rt = runtime_of(args)
    issued = links.issue(rt.uow(), system_actor(), draft, rt.settings.public_url, key=service_key(rt.settings))
    data = issued.model_dump(mode="json")
    return emit(data, args.json, f"booking link {issued.link.id} ({issued.link.kind}); shown once:\n  {issued.url}")


def list_links(args: argparse.Namespace) -> int:
    from caldav_bridge.selfbooking import links
    from caldav_bridge.services.actor import system_actor

    rt = runtime_of(args)
    items = [i.model_dump(mode="json") for i in links.list_links(rt.uow(), system_actor(), team_id=args.team)]
    return emit(items, args.json, table(items, ["id", "kind", "name", "team_id", "bookings", "active", "expires_at"]))


def revoke(args: argparse.Namespace) -> int:
    from caldav_bridge.selfbooking import links
    from caldav_bridge.services.actor import system_actor

    rt = runtime_of(args)
    link = links.revoke(rt.uow(), system_actor(), args.link_id)
    return emit(link.model_dump(mode="json"), args.json, f"booking link {link.id} revoked")


def register_messages(commands: Any) -> None:
    m = commands.add_parser(
        "messages", help="customer messages (confirmations, reminders): status, list, deliver"
    ).add_subparsers(dest="messages_command", required=True, metavar="ACTION")
    p = m.add_parser("status", help="messages per state (pending, sent, dead letters) and no-shows")
    _json(p).set_defaults(handler=messages_status)
    p = m.add_parser("list", help="messages, newest first (never an address or a body)")
    p.add_argument("--state", choices=["pending", "sent", "dead"])
    p.add_argument("--limit", type=int, default=50)
    _json(p).set_defaults(handler=messages_list)
    p = m.add_parser("deliver", help="send the due messages (SMTP, or .eml files without smtp_host); retries back off")
    add_pass_options(p, interval=15.0)
    _json(p).set_defaults(handler=messages_deliver)
    p = m.add_parser("remind", help="queue the reminders due now (deliver sends them)")
    _json(p).set_defaults(handler=messages_remind)
    p = m.add_parser("retry", help="send a dead letter again")
    p.add_argument("message_id")
    _json(p).set_defaults(handler=messages_retry)
    p = commands.add_parser(
        "no-show", help="mark an appointment a no-show (kept, counted by 'messages status', pushed to Salesforce)"
    )
    p.add_argument("appointment_id")
    _json(p).set_defaults(handler=mark_no_show)


def messages_status(args: argparse.Namespace) -> int:
    from caldav_bridge.selfbooking import monitor
    from caldav_bridge.services.actor import system_actor

    rt = runtime_of(args)
    data = monitor.status(rt.uow(), system_actor()).model_dump(mode="json")
    text = f"{data['pending']} pending, {data['sent']} sent, {data['dead']} dead letters; {data['no_shows']} no-shows"
    return emit(data, args.json, text)


def messages_list(args: argparse.Namespace) -> int:
    from caldav_bridge.selfbooking import monitor
    from caldav_bridge.services.actor import system_actor

    if not 1 <= args.limit <= 500:
        raise ValidationFailed([FieldError("--limit", "must be between 1 and 500")])
    rt = runtime_of(args)
    items = monitor.list_messages(rt.uow(), system_actor(), state=args.state, limit=args.limit)
    rows = [i.model_dump(mode="json") for i in items]
    return emit(
        rows, args.json, table(rows, ["id", "kind", "state", "attempts", "created_at", "sent_at", "last_error"])
    )


def messages_deliver(args: argparse.Namespace) -> int:
    from caldav_bridge.selfbooking import jobs

    rt = runtime_of(args)
    total = run_passes(args, lambda: jobs.deliver_messages(rt.settings, rt.uow))
    text = f"{total['attempted']} attempted, {total['sent']} sent, {total['retrying']} to retry, {total['dead']} dead"
    return emit(total, args.json, text)


def messages_remind(args: argparse.Namespace) -> int:
    from caldav_bridge.selfbooking import jobs

    rt = runtime_of(args)
    count = jobs.remind(rt.settings, rt.uow)
    return emit({"queued": count}, args.json, f"{count} reminder(s) queued")


def messages_retry(args: argparse.Namespace) -> int:
    from caldav_bridge.selfbooking import monitor
    from caldav_bridge.services.actor import system_actor

    rt = runtime_of(args)
    info = monitor.retry(rt.uow(), system_actor(), args.message_id)
    return emit(info.model_dump(mode="json"), args.json, f"message {info.id} queued again")


def mark_no_show(args: argparse.Namespace) -> int:
    from caldav_bridge.selfbooking import no_show
    from caldav_bridge.services.actor import system_actor

    rt = runtime_of(args)
    marked = no_show.mark_no_show(rt.uow(), system_actor(), args.appointment_id)
    data = {"appointment_id": marked.appointment_id, "marked_at": marked.marked_at.isoformat()}
    return emit(data, args.json, f"appointment {marked.appointment_id}: no-show")
