"""``appointment-service``: serve the service, seed the demo, and administer users, tokens and calendars.

Building the parser imports no database, web or CalDAV library: each command imports what it needs
when it runs, so ``--help`` and every command start fast (tests/e2e/test_cli_process.py checks the
import set). Errors of every command end here and become one line and an exit code (feeds.cli.output).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from caldav_bridge.errors import DomainError, ValidationFailed
from config import SettingsError
from feeds.cli import admin, serve
from feeds.cli import booking as booking_commands
from feeds.cli import feeds as feed_commands
from feeds.cli import interchange as interchange_commands
from feeds.cli import scheduling as scheduling_commands
from feeds.cli import sync as sync_commands
from feeds.cli.output import (
    EXIT_INTERRUPTED,
    EXIT_PIPE_CLOSED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    UsageError,
    error_line,
    fail,
    json_errors,
)

__all__ = ["build_parser", "main"]

#: A database error that says the schema lacks a table or column (SQLite's and PostgreSQL's words): the database
#: was never migrated, or is older than this version.
MISSING_SCHEMA = re.compile(r"no such (table|column)|(relation|column) \S+ does not exist")

#: Loggers whose INFO lines are hidden unless ``--verbose``: libraries (Radicale's configuration dump,
#: waitress, Alembic) and the background jobs' per-tick bookkeeping (a line per job every few seconds; their
#: state is in ``/metrics`` and ``sync status``). Warnings and errors always show.
QUIET_LIBRARIES = (
    "radicale",
    "apscheduler",
    "waitress",
    "alembic",
    "simple_salesforce",
    "urllib3",
    "caldav_bridge.jobs",
    "caldav_bridge.salesforce.runner",
)


class Parser(argparse.ArgumentParser):
    """Usage errors as one line (JSON with ``--json``) and exit 2, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        print(error_line(f"{message} (see `{self.prog} --help`)", EXIT_USAGE), file=sys.stderr, flush=True)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="appointment-service",
        description="The Appointment Service: fitters', consultants' and tech-setup appointments over REST, "
        "OLS-compatible REST, CalDAV and iCal feeds, with Salesforce sync and scheduling by availability.",
        epilog="Settings come from APPOINTMENTS_* environment variables or a TOML file (--config); "
        "see docs/configuration.md. Exit status: 0 done, 1 done but some items failed, 2 bad input or "
        "usage, 3 could not run (see docs/operations.md).",
    )
    parser.add_argument("--config", metavar="FILE", help="a TOML settings file (default: $APPOINTMENTS_CONFIG)")
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="show libraries' log lines and the traceback of an unexpected error",
    )
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


def quiet_libraries(verbose: bool) -> None:
    """Libraries log warnings only, unless ``--verbose`` (our own loggers keep their level)."""
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    json_errors("--json" in argv)
    args = build_parser().parse_args(argv)
    json_errors(bool(getattr(args, "json", False)))
    quiet_libraries(args.verbose)
    try:
        with contextlib.ExitStack() as args.resources:  # what the command opens (runtime_of), closed as it ends
            code: int = args.handler(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _pipe_closed()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # the CLI's one catch-all: every error becomes one line and an exit code
        return _report(exc, args.verbose)


def _report(exc: Exception, verbose: bool) -> int:
    if isinstance(exc, SettingsError):
        return fail(str(exc), EXIT_USAGE)
    if isinstance(exc, UsageError):
        return fail(exc.message, EXIT_USAGE, exc.errors)
    if isinstance(exc, ValidationFailed):
        return fail(exc.detail, EXIT_USAGE, exc.errors)
    if isinstance(exc, DomainError):  # not found, already exists, not allowed: nothing was done
        return fail(exc.detail, EXIT_USAGE)
    if verbose:
        traceback.print_exception(exc)
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    hint = "" if verbose else " (--verbose shows the traceback)"
    if type(exc).__module__.startswith("sqlalchemy") and MISSING_SCHEMA.search(reason):
        hint = "; is the database migrated? run `appointment-service db upgrade`" + hint
    return fail(f"{type(exc).__name__}: {reason}{hint}", EXIT_UNAVAILABLE)


def _pipe_closed() -> int:
    """The reader of standard output went away (``| head``): stop quietly, as ``yes | head`` does."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
    except (OSError, ValueError):
        pass
    return EXIT_PIPE_CLOSED
