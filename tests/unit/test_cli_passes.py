"""``messages deliver`` and ``webhooks deliver`` repeat a pass: ``--once``, ``--max-runs``, the counts summed."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from feeds.cli.passes import add_pass_options, run_passes
from tests.support.cli import in_process


@dataclass
class Report:
    attempted: int
    sent: int


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_pass_options(parser, interval=7.0)
    return parser.parse_args(argv)


def test_passes_until_max_runs_with_the_counts_summed() -> None:
    reports = iter([Report(3, 2), Report(1, 1), Report(9, 9)])
    assert run_passes(_args("--max-runs", "2", "--interval", "0.1"), lambda: next(reports)) == {
        "attempted": 4,
        "sent": 3,
        "runs": 2,
    }
    assert next(reports) == Report(9, 9)  # the third pass never ran


def test_once_is_one_pass_and_the_default_interval_is_the_commands() -> None:
    reports = iter([Report(1, 0), Report(5, 5)])
    assert run_passes(_args("--once"), lambda: next(reports)) == {"attempted": 1, "sent": 0, "runs": 1}
    assert next(reports) == Report(5, 5) and _args().interval == 7.0


@pytest.mark.parametrize("command", [["messages", "deliver"], ["webhooks", "deliver"]])
def test_the_commands_pass_once_and_print_their_totals(command: list[str], tmp_path: Path) -> None:
    env = {"APPOINTMENTS_DATA_DIR": str(tmp_path), "APPOINTMENTS_DATABASE_URL": ""}
    assert in_process(["db", "upgrade"], env).returncode == 0
    done = in_process([*command, "--once", "--json"], env)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["runs"] == 1 and printed["attempted"] == 0, printed
    helped = in_process([*command, "--help"], env)
    assert "--max-runs" in helped.stdout and "seconds between passes" in helped.stdout


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--interval", "-5"),
        ("--interval", "0"),
        ("--interval", "inf"),
        ("--interval", "nan"),
        ("--interval", "soon"),
        ("--interval", "100000"),
        ("--max-runs", "-1"),
        ("--max-runs", "2.5"),
    ],
)
def test_a_bad_interval_or_count_is_one_line_and_exit_2(option: str, value: str, tmp_path: Path) -> None:
    env = {"APPOINTMENTS_DATA_DIR": str(tmp_path), "APPOINTMENTS_DATABASE_URL": ""}
    done = in_process(["messages", "deliver", f"{option}={value}"], env)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert option in done.stderr and done.stdout == ""
    assert not (tmp_path / "appointments.db").exists()  # refused before the database was touched
