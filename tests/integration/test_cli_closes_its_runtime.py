"""A command's runtime is closed when the command ends, whichever way it ends.

``main`` holds what a command opens (``runtime_of``): the fetch logs it buffers are written, its connections and
its reads' spool file let go. Before, most commands left that to the process's exit, and a command run in a
process that lives on (the tests' ``in_process``, a shell embedding ``main``) kept its spool file locked: the fold
could not take it to its end or delete it.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import in_process
from tests.support.sqlite_files import flock_held


def test_commands_let_their_spool_files_go(tmp_path: Path) -> None:
    env = {"APPOINTMENTS_DATA_DIR": str(tmp_path), "APPOINTMENTS_DATABASE_URL": "", "APPOINTMENTS_LOG_LEVEL": "WARNING"}
    assert in_process(["demo", "--json"], env).returncode == 0
    listed = in_process(["appointments", "list", "--limit", "3", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    failed = in_process(["appointments", "show", "no-such-appointment"], env)  # ends with an error, not a return
    assert failed.returncode == 2, failed.stderr
    spooled = sorted((tmp_path / "appointments.db.reads").glob("reads-*.jsonl"))
    assert spooled, "the list's reads were not spooled"
    assert [path.name for path in spooled if flock_held(path)] == []
