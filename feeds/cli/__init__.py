"""``appointment-service``: serve the service, seed the demo, and administer users, tokens and calendars."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from caldav_bridge.errors import DomainError, ValidationFailed
from config import SettingsError
from feeds.cli import admin, serve
from feeds.cli import booking as booking_commands
from feeds.cli import feeds as feed_commands
from feeds.cli import interchange as interchange_commands
from feeds.cli import scheduling as scheduling_commands
from feeds.cli import sync as sync_commands
from feeds.cli.output import fail

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="appointment-service",
        description="The Appointment Service: fitters', consultants' and tech-setup appointments over REST, "
        "OLS-compatible REST, CalDAV and iCal feeds, with Salesforce sync and scheduling by availability.",
        epilog="Settings come from APPOINTMENTS_* environment variables or a TOML file (--config); "
        "see docs/configuration.md.",
    )
    parser.add_argument("--config", metavar="FILE", help="a TOML settings file (default: $APPOINTMENTS_CONFIG)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve.register(commands)
    admin.register(commands)
    sync_commands.register(commands)
    feed_commands.register(commands)
    interchange_commands.register(commands)
    scheduling_commands.register(commands)
    booking_commands.register(commands)
    booking_commands.register_messages(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
        return result
    except SettingsError as exc:
        return fail(str(exc), code=2)
    except ValidationFailed as exc:
        return fail("; ".join(f"{e.field}: {e.message}" for e in exc.errors), code=2)
    except DomainError as exc:
        return fail(exc.detail, code=1)
    except KeyboardInterrupt:
        return 130
