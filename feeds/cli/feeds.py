"""``appointment-service feeds``: issue, list, rotate and revoke feed tokens; fitters' feed URLs for Salesforce."""

from __future__ import annotations

import argparse
from typing import Any

from feeds.cli.bootstrap import runtime_of, validated
from feeds.cli.output import emit, note, table

__all__ = ["register"]

PRIVACY_HELP = "busy (default), minimal or full (Google and Microsoft keep copies of what a feed shows)"


def register(commands: Any) -> None:
    f = commands.add_parser("feeds", help="iCal feed tokens and URLs").add_subparsers(
        dest="feeds_command", required=True, metavar="ACTION"
    )
    p = f.add_parser("issue", help="issue a feed token for a calendar (URLs printed once; only a hash is stored)")
    p.add_argument("calendar_id")
    p.add_argument("--name", required=True, help="the consumer, e.g. Google, Outlook, Salesforce")
    p.add_argument("--privacy", default="busy", help=PRIVACY_HELP)
    p.add_argument("--alarm-minutes", type=int, help="add a reminder this many minutes before each appointment")
    _json(p).set_defaults(handler=issue)
    p = f.add_parser("list", help="list a calendar's feed tokens")
    p.add_argument("calendar_id")
    _json(p).set_defaults(handler=list_tokens)
    p = f.add_parser("rotate", help="replace a token with a new one (the old URL stops working)")
    p.add_argument("token_id")
    _json(p).set_defaults(handler=rotate)
    p = f.add_parser("revoke", help="revoke a token (its URL answers 404)")
    p.add_argument("token_id")
    _json(p).set_defaults(handler=revoke)
    p = f.add_parser(
        "urls",
        help="each fitter's feed URLs for a consumer (default Salesforce): issues a token where there is none",
        description="Each fitter's feed URLs for a consumer. A fitter without a token for it gets one at "
        "--privacy; an existing token is kept as it is (its privacy too) and its URLs cannot be shown again "
        "(only a hash is stored): --rotate replaces it, keeping its privacy; to change the privacy, revoke it "
        "(feeds revoke ID) and run this again.",
    )
    p.add_argument("--consumer", default="Salesforce", help="token name (default Salesforce)")
    p.add_argument("--privacy", default="busy", help="for new tokens: " + PRIVACY_HELP)
    p.add_argument("--rotate", action="store_true", help="also rotate existing tokens, to show their new URLs")
    _json(p).set_defaults(handler=urls)


def _json(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _issued_text(data: dict[str, Any]) -> str:
    lines = [f"feed token {data['token']['id']} ({data['token']['name']}, {data['token']['privacy']}); shown once:"]
    lines += [f"  {k:<7} {v}" for k, v in data["urls"].items()]
    if data.get("warning"):
        lines += ["", "warning: " + data["warning"]]
    return "\n".join(lines)


def issue(args: argparse.Namespace) -> int:
    from caldav_bridge.model.feeds import FeedTokenDraft
    from caldav_bridge.services import feed_tokens
    from caldav_bridge.services.actor import system_actor

    draft = validated(
        FeedTokenDraft,
        {"name": args.name, "privacy": args.privacy, "alarm_minutes": args.alarm_minutes},
        {"name": "--name", "privacy": "--privacy", "alarm_minutes": "--alarm-minutes"},
    )
    rt = runtime_of(args)
    issued = feed_tokens.issue(rt.uow(), system_actor(), args.calendar_id, draft, rt.settings.public_url)
    data = issued.model_dump(mode="json")
    return emit(data, args.json, _issued_text(data))


def list_tokens(args: argparse.Namespace) -> int:
    from caldav_bridge.services import feed_tokens
    from caldav_bridge.services.actor import system_actor

    rows = [
        t.model_dump(mode="json")
        for t in feed_tokens.list_tokens(runtime_of(args).uow(), system_actor(), args.calendar_id)
    ]
    return emit(
        rows,
        args.json,
        table(rows, ["id", "name", "privacy", "alarm_minutes", "created_at", "revoked_at", "last_used_at"]),
    )


def rotate(args: argparse.Namespace) -> int:
    from caldav_bridge.services import feed_tokens
    from caldav_bridge.services.actor import system_actor

    rt = runtime_of(args)
    issued = feed_tokens.rotate(rt.uow(), system_actor(), None, args.token_id, rt.settings.public_url)
    data = issued.model_dump(mode="json")
    return emit(data, args.json, _issued_text(data))


def revoke(args: argparse.Namespace) -> int:
    from caldav_bridge.services import feed_tokens
    from caldav_bridge.services.actor import system_actor

    token = feed_tokens.revoke(runtime_of(args).uow(), system_actor(), None, args.token_id)
    return emit({"id": token.id, "revoked": True}, args.json, f"revoked feed token {token.id} ({token.name})")


def urls(args: argparse.Namespace) -> int:
    from caldav_bridge.model.feeds import FeedTokenDraft
    from caldav_bridge.services import feed_tokens
    from caldav_bridge.services.actor import system_actor

    draft = validated(FeedTokenDraft, {"name": args.consumer, "privacy": args.privacy}, _URL_OPTIONS)
    rt = runtime_of(args)
    results = feed_tokens.fitter_feed_urls(
        rt.uow(),
        system_actor(),
        rt.settings.public_url,
        consumer=draft.name,
        privacy=draft.privacy,
        reissue=args.rotate,
    )
    rows = [r.model_dump(mode="json") for r in results]
    kept = [r for r in rows if not r["issued"]]
    other_level = [r for r in rows if r["privacy"] != draft.privacy.value]
    flat = [
        {
            "username": r["username"],
            "token": r["token_id"],
            "privacy": r["privacy"],
            "done": ("rotated" if args.rotate else "issued") if r["issued"] else "kept",
            "url": (r["urls"] or {}).get("url", "(exists; --rotate to show)"),
        }
        for r in rows
    ]
    if not args.json:
        if kept:
            note(f"{len(kept)} existing {args.consumer} token(s) kept; their URLs are not stored (--rotate: new ones)")
        if other_level:
            note(
                f"{len(other_level)} existing token(s) stay at their own privacy level, not {draft.privacy.value} "
                "(see the PRIVACY column); to change it, `feeds revoke` them and run `feeds urls` again"
            )
    return emit(rows, args.json, table(flat, ["username", "token", "privacy", "done", "url"]))


_URL_OPTIONS = {"name": "--consumer", "privacy": "--privacy"}
