"""Admin commands: ``db``, ``demo``, ``users``, ``tokens``, ``calendars``, ``appointments``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from caldav_bridge.demo import DemoResult, seed_demo
from caldav_bridge.model.requests import CalendarDraft
from caldav_bridge.model.timestamps import parse_timestamp
from caldav_bridge.runtime import Runtime
from caldav_bridge.selfbooking.demo import demo_link, seed_self_booking
from caldav_bridge.services import appointments, calendars, users
from caldav_bridge.services.actor import ALL_ROLES, system_actor
from caldav_bridge.services.feed_tokens import feed_urls
from caldav_bridge.store.migrate import current_revision, upgrade
from feeds.cli.bootstrap import runtime_of
from feeds.cli.output import emit, table

__all__ = ["demo_summary", "register"]


def register(commands: Any) -> None:
    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    p = db.add_parser("upgrade", help="migrate the database to the newest schema")
    _json(p).set_defaults(handler=db_upgrade)

    p = commands.add_parser(
        "demo", help="seed the demo data (idempotent) and print the demo users, secrets and calendars"
    )
    _json(p).set_defaults(handler=demo)

    u = commands.add_parser("users", help="users and app passwords").add_subparsers(
        dest="users_command", required=True, metavar="ACTION"
    )
    p = u.add_parser("add", help="create a user (fitters, consultants and tech-setup staff get a calendar)")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=ALL_ROLES)
    p.add_argument("--display-name")
    p.add_argument("--email")
    p.add_argument("--timezone", default="UTC", help="IANA zone of the user's calendar (default UTC)")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the app password from stdin instead of generating one"
    )
    _json(p).set_defaults(handler=users_add)
    p = u.add_parser("list", help="list users")
    _json(p).set_defaults(handler=users_list)
    p = u.add_parser("set-password", help="set or generate a user's app password")
    p.add_argument("username")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin instead of generating one"
    )
    _json(p).set_defaults(handler=users_set_password)

    t = commands.add_parser("tokens", help="API tokens").add_subparsers(
        dest="tokens_command", required=True, metavar="ACTION"
    )
    p = t.add_parser("issue", help="issue an API token (printed once; only its hash is stored)")
    p.add_argument("username")
    p.add_argument(
        "--scope", action="append", choices=users.SCOPES, help="read, write or admin (repeatable; default read)"
    )
    p.add_argument("--name", default="api", help="what the token is for, e.g. fitter-cockpit")
    _json(p).set_defaults(handler=tokens_issue)
    p = t.add_parser("revoke", help="revoke an API token by its id")
    p.add_argument("token_id")
    _json(p).set_defaults(handler=tokens_revoke)

    c = commands.add_parser("calendars", help="calendars").add_subparsers(
        dest="calendars_command", required=True, metavar="ACTION"
    )
    p = c.add_parser("create", help="create a calendar")
    p.add_argument("name")
    p.add_argument("--kind", required=True, choices=["fitter", "consultant", "tech_setup_member", "team"])
    p.add_argument("--timezone", required=True, help="IANA zone, e.g. America/Denver")
    p.add_argument("--owner", help="username of the owner")
    p.add_argument("--team", help="id of the team calendar this one belongs to")
    _json(p).set_defaults(handler=calendars_create)
    p = c.add_parser("list", help="list calendars")
    _json(p).set_defaults(handler=calendars_list)

    a = commands.add_parser("appointments", help="appointments").add_subparsers(
        dest="appointments_command", required=True, metavar="ACTION"
    )
    p = a.add_parser("list", help="list appointments")
    p.add_argument("--calendar", help="calendar id")
    p.add_argument("--from", dest="start", help="ISO 8601 time with zone; appointments ending after it")
    p.add_argument("--to", dest="end", help="ISO 8601 time with zone; appointments starting before it")
    p.add_argument("--status")
    p.add_argument("--type")
    p.add_argument("--limit", type=int, default=100)
    _json(p).set_defaults(handler=appointments_list)


def _json(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _password(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    return sys.stdin.readline().rstrip("\n") or None


def db_upgrade(args: argparse.Namespace) -> int:
    rt = runtime_of(args)
    upgrade(rt.engine)
    revision = current_revision(rt.engine)
    return emit(
        {"revision": revision, "database": rt.engine.url.render_as_string(hide_password=True)},
        args.json,
        f"database at revision {revision}",
    )


def run_demo(rt: Runtime) -> DemoResult:
    upgrade(rt.engine)
    result = seed_demo(rt.uow(), rt.settings.data_dir)
    seed_self_booking(rt.uow, rt.settings)  # the consultants' team and its booking link
    return result


def _with_feed_urls(base: str, entry: dict[str, Any]) -> dict[str, Any]:
    """A demo user or team with each calendar's feed URLs in place of its feed secret."""
    calendars = []
    for cal in entry.get("calendars", []):
        cal = dict(cal)
        secret = cal.pop("feed_secret", None)
        if secret:
            cal["feed"] = feed_urls(base, secret).model_dump()
        calendars.append(cal)
    return {**entry, "calendars": calendars}


def demo_summary(rt: Runtime, result: DemoResult) -> dict[str, Any]:
    base = rt.settings.public_url.rstrip("/")
    result = DemoResult(
        [_with_feed_urls(base, u) for u in result.users], result.appointments_created, result.appointments_total
    )
    return {
        "urls": {
            "service": base,
            "api": f"{base}/api/v1",
            "openapi": f"{base}/api/openapi.json",
            "ols": f"{base}{rt.settings.ols_prefix}",
            "health": f"{base}/healthz",
            "caldav": f"{base}/dav/",
        },
        "users": [u for u in result.users if "username" in u],
        "teams": [u for u in result.users if "team" in u],
        "appointments": {"created": result.appointments_created, "total": result.appointments_total},
        "self_booking": {
            "link": demo_link(rt.settings),
            "mail": rt.settings.smtp_host or str(Path(rt.settings.data_dir) / "mail"),
        },
        "warning": "demo secrets are for local use only",
    }


def demo_text(summary: dict[str, Any]) -> str:
    lines = ["Appointment Service demo", ""]
    lines += [f"  {name:<8} {url}" for name, url in summary["urls"].items()]
    lines += [
        "",
        "Demo users (local use only):",
        table(
            [{**u, "calendar": ", ".join(c["name"] for c in u["calendars"])} for u in summary["users"]],
            ["username", "role", "password", "token", "calendar"],
        ),
    ]
    feeds = [
        (c["name"], c["feed"]["https"])
        for u in summary["users"] + summary["teams"]
        for c in u["calendars"]
        if "feed" in c
    ]
    if feeds:
        lines += ["", "iCal feeds (minimal privacy; the calendar page is the same URL under /calendar/ without .ics):"]
        lines += [f"  {name:<28} {url}" for name, url in feeds]
    example = next(u for u in summary["users"] if u["role"] == "dispatcher")
    lines += ["", "Try:", f"  curl -H 'Authorization: Bearer {example['token']}' {summary['urls']['api']}/appointments"]
    fitter = next((u for u in summary["users"] if u["role"] == "fitter"), None)
    if fitter is not None:  # CalDAV clients sign in with the username and the app password above
        lines += [
            f"  CalDAV (Apple Calendar, Thunderbird, DAVx5): {summary['urls']['caldav']}"
            f"  user {fitter['username']}, password {fitter['password']}"
        ]
    appts = summary["appointments"]
    lines += ["", f"{appts['total']} demo appointments ({appts['created']} created now)."]
    booking = summary.get("self_booking")
    if booking:
        lines += [
            "",
            f"Book as a customer: {booking['link']}",
            f"  customer emails go to {booking['mail']} (sent every 15 s; `appointment-service messages list`)",
        ]
    return "\n".join(lines)


def demo(args: argparse.Namespace) -> int:
    rt = runtime_of(args)
    summary = demo_summary(rt, run_demo(rt))
    return emit(summary, args.json, demo_text(summary))


def users_add(args: argparse.Namespace) -> int:
    rt = runtime_of(args)
    info, password = users.add_user(
        rt.uow(),
        args.username,
        args.role,
        display_name=args.display_name,
        email=args.email,
        password=_password(args),
        timezone=args.timezone,
    )
    data = {**asdict(info), "password": password}
    return emit(data, args.json, f"created {info.role} {info.username}; app password: {password}")


def users_list(args: argparse.Namespace) -> int:
    rows = [asdict(u) for u in users.list_users(runtime_of(args).uow())]
    return emit(rows, args.json, table(rows, ["username", "role", "display_name", "email", "active"]))


def users_set_password(args: argparse.Namespace) -> int:
    password = users.set_password(runtime_of(args).uow(), args.username, _password(args))
    return emit(
        {"username": args.username, "password": password},
        args.json,
        f"new app password for {args.username}: {password}",
    )


def tokens_issue(args: argparse.Namespace) -> int:
    issued = users.issue_token(runtime_of(args).uow(), args.username, tuple(args.scope or ["read"]), args.name)
    data = {
        "id": issued.id,
        "name": issued.name,
        "username": issued.username,
        "scopes": list(issued.scopes),
        "token": issued.secret,
    }
    return emit(
        data,
        args.json,
        f"token {issued.id} for {issued.username} ({' '.join(issued.scopes)}); shown once:\n{issued.secret}",
    )


def tokens_revoke(args: argparse.Namespace) -> int:
    users.revoke_token(runtime_of(args).uow(), args.token_id)
    return emit({"id": args.token_id, "revoked": True}, args.json, f"revoked token {args.token_id}")


def calendars_create(args: argparse.Namespace) -> int:
    draft = CalendarDraft.model_validate(
        {
            "name": args.name,
            "kind": args.kind,
            "timezone": args.timezone,
            "owner_username": args.owner,
            "team_id": args.team,
        }
    )
    calendar = calendars.create(runtime_of(args).uow(), system_actor(), draft)
    return emit(calendar.model_dump(mode="json"), args.json, f"created calendar {calendar.id} ({calendar.name})")


def calendars_list(args: argparse.Namespace) -> int:
    rows = [c.model_dump(mode="json") for c in calendars.list_calendars(runtime_of(args).uow(), system_actor())]
    return emit(rows, args.json, table(rows, ["id", "name", "kind", "timezone"]))


def appointments_list(args: argparse.Namespace) -> int:
    filters = appointments.ListFilters(
        calendar_id=args.calendar,
        status=args.status,
        type=args.type,
        start=parse_timestamp(args.start) if args.start else None,
        end=parse_timestamp(args.end) if args.end else None,
    )
    page = appointments.list_appointments(runtime_of(args).uow(), system_actor(), filters, limit=args.limit)
    rows = [s.appointment.model_dump(mode="json") for s in page.items]
    flat = [
        {
            "id": r["id"],
            "start": r["date_start"],
            "status": r["status"],
            "type": r["meta"]["type"],
            "calendar": r["calendar"]["name"],
            "name": r["name"],
        }
        for r in rows
    ]
    return emit(rows, args.json, table(flat, ["start", "status", "type", "calendar", "name", "id"]))
