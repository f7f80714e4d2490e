"""Radicale's own test suite against our storage plugin (``shared/conformance/radicale_suite.sh``).

:func:`reset` is the script's per-test hook for PostgreSQL: every Radicale test expects an empty
storage, so the DAV tables of the database in ``RADICALE_SUITE_PG_URL`` are emptied before each.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text

from caldav_bridge.store.engine import make_engine
from caldav_bridge.store.migrate import ensure_schema
from tests.support.sqlite_files import checkpointed

__all__ = ["SCRIPT", "SQLITE_URL", "SuiteResult", "from_template", "reset", "run_suite"]

SCRIPT = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "radicale_suite.sh"
#: The storage's database on SQLite: a file of its own in each test's collection folder.
SQLITE_URL = "sqlite:///{colpath}/radicale.db"
_ENGINES: dict[str, Engine] = {}


def reset(colpath: str) -> None:
    url = os.environ["RADICALE_SUITE_PG_URL"]
    engine = _ENGINES.get(url) or _ENGINES.setdefault(url, make_engine(url))
    if "dav_collections" not in inspect(engine).get_table_names():
        return  # the storage creates the schema on first use
    with engine.begin() as connection:
        connection.execute(
            text(
                "TRUNCATE dav_changes, dav_items, dav_collections, audit_log, audit_read_batches "
                "RESTART IDENTITY CASCADE"
            )
        )


def from_template(colpath: str) -> None:
    """A copy of an empty database with the current schema at the test's :data:`SQLITE_URL`, the template made once
    per suite run as the plugin makes a schema (``ensure_schema``): a schema made for each of the ~340 tests cost 66
    ms a test, a sixth of the suite."""
    database = Path(SQLITE_URL.removeprefix("sqlite:///").format(colpath=colpath))
    shutil.copyfile(_template(), database)
    database.chmod(0o600)


@functools.cache
def _template() -> Path:
    """The suite run's empty database, removed when the run ends."""
    folder = Path(tempfile.mkdtemp(prefix="radicale-suite-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    template = folder / "template.db"
    engine = make_engine(f"sqlite:///{template}")
    ensure_schema(engine)
    engine.dispose()
    checkpointed(template)
    return template


@dataclass(frozen=True)
class SuiteResult:
    returncode: int
    output: str
    counts: dict[str, int]


def run_suite(
    python: str,
    radicale_src: str,
    storage_config: dict[str, Any],
    *extra: str,
    env: dict[str, str] | None = None,
    timeout: float = 1200,
    pytest_args: list[str] | None = None,
) -> SuiteResult:
    command = [
        "bash",
        str(SCRIPT),
        "--python",
        python,
        "--radicale-src",
        radicale_src,
        "--storage-config",
        json.dumps(storage_config),
        *extra,
        "storage_plugin",
        "--",
        "-q",
        "--tb=short",
        "-p",
        "no:cacheprovider",
        *(pytest_args or []),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    tail = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    outcomes = r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)"
    counts = {name: int(n) for n, name in re.findall(outcomes, tail)}
    return SuiteResult(result.returncode, result.stdout[-20000:] + result.stderr[-5000:], counts)
