"""A command that reads or changes the data needs the database there; the ones that migrate make it.

Before, ``appointments list`` with a mistyped data directory made that directory, an empty database and a key,
then failed with exit 3 ("no such table ...; is the database migrated?").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import in_process


@pytest.mark.parametrize("command", [["appointments", "list"], ["users", "list"], ["sync", "status"]])
def test_a_command_on_a_missing_database_is_one_line_and_makes_nothing(command: list[str], tmp_path: Path) -> None:
    data = tmp_path / "mistyped"
    done = in_process(command, {"APPOINTMENTS_DATA_DIR": str(data), "APPOINTMENTS_DATABASE_URL": ""})
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"no database at {data / 'appointments.db'}" in done.stderr and "db upgrade" in done.stderr
    assert not data.exists()


def test_db_upgrade_makes_it_and_then_the_command_runs(tmp_path: Path) -> None:
    env = {"APPOINTMENTS_DATA_DIR": str(tmp_path / "data"), "APPOINTMENTS_DATABASE_URL": ""}
    assert in_process(["db", "upgrade"], env).returncode == 0
    listed = in_process(["users", "list", "--json"], env)
    assert (listed.returncode, listed.stdout.strip()) == (0, "[]"), listed.stderr
