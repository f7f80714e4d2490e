"""The CLI's tables and output files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from feeds.cli.output import UsageError, output_file, table
from tests.support.cli import in_process


def test_a_table_shows_zero_and_false_and_leaves_only_missing_values_blank() -> None:
    rows = [{"id": "a", "bookings": 0, "active": False, "note": None}, {"id": "b", "bookings": 3, "active": True}]
    lines = table(rows, ["id", "bookings", "active", "note"]).splitlines()
    assert lines[0].split() == ["ID", "BOOKINGS", "ACTIVE", "NOTE"]
    assert lines[1].split() == ["a", "0", "False"]
    assert lines[2].split() == ["b", "3", "True"]
    assert table([], ["id"]) == "(none)"


def test_an_output_file_is_written_whole_and_private(tmp_path: Path) -> None:
    target = tmp_path / "export.json"
    target.write_text("the export of yesterday")
    with pytest.raises(RuntimeError), output_file(str(target)) as out:
        out.write("half of it")
        raise RuntimeError("the export failed half-way")
    assert target.read_text() == "the export of yesterday"  # a failure leaves it as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json"]  # and no draft beside it
    with output_file(str(target)) as out:
        out.write("all of it")
    assert target.read_text() == "all of it" and stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.parametrize("where", ["missing/dir/x.json", "."])
def test_an_output_file_that_cannot_be_written_is_a_usage_error(where: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot write"), output_file(str(tmp_path / where)):
        pass


def test_export_to_a_place_that_cannot_be_written_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {"APPOINTMENTS_DATA_DIR": str(tmp_path), "APPOINTMENTS_DATABASE_URL": ""}
    assert in_process(["db", "upgrade"], env).returncode == 0
    for where in (str(tmp_path / "missing" / "x.json"), str(tmp_path)):
        done = in_process(["export", "canonical", "-o", where], env)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "cannot write" in done.stderr
    written = in_process(["export", "canonical", "-o", str(tmp_path / "all.json")], env)
    assert written.returncode == 0, written.stderr
    assert json.loads((tmp_path / "all.json").read_text()) == []


def test_a_blank_cancel_reason_is_refused(tmp_path: Path) -> None:
    env = {"APPOINTMENTS_DATA_DIR": str(tmp_path), "APPOINTMENTS_DATABASE_URL": ""}
    assert in_process(["db", "upgrade"], env).returncode == 0
    done = in_process(["appointments", "cancel", "some-id", "--reason", "   "], env)
    assert done.returncode == 2 and "--reason" in done.stderr, done.stderr
