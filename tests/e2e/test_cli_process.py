"""The command line: exit codes, one-line errors on stderr, pipes, start-up imports.

Every case of bad input here printed a traceback or was silently accepted before (issue: a CLI that
never crashes). Most cases need no database content, so they run on one SQLite file; the ones that
list, show or cancel appointments run on the demo data. What a command answers is checked in-process
(``tests.support.cli.in_process``: the same ``main``, ~0.7 s of CPU less a call); what only a process shows
(the exit status and stderr a shell sees, pipes, imports, settings, ``serve``) in processes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import CLI, in_process, process
from tests.support.demo import DemoTemplate, copy_data_dir

#: Libraries a command that only parses its arguments must not import (each costs start-up time).
HEAVY = ("flask", "radicale", "sqlalchemy", "waitress", "apscheduler", "simple_salesforce", "icalendar", "pydantic")


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The command as a process."""
    return process(args, env, stdin=stdin)


def here(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command in-process, with ``env``'s settings."""
    return in_process(args, {key: value for key, value in env.items() if key.startswith("APPOINTMENTS_")})


@pytest.fixture(scope="module")
def demo_env(sqlite_demo_template: DemoTemplate, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A data directory holding the demo in its default database (``appointments.db`` in it): copied from the
    conftest's template (seeding it here cost ~10 s of CPU per worker running this module)."""
    data = tmp_path_factory.mktemp("cli-demo") / "data"
    copy_data_dir(sqlite_demo_template, data)
    shutil.copyfile(sqlite_demo_template.database, data / "appointments.db")
    (data / "appointments.db").chmod(0o600)
    env = {**os.environ, "APPOINTMENTS_DATA_DIR": str(data), "APPOINTMENTS_DATABASE_URL": ""}
    env.pop("APPOINTMENTS_PUBLIC_URL", None)
    seeded = here(env, "demo", "--json")
    assert seeded.returncode == 0, seeded.stderr
    assert json.loads(seeded.stdout)["appointments"]["created"] == 0, "the commands open the copy"
    yield env


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("appointment-service: error: "), lines[0]
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["appointments", "list", "--from", "2026-12-01"], ["--from", "time zone"]),
        (["appointments", "list", "--from", "2026-13-01"], ["--from", "month"]),
        (["appointments", "list", "--to", "tomorrow"], ["--to"]),
        (["appointments", "list", "--limit", "0"], ["--limit"]),
        (["appointments", "list", "--limit", "-1"], ["--limit"]),
        (["appointments", "list", "--limit", "501"], ["--limit"]),
        (["appointments", "list", "--status", "BOGUS"], ["--status", "BOOKED"]),
        (["appointments", "list", "--type", "bogus"], ["--type", "FOLLOW_UP"]),
        (["appointments", "list", "--kind", "lunch"], ["--kind", "busy"]),
        (["appointments", "list", "--calendar", "nonexistent"], ["--calendar", "nonexistent"]),
        (["calendars", "create", "X", "--kind", "team", "--timezone", "Mars/Base"], ["--timezone", "Mars/Base"]),
        (["calendars", "create", "", "--kind", "team", "--timezone", "UTC"], ["name"]),
        (["feeds", "issue", "CAL", "--name", ""], ["--name"]),
        (["feeds", "issue", "CAL", "--name", "Google", "--alarm-minutes", "-10"], ["--alarm-minutes"]),
        (["feeds", "issue", "CAL", "--name", "Google", "--privacy", "everything"], ["--privacy", "busy"]),
        (["feeds", "issue", "no-such-calendar", "--name", "Google"], ["not found"]),
        (["users", "add", "zed", "--role", "admin", "--email", "not-an-email"], ["--email", "not-an-email"]),
        (["users", "add", "zed", "--role", "fitter", "--timezone", "Mars/Base"], ["--timezone"]),
        (["tokens", "issue", "dispatcher", "--scope", "root"], ["scopes"]),
        (["tokens", "revoke", "no-such-token"], ["not found"]),
        (["appointments", "show", "no-such-appointment"], ["not found"]),
        (["appointments", "cancel", "no-such-appointment", "--reason", "x"], ["not found"]),
        (["appointments", "cancel", "no-such-appointment", "--reason", ""], ["--reason"]),
        (["export", "canonical", "--status", "BOGUS"], ["--status"]),
        (["export", "canonical", "--from", "2026-12-01"], ["--from"]),
        (["appointments", "lisst"], ["invalid choice"]),
        (["users", "list", "--no-such-option"], ["unrecognized arguments"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(demo_env: dict[str, str], args: list[str], words: list[str]) -> None:
    assert_one_line_error(here(demo_env, *args), 2, *words)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["appointments", "lisst"], ["invalid choice"]),  # the parser's
        (["appointments", "list", "--limit", "0"], ["--limit"]),  # a command's validation
        (["tokens", "revoke", "no-such-token"], ["not found"]),  # the database's answer
    ],
)
def test_bad_input_is_one_line_and_exit_2_for_the_shell(
    demo_env: dict[str, str], args: list[str], words: list[str]
) -> None:
    assert_one_line_error(cli(demo_env, *args), 2, *words)


def test_json_errors_are_one_json_object(demo_env: dict[str, str]) -> None:
    result = cli(demo_env, "appointments", "list", "--status", "BOGUS", "--json")
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    error = json.loads(line)["error"]
    assert error["code"] == 2 and error["errors"][0]["field"] == "--status"
    usage = cli(demo_env, "appointments", "list", "--limit", "many", "--json")
    assert usage.returncode == 2 and json.loads(usage.stderr)["error"]["message"].startswith("argument --limit")
    missing = cli(demo_env, "appointments", "show", "nope", "--json")
    assert missing.returncode == 2 and "not found" in json.loads(missing.stderr)["error"]["message"]


def test_a_database_that_cannot_be_reached_is_exit_3_in_one_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "APPOINTMENTS_DATA_DIR": str(tmp_path),
        "APPOINTMENTS_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2",
    }
    result = cli(env, "users", "list")
    assert_one_line_error(result, 3, "OperationalError", "--verbose")
    verbose = cli(env, "--verbose", "users", "list")
    assert verbose.returncode == 3 and "Traceback" in verbose.stderr  # asked for


def test_piping_into_head_ends_quietly(demo_env: dict[str, str]) -> None:
    # --all --json is far more than a pipe's buffer, so the writer meets the closed pipe
    command = " ".join(CLI) + " appointments list --all --json | head -c 100 > /dev/null; echo ${PIPESTATUS[0]} >&2"
    result = subprocess.run(["bash", "-c", command], env=demo_env, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "141"


def test_lists_say_when_more_rows_exist_and_page_on(demo_env: dict[str, str]) -> None:
    first = here(demo_env, "appointments", "list", "--limit", "5")
    assert first.returncode == 0 and len(first.stdout.strip().splitlines()) == 6  # header and 5 rows
    hint = first.stderr.strip().splitlines()[-1]
    assert "--all" in hint and "--cursor" in hint
    cursor = hint.rsplit(" ", 1)[1]
    page = json.loads(here(demo_env, "appointments", "list", "--limit", "5", "--cursor", cursor, "--json").stdout)
    everything = json.loads(here(demo_env, "appointments", "list", "--all", "--json").stdout)
    assert everything["next_cursor"] is None and len(everything["items"]) > 200  # more than one page of 100
    ids = [a["id"] for a in everything["items"]]
    assert [a["id"] for a in page["items"]] == ids[5:10] and page["next_cursor"]
    assert len(set(ids)) == len(ids)
    last = here(demo_env, "appointments", "list", "--limit", "500")
    assert last.returncode == 0 and "more appointments" not in last.stderr


def test_tokens_list_finds_the_id_to_revoke(demo_env: dict[str, str]) -> None:
    issued = json.loads(here(demo_env, "tokens", "issue", "dispatcher", "--name", "ci-robot", "--json").stdout)
    listed = json.loads(here(demo_env, "tokens", "list", "--user", "dispatcher", "--json").stdout)
    mine = [t for t in listed if t["name"] == "ci-robot"]
    assert [t["id"] for t in mine] == [issued["id"]] and mine[0]["scopes"] == ["read"]
    assert all("token" not in t and issued["token"] not in json.dumps(t) for t in listed)  # never the secret
    assert here(demo_env, "tokens", "revoke", issued["id"]).returncode == 0
    after = json.loads(here(demo_env, "tokens", "list", "--json").stdout)
    assert issued["id"] not in {t["id"] for t in after}
    with_revoked = json.loads(here(demo_env, "tokens", "list", "--revoked", "--json").stdout)
    assert [t["revoked_at"] is not None for t in with_revoked if t["id"] == issued["id"]] == [True]
    assert "ci-robot" not in here(demo_env, "tokens", "list").stdout


def test_appointments_show_and_cancel(demo_env: dict[str, str]) -> None:
    booked = json.loads(here(demo_env, "appointments", "list", "--status", "BOOKED", "--limit", "1", "--json").stdout)
    (appointment,) = booked["items"]
    shown = here(demo_env, "appointments", "show", appointment["id"])
    assert shown.returncode == 0 and appointment["name"] in shown.stdout and "BOOKED" in shown.stdout
    assert json.loads(here(demo_env, "appointments", "show", appointment["id"], "--json").stdout) == appointment
    cancelled = here(demo_env, "appointments", "cancel", appointment["id"], "--reason", "customer called", "--json")
    assert cancelled.returncode == 0 and json.loads(cancelled.stdout)["status"] == "CANCELLED"
    again = here(demo_env, "appointments", "cancel", appointment["id"], "--reason", "twice")
    assert_one_line_error(again, 2, "CANCELLED")
    shown = json.loads(here(demo_env, "appointments", "show", appointment["id"], "--json").stdout)
    assert shown["status"] == "CANCELLED"


def test_feeds_urls_says_what_it_did_to_existing_feeds(demo_env: dict[str, str]) -> None:
    first = here(demo_env, "feeds", "urls", "--consumer", "Salesforce-busy-test")
    assert first.returncode == 0 and "issued" in first.stdout and " busy " in first.stdout  # the default privacy
    again = here(demo_env, "feeds", "urls", "--consumer", "Salesforce-busy-test", "--privacy", "minimal")
    assert again.returncode == 0
    rows = again.stdout.strip().splitlines()[1:]
    assert rows and all(" busy " in r and " kept " in r for r in rows)
    assert "not minimal" in again.stderr and "feeds revoke" in again.stderr  # says what it did and how to change it
    data = json.loads(here(demo_env, "feeds", "urls", "--consumer", "Salesforce-busy-test", "--json").stdout)
    assert {(r["issued"], r["privacy"]) for r in data} == {(False, "busy")}


def test_users_add_with_a_good_email(demo_env: dict[str, str]) -> None:
    added = here(demo_env, "users", "add", "mail.ok", "--role", "admin", "--email", "ops@example.com", "--json")
    assert added.returncode == 0 and json.loads(added.stdout)["email"] == "ops@example.com"


def _imported_by(*args: str) -> set[str]:
    code = (
        "import json, sys\n"
        "from feeds.cli import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ}
    )
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["serve", "--help"],
        ["appointments", "list", "--help"],
        ["import", "--help"],
        ["sync", "status", "--help"],
        ["feeds", "urls", "--help"],
        ["appointments", "list", "--limit", "x"],
    ],
)
def test_help_and_usage_import_no_heavy_library(args: list[str]) -> None:
    modules = _imported_by(*args)
    assert "feeds.cli" in modules
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert loaded == [], loaded


def test_a_database_command_imports_no_web_or_caldav_library(
    demo_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("APPOINTMENTS_DATA_DIR", "APPOINTMENTS_DATABASE_URL"):
        monkeypatch.setenv(key, demo_env[key])
    modules = _imported_by("appointments", "list", "--limit", "1")
    assert "sqlalchemy.orm" in modules  # it did run
    assert not {m.split(".")[0] for m in modules} & {"flask", "radicale", "waitress", "apscheduler", "rich"}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_a_port_another_server_holds_is_one_line_and_exit_2(tmp_path: Path, workers: str) -> None:
    """Found before anything starts (it printed "Serving on" first, then the error; with --workers gunicorn retried
    for five seconds in ten lines of its own log)."""
    env = {**os.environ, "APPOINTMENTS_DATA_DIR": str(tmp_path), "APPOINTMENTS_DATABASE_URL": ""}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        result = cli(env, "serve", "--host", "127.0.0.1", "--port", port, "--workers", workers)
    assert_one_line_error(result, 2, f"127.0.0.1:{port}", "in use", "--port")
    assert result.stdout == ""
