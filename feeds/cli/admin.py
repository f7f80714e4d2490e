"""Admin commands: ``db``, ``demo``, ``users``, ``tokens``, ``calendars``, ``appointments``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

from caldav_bridge.services.actor import ALL_ROLES
from feeds.cli.bootstrap import at_options, runtime_of, validated
from feeds.cli.demo import demo_summary, demo_text, run_demo
from feeds.cli.output import emit, note, table

__all__ = ["register"]

#: ``appointments list`` options by the field of the query model (the REST API's) they fill.
LIST_OPTIONS = {
    "calendar_id": "--calendar",
    "from": "--from",
    "to": "--to",
    "status": "--status",
    "type": "--type",
    "kind": "--kind",
    "limit": "--limit",
    "cursor": "--cursor",
}
DEFAULT_LIMIT = 100


def register(commands: Any) -> None:
    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    p = db.add_parser("upgrade", help="migrate the database to the newest schema")
    _json(p).set_defaults(handler=db_upgrade, creates_database=True)

    p = commands.add_parser(
        "demo", help="seed the demo data (idempotent) and print the demo users, secrets and calendars"
    )
    _json(p).set_defaults(handler=demo, creates_database=True)
    _register_users(commands)
    _register_tokens(commands)
    _register_calendars(commands)
    _register_appointments(commands)


def _register_users(commands: Any) -> None:
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


def _register_tokens(commands: Any) -> None:
    t = commands.add_parser("tokens", help="API tokens").add_subparsers(
        dest="tokens_command", required=True, metavar="ACTION"
    )
    p = t.add_parser("issue", help="issue an API token (printed once; only its hash is stored)")
    p.add_argument("username")
    p.add_argument("--scope", action="append", help="read, write or admin (repeatable; default read)")
    p.add_argument("--name", default="api", help="what the token is for, e.g. fitter-cockpit")
    _json(p).set_defaults(handler=tokens_issue)
    p = t.add_parser("list", help="list API tokens (ids, names, scopes, last use; never the secrets)")
    p.add_argument("--user", metavar="USERNAME", help="only this user's tokens")
    p.add_argument("--revoked", action="store_true", help="include revoked tokens")
    _json(p).set_defaults(handler=tokens_list)
    p = t.add_parser("revoke", help="revoke an API token by its id (see tokens list)")
    p.add_argument("token_id")
    _json(p).set_defaults(handler=tokens_revoke)


def _register_calendars(commands: Any) -> None:
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


def _register_appointments(commands: Any) -> None:
    a = commands.add_parser("appointments", help="appointments").add_subparsers(
        dest="appointments_command", required=True, metavar="ACTION"
    )
    p = a.add_parser(
        "list",
        help="list appointments",
        description="Appointments in start order, checked like the REST API's GET /api/v1/appointments. "
        "When more match than --limit, the last line on standard error says so and gives the --cursor "
        "for the next page (with --json: next_cursor).",
    )
    p.add_argument("--calendar", help="calendar id")
    p.add_argument("--from", dest="start", help="ISO 8601 time with zone; appointments ending after it")
    p.add_argument("--to", dest="end", help="ISO 8601 time with zone; appointments starting before it")
    p.add_argument("--status", help="INITIAL, RESERVED, BOOKED, CANCELLED or RESCHEDULED")
    p.add_argument("--type", help="INITIAL, FOLLOW_UP or TECH_SETUP")
    p.add_argument("--kind", help="appointment (default: customer appointments), busy (busy blocks) or all")
    p.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help=f"1-500 (default {DEFAULT_LIMIT})")
    p.add_argument("--cursor", help="continue after the page that printed it")
    p.add_argument("--all", action="store_true", help="every matching appointment (page after page)")
    _json(p).set_defaults(handler=appointments_list)
    p = a.add_parser("show", help="one appointment, in full")
    p.add_argument("appointment_id")
    _json(p).set_defaults(handler=appointments_show)
    p = a.add_parser("cancel", help="cancel an appointment (its status becomes CANCELLED)")
    p.add_argument("appointment_id")
    p.add_argument("--reason", required=True, help="why (kept in the status history)")
    _json(p).set_defaults(handler=appointments_cancel)


def _json(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="print JSON (errors too, on standard error)")
    return parser


def _password(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    return sys.stdin.readline().rstrip("\n") or None


def db_upgrade(args: argparse.Namespace) -> int:
    from caldav_bridge.store.migrate import current_revision, upgrade

    rt = runtime_of(args)
    upgrade(rt.engine)
    revision = current_revision(rt.engine)
    return emit(
        {"revision": revision, "database": rt.engine.url.render_as_string(hide_password=True)},
        args.json,
        f"database at revision {revision}",
    )


def demo(args: argparse.Namespace) -> int:
    rt = runtime_of(args)
    summary = demo_summary(rt, run_demo(rt))
    return emit(summary, args.json, demo_text(summary))


def users_add(args: argparse.Namespace) -> int:
    from caldav_bridge.services import users

    with at_options({"email": "--email", "timezone": "--timezone", "role": "--role"}):
        info, password = users.add_user(
            runtime_of(args).uow(),
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
    from caldav_bridge.services import users

    rows = [asdict(u) for u in users.list_users(runtime_of(args).uow())]
    return emit(rows, args.json, table(rows, ["username", "role", "display_name", "email", "active"]))


def users_set_password(args: argparse.Namespace) -> int:
    from caldav_bridge.services import users

    password = users.set_password(runtime_of(args).uow(), args.username, _password(args))
    return emit(
        {"username": args.username, "password": password},
        args.json,
        f"new app password for {args.username}: {password}",
    )


def tokens_issue(args: argparse.Namespace) -> int:
    from caldav_bridge.services import users

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


def tokens_list(args: argparse.Namespace) -> int:
    from caldav_bridge.model.timestamps import format_timestamp
    from caldav_bridge.services import users

    rows = []
    for token in users.list_tokens(runtime_of(args).uow(), args.user):
        if token.revoked_at is not None and not args.revoked:
            continue
        row = {**asdict(token), "scopes": list(token.scopes)}
        rows.append(row | {k: format_timestamp(row[k]) if row[k] else None for k in _TOKEN_TIMES})
    text_rows = [{**r, "scopes": " ".join(r["scopes"])} for r in rows]
    columns = ["id", "username", "name", "scopes", "created_at", "last_used_at"]
    return emit(rows, args.json, table(text_rows, columns + (["revoked_at"] if args.revoked else [])))


_TOKEN_TIMES = ("created_at", "last_used_at", "revoked_at")


def tokens_revoke(args: argparse.Namespace) -> int:
    from caldav_bridge.services import users

    users.revoke_token(runtime_of(args).uow(), args.token_id)
    return emit({"id": args.token_id, "revoked": True}, args.json, f"revoked token {args.token_id}")


def calendars_create(args: argparse.Namespace) -> int:
    from caldav_bridge.model.requests import CalendarDraft
    from caldav_bridge.services import calendars
    from caldav_bridge.services.actor import system_actor

    draft = validated(
        CalendarDraft,
        {
            "name": args.name,
            "kind": args.kind,
            "timezone": args.timezone,
            "owner_username": args.owner,
            "team_id": args.team,
        },
        {"owner_username": "--owner", "team_id": "--team", "timezone": "--timezone", "kind": "--kind"},
    )
    calendar = calendars.create(runtime_of(args).uow(), system_actor(), draft)
    return emit(calendar.model_dump(mode="json"), args.json, f"created calendar {calendar.id} ({calendar.name})")


def calendars_list(args: argparse.Namespace) -> int:
    from caldav_bridge.services import calendars
    from caldav_bridge.services.actor import system_actor

    rows = [c.model_dump(mode="json") for c in calendars.list_calendars(runtime_of(args).uow(), system_actor())]
    return emit(rows, args.json, table(rows, ["id", "name", "kind", "timezone"]))


def appointments_list(args: argparse.Namespace) -> int:
    from caldav_bridge.model.queries import MAX_PAGE_SIZE, AppointmentListQuery
    from caldav_bridge.services import appointments
    from caldav_bridge.services.actor import system_actor

    query = validated(
        AppointmentListQuery,
        {
            "calendar_id": args.calendar,
            "type": args.type,
            "status": args.status,
            "kind": args.kind or "appointment",
            "from": args.start,
            "to": args.end,
            "limit": MAX_PAGE_SIZE if args.all else args.limit,
            "cursor": args.cursor,
        },
        LIST_OPTIONS,
    )
    uow_of = runtime_of(args).uow
    rows: list[dict[str, Any]] = []
    cursor = query.cursor
    while True:
        with at_options(LIST_OPTIONS):
            page = appointments.list_appointments(
                uow_of(), system_actor(), query, limit=query.limit or DEFAULT_LIMIT, cursor=cursor
            )
        rows += [s.appointment.model_dump(mode="json") for s in page.items]
        cursor = page.next_cursor
        if cursor is None or not args.all:
            break
    code = emit({"items": rows, "next_cursor": cursor}, args.json, table([_flat(r) for r in rows], _LIST_COLUMNS))
    if cursor and not args.json:
        sys.stdout.flush()
        note(f"more appointments match: --limit (up to {MAX_PAGE_SIZE}), --all, or --cursor {cursor}")
    return code


_LIST_COLUMNS = ["start", "status", "type", "calendar", "name", "id"]


def _flat(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "start": r["date_start"],
        "status": r["status"],
        "type": r["meta"]["type"],
        "calendar": r["calendar"]["name"],
        "name": r["name"],
    }


def appointments_show(args: argparse.Namespace) -> int:
    from caldav_bridge.services import appointments
    from caldav_bridge.services.actor import system_actor

    stored = appointments.get(runtime_of(args).uow(), system_actor(), args.appointment_id)
    data = stored.appointment.model_dump(mode="json")
    return emit(data, args.json, _appointment_text(data))


def _appointment_text(r: dict[str, Any]) -> str:
    guests = ", ".join(g.get("name") or g.get("id") or "?" for g in r.get("guests") or []) or "-"
    fields = [
        ("id", r["id"]),
        ("name", r["name"]),
        ("status", r["status"]),
        ("type", r["meta"]["type"]),
        ("start", r["date_start"]),
        ("end", r["date_end"]),
        ("calendar", f"{r['calendar']['name']} ({r['calendar']['id']})"),
        ("guests", guests),
        ("location", r.get("location") or "-"),
    ]
    return "\n".join(f"{k + ':':<10} {v}" for k, v in fields)


def appointments_cancel(args: argparse.Namespace) -> int:
    from caldav_bridge.model.requests import CancelRequest
    from caldav_bridge.services import appointments
    from caldav_bridge.services.actor import system_actor

    request = validated(CancelRequest, {"reason": args.reason}, {"reason": "--reason"})
    stored = appointments.cancel(runtime_of(args).uow(), system_actor(), args.appointment_id, request)
    data = stored.appointment.model_dump(mode="json")
    return emit(data, args.json, f"cancelled {data['id']} ({data['name']}, {data['date_start']})")
