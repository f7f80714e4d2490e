#!/usr/bin/env python3
"""The server CPU of every hostile request of tests/hostile, sorted by cost: where the margins to CPU_BUDGET are.

Runs ``pytest tests/hostile`` (SQLite and PostgreSQL; extra arguments go to pytest, e.g. ``-k sqlite``) with
HOSTILE_COSTS naming a temporary file, to which tests/support/hostile.py appends one line per measured request,
then prints one row per case: each fixed-corpus case, each CLI import (run in-process: the import's own CPU, no
interpreter start-up), and for each hypothesis-generated test its slowest example. A case over ``--margin``
seconds (default 0.25: CI load inflates CPU time 2.5-3x, so more than that quiet is a CI failure to come) is
marked ``!``.

Exit status: 0 when every case is within the margin, 1 when one is not, 2 when pytest failed.

    .venv/bin/python bench/hostile_costs.py                 # the whole corpus, both databases (~4 min)
    .venv/bin/python bench/hostile_costs.py -k sqlite       # SQLite only
    .venv/bin/python bench/hostile_costs.py --report costs.jsonl   # print an earlier run's report again
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the project's packages, tests.support and bench

from tests.support.hostile import COSTS_FILE  # noqa: E402

DATABASES = ("sqlite", "postgresql")

#: A row: the case's name -> database -> (seconds, status, the slowest example's description).
Rows = dict[str, dict[str, tuple[float, int, str]]]


def _function(test: str) -> str:
    """``tests/hostile/x.py::test_y[sqlite-z]`` -> ``test_y``."""
    return test.split("::")[-1].split("[")[0]


def rows(lines: list[dict[str, Any]]) -> Rows:
    """Corpus cases and CLI files one row each; a generated test's examples one row, the slowest of them."""
    table: Rows = defaultdict(dict)
    for line in lines:
        seconds, status, case = float(line["seconds"]), int(line["status"]), str(line["case"])
        database = str(line["database"])
        name = f"{_function(str(line['test']))} (slowest example)" if line["kind"] == "example" else case
        known = table[name].get(database)
        if known is None or seconds > known[0]:
            table[name][database] = (seconds, status, case if line["kind"] == "example" else "")
    return table


def printed(table: Rows, margin: float) -> int:
    """Print ``table`` sorted by its worst database; the number of rows over ``margin``."""
    order = sorted(table.items(), key=lambda item: -max(s for s, _, _ in item[1].values()))
    over = 0
    print(f"{'case':<64} " + " ".join(f"{d:>12}" for d in DATABASES))
    for name, by_database in order:
        worst = max(s for s, _, _ in by_database.values())
        over += worst > margin
        cells = []
        for database in DATABASES:
            cell = by_database.get(database)
            cells.append(f"{cell[0]:>7.3f} {cell[1]:>4}" if cell else f"{'-':>12}")
        print(f"{'!' if worst > margin else ' '} {name[:62]:<62} " + " ".join(cells))
        slowest = max(by_database.values())[2]
        if slowest:
            print(f"    slowest: {slowest[:110]}")
    print(f"\n{len(table)} cases, {over} over {margin:.2f} s of CPU (seconds, then the answer's status or exit code)")
    return over


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--margin", type=float, default=0.25, help="seconds of CPU a case may cost quiet")
    parser.add_argument("--report", type=Path, help="print this earlier report instead of running pytest")
    parser.add_argument("--keep", type=Path, help="also keep the report of this run in this file")
    args, pytest_args = parser.parse_known_args()
    tests = None
    if args.report:
        report = args.report
    else:
        report = args.keep or Path(tempfile.mkstemp(prefix="hostile-costs-", suffix=".jsonl")[1])
        report.write_text("")
        command = [sys.executable, "-m", "pytest", "tests/hostile", "-q", *pytest_args]
        tests = subprocess.run(command, env={**os.environ, COSTS_FILE: str(report)}, check=False, timeout=3600)
    lines = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    if not args.report and not args.keep:
        report.unlink()
    if not lines:
        print("no measured request in the report", file=sys.stderr)
        return 2
    over = printed(rows(lines), args.margin)
    if tests is not None and tests.returncode != 0:
        print(f"pytest failed (exit {tests.returncode}): see its output above", file=sys.stderr)
        return 2
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
