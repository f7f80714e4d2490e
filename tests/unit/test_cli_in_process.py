"""``tests.support.cli.in_process`` leaves the test's process as it found it: loggers, environment, streams."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from feeds.cli import QUIET_LIBRARIES
from tests.support.cli import in_process


def test_a_command_in_process_leaves_loggers_environment_and_streams_as_they_were(tmp_path: Path) -> None:
    levels = {name: logging.getLogger(name).level for name in QUIET_LIBRARIES}
    assert logging.NOTSET in levels.values()  # main would set these to WARNING
    streams = (sys.stdin, sys.stdout, sys.stderr)
    env = {"APPOINTMENTS_DATA_DIR": str(tmp_path), "APPOINTMENTS_DATABASE_URL": ""}
    assert "APPOINTMENTS_DATA_DIR" not in os.environ or os.environ["APPOINTMENTS_DATA_DIR"] != str(tmp_path)
    done = in_process(["db", "upgrade", "--json"], env)
    assert done.returncode == 0, done.stderr
    assert '"revision"' in done.stdout
    listed = in_process(["users", "list", "--json"], env)
    assert (listed.returncode, listed.stdout.strip()) == (0, "[]"), listed.stderr
    assert {name: logging.getLogger(name).level for name in QUIET_LIBRARIES} == levels
    assert (sys.stdin, sys.stdout, sys.stderr) == streams
    assert os.environ.get("APPOINTMENTS_DATA_DIR") != str(tmp_path)


def test_usage_errors_and_failures_come_back_as_a_process_s_would(tmp_path: Path) -> None:
    helped = in_process(["--help"], {})  # argparse's SystemExit(0)
    assert helped.returncode == 0 and "usage: appointment-service" in helped.stdout
    usage = in_process(["appointments", "lisst"], {})
    assert usage.returncode == 2 and usage.stdout == "" and "invalid choice" in usage.stderr
    env = {"APPOINTMENTS_DATA_DIR": str(tmp_path), "APPOINTMENTS_DATABASE_URL": ""}
    assert in_process(["db", "upgrade"], env).returncode == 0
    unknown = in_process(["users", "set-password", "nobody.here", "--password-stdin"], env, stdin="long enough 1\n")
    assert unknown.returncode == 2 and "not found" in unknown.stderr, unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
