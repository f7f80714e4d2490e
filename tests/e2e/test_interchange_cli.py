"""``appointment-service import`` and ``export`` as a user runs them, on SQLite and PostgreSQL: what they do
in-process (``tests.support.cli``), ``--help`` and the progress bar on a terminal as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from caldav_bridge.converters import BlueprintOptions
from caldav_bridge.model.requests import CalendarDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import calendars, interchange, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.tables import AppointmentRow, ExternalRefRow, OutboxRow
from config import Settings
from tests.converters.support import CALENDLY_EVENT_TYPE, fixture_text, load_fixture
from tests.support.cli import CLI, in_process

SECRET = "C1JG2I4HWF"


def run(
    settings: Settings, *args: str, stdin: str | None = None, expect: int | None = 0
) -> subprocess.CompletedProcess[str]:
    """The command in-process on ``settings``' database; its exit status must be ``expect`` (None: any)."""
    env = {
        "APPOINTMENTS_DATABASE_URL": settings.resolved_database_url(),
        "APPOINTMENTS_DATA_DIR": settings.data_dir,
        "APPOINTMENTS_CALENDLY_EVENT_TYPES": f"{CALENDLY_EVENT_TYPE}=INITIAL",
    }
    result = in_process(args, env, stdin=stdin)
    assert expect is None or result.returncode == expect, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture
def darth(runtime: Runtime) -> str:
    """The calendar of the Blueprint sample's provider, "Darth Vader" (found by display name)."""
    users.add_user(runtime.uow(), "darth", "fitter", display_name="Darth Vader")
    with runtime.uow() as uow:
        user = uow.users.by_username("darth")
        assert user is not None
        return uow.calendars.ids_owned_by(user.id)[0]


def _count(rt: Runtime, table: type) -> int:
    with rt.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(table)) or 0)


def _blueprints(n: int, prefix: str = "b") -> list[dict[str, Any]]:
    sample = load_fixture("blueprint.json")
    return [{**sample, "appointment_id": f"{prefix}{i}", "patient_id": 100 + i} for i in range(n)]


def test_import_a_json_array_file_then_again(settings: Settings, runtime: Runtime, darth: str, tmp_path: Path) -> None:
    items: list[Any] = [*_blueprints(3), {**_blueprints(1)[0], "appointment_id": "bad", "status": 6}]
    path = tmp_path / "blueprint.json"
    path.write_text(json.dumps(items))
    first = run(settings, "import", "blueprint", str(path), "--progress-every", "0", expect=1)
    assert "item 3 (bad): error: status: " in first.stdout
    assert "blueprint: 4 items: 3 created, 0 updated, 0 unchanged, 1 failed" in first.stdout
    assert "import blueprint:" in first.stderr and "items/s" in first.stderr  # progress lines (not a terminal)
    assert _count(runtime, AppointmentRow) == 3 and _count(runtime, OutboxRow) == 3

    again = run(settings, "import", "blueprint", str(path), "--json", expect=1)
    data = json.loads(again.stdout)
    assert [r["status"] for r in data["results"]] == ["unchanged", "unchanged", "unchanged", "error"]
    assert data["results"][3]["errors"][0]["field"] == "status"
    assert data["summary"]["unchanged"] == 3 and data["summary"]["error"] == 1
    assert _count(runtime, AppointmentRow) == 3 and _count(runtime, ExternalRefRow) == 3

    # The brief's sample itself, pretty-printed: one object.
    single = run(
        settings, "import", "blueprint", str(Path(__file__).parent.parent / "converters/fixtures/blueprint.json")
    )
    assert "1 items: 1 created" in single.stdout
    assert SECRET not in single.stdout + single.stderr + first.stdout + first.stderr + again.stdout


def test_import_json_lines_from_stdin_dry_run_and_atomic(settings: Settings, runtime: Runtime, darth: str) -> None:
    lines = [json.dumps(item) for item in _blueprints(3, "line")]
    stdin = "\n".join([lines[0], "", lines[1], "{not json", lines[2]]) + "\n"
    dry = run(settings, "import", "blueprint", "-", "--dry-run", "--json", stdin=stdin, expect=1)
    data = json.loads(dry.stdout)
    assert [r["status"] for r in data["results"]] == ["created", "created", "error", "created"]
    assert data["results"][2]["errors"][0]["field"] == "(item)"
    assert "line 4" in data["results"][2]["errors"][0]["message"]
    assert data["summary"]["dry_run"] is True
    assert _count(runtime, AppointmentRow) == 0

    atomic = run(settings, "import", "blueprint", "-", "--atomic", stdin=stdin, expect=1)
    assert "3 skipped (atomic: nothing was written)" in atomic.stdout
    assert _count(runtime, AppointmentRow) == 0

    good = "\n".join(lines) + "\n"
    done = run(settings, "import", "blueprint", "-", stdin=good)
    assert "3 items: 3 created" in done.stdout
    assert _count(runtime, AppointmentRow) == 3


def test_export_to_a_file_and_import_it_back(settings: Settings, runtime: Runtime, darth: str, tmp_path: Path) -> None:
    initial = {**_blueprints(1, "initial")[0], "status": 1}  # INITIAL: Calendly has no such state
    report = interchange.import_batch(
        runtime.uow(), system_actor(), "blueprint", [*_blueprints(3), initial], options=BlueprintOptions()
    )
    assert report.summary.created == 4
    out = tmp_path / "out.json"
    exported = run(settings, "export", "blueprint", "--output", str(out), "--calendar", darth, "--json")
    assert json.loads(exported.stderr.strip().splitlines()[-1]) == {"format": "blueprint", "exported": 4, "failed": 0}
    text = out.read_text()
    assert sorted(i["appointment_id"] for i in json.loads(text)) == ["b0", "b1", "b2", "initial0"]
    assert SECRET not in text
    back = run(settings, "import", "blueprint", str(out), "--json")
    assert [r["status"] for r in json.loads(back.stdout)["results"]] == ["unchanged"] * 4

    # Calendly has no INITIAL: that appointment is reported, the rest exported, the exit status is 1.
    calendly = run(settings, "export", "calendly", "--jsonl", expect=1)
    lines = calendly.stdout.splitlines()
    assert len(lines) == 3 and all(json.loads(line)["status"] == "active" for line in lines)
    assert "cannot be written as calendly: status:" in calendly.stderr


def test_command_errors_exit_2(settings: Settings, runtime: Runtime, tmp_path: Path) -> None:
    def call(*args: str, stdin: str = "") -> tuple[int, str, str]:
        done = run(settings, *args, stdin=stdin, expect=None)
        return done.returncode, done.stdout, done.stderr

    code, _, err = call("import", "ical2", "-", stdin="[]")
    assert code == 2 and "known formats: blueprint, calendly, canonical, ical, ols, onsched, salesforce, timekit" in err
    assert call("export", "ical2")[0] == 2
    code, _, err = call("import", "blueprint", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read" in err
    code, _, err = call("import", "blueprint", "-", stdin="hello")
    assert code == 2 and "not JSON" in err
    code, _, err = call("import", "blueprint", "-", stdin='[{"appointment_id": 1}, {"a": ')
    assert code == 2 and "malformed JSON after item 1" in err
    code, _, err = call("import", "blueprint", "-", "--calendar", "nope", stdin="[]")
    assert code == 2 and "calendar_id" in err
    code, _, err = call("export", "blueprint", "--from", "yesterday")
    assert code == 2 and "--from" in err
    code, out, _ = call("import", "calendly", "-", stdin="")
    assert code == 0 and "0 items" in out


def test_a_file_refused_part_way_says_in_one_line_what_was_written(
    settings: Settings, runtime: Runtime, darth: str
) -> None:
    """Bad JSON after three good items, two items a chunk: the first chunk is imported, the item read since is not,
    and the one line on standard error says so (it used to say "the items before it were processed", be followed
    by a progress line, and show the parser's message as a bytes literal)."""
    good = ", ".join(json.dumps(item) for item in _blueprints(3))
    stdin = "[" + good + ', {"appointment_id": "\xff'
    done = run(settings, "import", "blueprint", "-", "--chunk-size", "2", stdin=stdin, expect=2)
    [line] = done.stderr.splitlines()
    assert line.startswith("appointment-service: error: -: malformed JSON after item 3: "), line
    assert line.endswith("; the first 2 items were imported (reported above), none from item 2 on"), line
    assert "b'" not in line and "\\n" not in line, line
    assert _count(runtime, AppointmentRow) == 2
    for flag in ("--atomic", "--dry-run"):
        again = run(settings, "import", "blueprint", "-", flag, stdin=stdin.replace('"b', '"c'), expect=2)
        [line] = again.stderr.splitlines()
        assert line.endswith("; nothing was written"), (flag, line)
    assert _count(runtime, AppointmentRow) == 2


def _canonical(n: int, meta: dict[str, Any]) -> str:
    """A canonical item (JSON text) with its own id and ``meta`` added, kept as written: NaN stays ``NaN``."""
    sample = load_fixture("canonical_booked.json")
    text = json.dumps({**sample, "id": str(uuid.UUID(int=n + 1)), "meta": {**sample["meta"], "placeholder": 0}})
    extra = ", ".join(f'"{key}": {value}' for key, value in meta.items())
    return text.replace('"placeholder": 0', extra or '"placeholder": 0')


def test_numbers_json_cannot_hold_are_refused_per_item_naming_the_field(
    settings: Settings, runtime: Runtime, darth: str, tmp_path: Path
) -> None:
    """``NaN``, ``Infinity`` and ``1e400`` (which Python's reader makes infinite) in an item: that item is refused,
    naming the field, and nothing of it is written. Failed before: they were stored as null (pydantic's JSON mode)."""
    lines = [
        _canonical(0, {"score": "NaN"}),
        _canonical(1, {"nested": '{"ratio": [1, Infinity]}'}),
        _canonical(2, {"big": "1e400"}),
        _canonical(3, {"score": "0.5"}),
        json.dumps({**_blueprints(1, "bp")[0]}).replace('"location_id": ', '"location_id": -Infinity, "x": '),
    ]
    assert '"location_id": -Infinity' in lines[4]
    stdin = "\n".join(lines[:4])
    result = run(settings, "import", "canonical", "-", "--calendar", darth, "--json", stdin=stdin, expect=1)
    data = json.loads(result.stdout)
    assert [r["status"] for r in data["results"]] == ["error", "error", "error", "created"]
    assert [[e["field"] for e in r["errors"]] for r in data["results"][:3]] == [
        ["meta.score"],
        ["meta.nested.ratio.1"],
        ["meta.big"],
    ]
    assert "NaN is not a number" in data["results"][0]["errors"][0]["message"]
    assert "out of range" in data["results"][2]["errors"][0]["message"]
    with runtime.uow() as uow:
        ids = set(uow.session.scalars(select(AppointmentRow.id)))
        stored = uow.session.get(AppointmentRow, str(uuid.UUID(int=4)))
        assert stored is not None and (stored.meta_extra or {}).get("score") == 0.5
    assert ids == {str(uuid.UUID(int=4))}

    # the report's line for a refused item, and a pretty-printed object (one item) refused the same way
    path = tmp_path / "one.json"
    path.write_text(json.dumps(json.loads(lines[3]), indent=2).replace('"score": 0.5', '"score": NaN'))
    one = run(settings, "import", "canonical", str(path), "--calendar", darth, expect=1)
    assert "item 0 (00000000-0000-0000-0000-000000000004): error: meta.score: NaN is not a number" in one.stdout
    with runtime.uow() as uow:
        stored = uow.session.get(AppointmentRow, str(uuid.UUID(int=4)))
        assert stored is not None and (stored.meta_extra or {}).get("score") == 0.5  # not changed to null

    # other formats: a Blueprint field kept in meta.blueprint
    bp = run(settings, "import", "blueprint", "-", "--json", stdin=lines[4], expect=1)
    (item,) = json.loads(bp.stdout)["results"]
    assert item["status"] == "error" and [e["field"] for e in item["errors"]] == ["location_id"]
    assert item["source_id"] == "bp0"

    # an array is read by a strict parser: the file is refused (exit 2, one line), nothing of it written
    array = tmp_path / "array.json"
    array.write_text("[" + lines[0] + "]")
    refused = run(settings, "import", "canonical", str(array), "--calendar", darth, expect=2)
    assert "malformed JSON after item 0" in refused.stderr
    assert _count(runtime, AppointmentRow) == 1


def test_help_names_the_commands() -> None:
    result = subprocess.run([*CLI, "import", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--dry-run" in result.stdout and "JSON Lines" in result.stdout
    assert "blueprint" in result.stdout


def test_the_calendly_sample_via_the_configured_table(settings: Settings, runtime: Runtime, darth: str) -> None:
    text = fixture_text("calendly_event.json")
    result = run(settings, "import", "calendly", "-", "--calendar", darth, "--json", stdin=text)
    (item,) = json.loads(result.stdout)["results"]
    assert item["status"] == "created"
    with runtime.uow() as uow:
        row = uow.session.get(AppointmentRow, item["id"])
        assert row is not None and row.type == "INITIAL" and row.calendar_id == darth


ICS_FILE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Old//EN\r\n"
    "BEGIN:VEVENT\r\nUID:old-1\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261201T160000Z\r\n"
    "DTEND:20261201T170000Z\r\nSUMMARY:Fitting\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:old-2\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261202T160000Z\r\n"
    "DTEND:20261202T150000Z\r\nSUMMARY:Backwards\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


def test_a_whole_ics_file_imports_and_a_calendar_exports_as_ics(
    settings: Settings, runtime: Runtime, darth: str, tmp_path: Path
) -> None:
    path = tmp_path / "old.ics"
    path.write_text(ICS_FILE)
    result = run(settings, "import", "ical", str(path), "--calendar", darth, expect=1)  # one bad event
    assert "ical: 2 items: 1 created" in result.stdout
    assert "(old-2): error: dtend: must be after the start" in result.stdout
    wrong = run(settings, "import", "blueprint", str(path), "--calendar", darth, expect=2)
    assert "import it with the ical format" in wrong.stderr
    out = tmp_path / "cal.ics"
    run(settings, "export", "ical", "--calendar", darth, "--ics", "--output", str(out))
    text = out.read_text()
    assert text.startswith("BEGIN:VCALENDAR") and text.count("BEGIN:VEVENT") == 1 and "SUMMARY:Fitting" in text
    assert "--ics: needs" in run(settings, "export", "ical", "--ics", expect=2).stderr


FLOATING_ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Old//EN\r\n"
    "BEGIN:VEVENT\r\nUID:float-1\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20270714T090000\r\n"
    "DTEND:20270714T100000\r\nSUMMARY:Floating\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:day-1\r\nDTSTAMP:20261101T000000Z\r\nDTSTART;VALUE=DATE:20270715\r\n"
    "SUMMARY:All day\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:mixed-1\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20270716T090000\r\n"
    "DTEND:20270716T140000Z\r\nSUMMARY:Ends before it starts in Denver\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


def test_an_ics_files_floating_times_and_dates_are_read_in_the_calendars_zone(
    settings: Settings, runtime: Runtime, tmp_path: Path
) -> None:
    """Floating times and all-day dates mean the wall time in the zone of the calendar they land on, as a CalDAV
    PUT there reads them (``tests/caldav/test_ical_import_reads_like_caldav.py`` compares the two over HTTP).
    Failed before: read as UTC (09:00 floating landed at 03:00 in Denver)."""
    denver = calendars.create(
        runtime.uow(), system_actor(), CalendarDraft(name="Denver", kind="team", timezone="America/Denver")
    )
    path = tmp_path / "old.ics"
    path.write_text(FLOATING_ICS)
    result = run(settings, "import", "ical", str(path), "--calendar", denver.id, "--json", expect=1)
    results = json.loads(result.stdout)["results"]
    assert [r["status"] for r in results] == ["created", "created", "error"]
    assert results[2]["errors"] == [{"field": "dtend", "message": "date_end must be after date_start"}]
    with runtime.uow() as uow:
        rows = {r.name: r for r in uow.session.scalars(select(AppointmentRow))}
        assert (rows["Floating"].date_start, rows["Floating"].date_end) == (
            datetime(2027, 7, 14, 15, tzinfo=UTC),  # 09:00 in Denver (MDT)
            datetime(2027, 7, 14, 16, tzinfo=UTC),
        )
        day = rows["All day"]
        midnights = (datetime(2027, 7, 15, 6, tzinfo=UTC), datetime(2027, 7, 16, 6, tzinfo=UTC))  # in Denver
        assert (day.date_start, day.date_end) == midnights
        assert (day.meta_extra or {}).get("all_day") is True
        assert "Ends before it starts in Denver" not in rows
    again = run(settings, "import", "ical", str(path), expect=1)  # no --calendar: each where it is, unchanged
    assert "2 unchanged, 1 failed" in again.stdout


def test_import_on_a_terminal_counts_items_and_keeps_errors_out_of_the_bar(
    settings: Settings, runtime: Runtime, darth: str, tmp_path: Path
) -> None:
    import pty
    import re
    import select

    items: list[Any] = [*_blueprints(40), {**_blueprints(1)[0], "appointment_id": "bad", "status": 6}]
    items += _blueprints(5, prefix="c")
    path = tmp_path / "blueprint.json"
    path.write_text(json.dumps(items))
    env = {
        **os.environ,
        "APPOINTMENTS_DATABASE_URL": settings.resolved_database_url(),
        "APPOINTMENTS_DATA_DIR": settings.data_dir,
        "COLUMNS": "120",
        "TERM": "xterm",
    }
    controller, terminal = pty.openpty()  # standard output and error both a terminal, as for a person
    process = subprocess.Popen(
        [*CLI, "import", "blueprint", str(path), "--chunk-size", "10"], env=env, stdout=terminal, stderr=terminal
    )
    os.close(terminal)
    output = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the process closed its end
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=60) == 1  # one item failed
    os.close(controller)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode("utf-8", "replace"))
    lines = [part for line in text.replace("\r\n", "\n").split("\n") for part in line.split("\r")]
    error = [line for line in lines if "error: status: " in line]
    assert error and all(line.startswith("item 40 (bad): error: status: ") for line in error), error
    assert any(re.search(r"\b46/\?", line) and "1 failed" in line for line in lines), lines[-5:]  # items, not bytes
    assert "Traceback" not in text
