"""``booking-links``: customers' self-booking links (issue, list, revoke)."""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError

from caldav_bridge.errors import ValidationFailed
from caldav_bridge.selfbooking import links
from caldav_bridge.selfbooking.model import LinkDraft
from caldav_bridge.services.actor import system_actor
from caldav_bridge.services.validation import field_errors
from feeds.cli.bootstrap import runtime_of
from feeds.cli.output import emit, table

__all__ = ["register"]


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
    personal = bool(args.opportunity or args.customer)
    try:
        draft = LinkDraft.model_validate(
            {
                "kind": "personal" if personal else "team",
                "team_id": args.team,
                "purpose": args.purpose,
                "name": args.name,
                "expires_at": args.expires,
                "salesforce": {"opportunity_gid": args.opportunity, "customer_gid": args.customer},
            }
        )
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc)) from exc
    rt = runtime_of(args)
    try:
        issued = links.issue(rt.uow(), system_actor(), draft, rt.settings.public_url)
    finally:
        rt.close()
    data = issued.model_dump(mode="json")
    return emit(data, args.json, f"booking link {issued.link.id} ({issued.link.kind}); shown once:\n  {issued.url}")


def list_links(args: argparse.Namespace) -> int:
    rt = runtime_of(args)
    try:
        items = [i.model_dump(mode="json") for i in links.list_links(rt.uow(), system_actor(), team_id=args.team)]
    finally:
        rt.close()
    return emit(items, args.json, table(items, ["id", "kind", "name", "team_id", "bookings", "active", "expires_at"]))


def revoke(args: argparse.Namespace) -> int:
    rt = runtime_of(args)
    try:
        link = links.revoke(rt.uow(), system_actor(), args.link_id)
    finally:
        rt.close()
    return emit(link.model_dump(mode="json"), args.json, f"booking link {link.id} revoked")
