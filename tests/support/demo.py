"""The demo seeded once per test process, for the tests that need it present rather than testing its first seeding.

Seeding the demo from scratch costs ~9-12 s of CPU on SQLite (more on PostgreSQL, and 25-45 s a test under the
suite's workers); seeding a database that holds it already leaves everything alone and prints the same users and
secrets (they are derived from ``demo-secrets.seed`` in the data directory). So the conftest's demo templates are
seeded once and each test gets a copy of the database and of its data directory (:func:`copy_data_dir`); a
``serve --demo`` started on the copy re-runs the seed idempotently, as it does on a second ``make run``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from caldav_bridge.runtime import Runtime
from config import load_settings
from feeds.cli.demo import demo_summary, run_demo

__all__ = ["DemoTemplate", "copy_data_dir", "seed"]


@dataclass(frozen=True)
class DemoTemplate:
    """A database holding the demo (a SQLite file, or the name of a PostgreSQL template database) with the data
    directory it was seeded with, and what ``appointment-service demo --json`` printed when it was seeded."""

    database: str
    data_dir: Path
    summary: dict[str, Any]


def seed(database_url: str, data_dir: Path) -> dict[str, Any]:
    """``appointment-service demo --json`` in this process: what the command (``feeds.cli.admin.demo``) runs and
    prints, with the runtime closed after it (the command leaves it to the process's end; a PostgreSQL template
    must have no session left when it is copied)."""
    rt = Runtime.from_settings(load_settings(environ={}, database_url=database_url, data_dir=str(data_dir)))
    try:
        summary = demo_summary(rt, run_demo(rt))
    finally:
        rt.close()
    printed: dict[str, Any] = json.loads(json.dumps(summary, default=str))
    return printed


def copy_data_dir(template: DemoTemplate, to: Path) -> None:
    """The template's data directory (the demo's secret seed, the self-booking key) copied to ``to``, modes
    kept (0700, 0600). Not its ``feed-changes-*`` file: it is named after the template's database, which no test
    opens; a test's runtime makes its own."""
    shutil.copytree(template.data_dir, to, ignore=shutil.ignore_patterns("feed-changes-*"))
