"""python-caldav 3.x's functional suite and caldav-server-tester against a fitter's appointment calendar.

Starts our server (``appointment-service serve`` on loopback, SQLite in a temporary directory or
``--database-url``) with one fitter, and stock Radicale 3.9.0 (filesystem storage, htpasswd) with the
same user and a calendar of the same name, then:

1. runs caldav's ``tests/test_caldav.py`` (3.6.0, from its sdist) in the fitter's appointment calendar
   (profile ``appointments``) and in the fitter's calendar home (profile ``home``: the tests that create
   calendars), printing passed/failed/skipped with every skip's reason;
2. runs caldav-server-tester 1.7.0 on our appointment calendar and on the stock calendar, side by side,
   and prints every feature where the two differ (worse / better).

Exit status 1 if a suite test failed or a feature is worse on ours. docs/caldav-conformance.md has the
figures. The tools live in their own virtualenv (``install`` makes it; ``make caldav-suite-tools`` too):

    .venv/bin/python bench/caldav_conformance.py install
    .venv/bin/python bench/caldav_conformance.py                       # everything, SQLite (~3 min)
    .venv/bin/python bench/caldav_conformance.py --only suite --database-url postgresql+psycopg://...
    .venv/bin/python bench/caldav_conformance.py --only tester
    .venv/bin/python bench/caldav_conformance.py --suite-on-stock      # the suite on stock Radicale too
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.caldav_bench import PASSWORD, USER, our_server, prepare_ours  # noqa: E402
from tests.support import caldav_suite as cs  # noqa: E402


def _print_suite(result: cs.SuiteResult) -> None:
    print(result.summary())
    for test, why in sorted(result.skipped.items()):
        print(f"  skipped {test}: {why.removeprefix('Test skipped due to server incompatibility issue: ')[:140]}")
    for test, why in sorted(result.deselected.items()):
        print(f"  deselected {test}: {why[:140]}")
    for test, message in sorted(result.failed.items()):
        print(f"  FAILED {test}: {message[:2000]}")


def run_suites(tools: cs.Tools, ours: cs.Account, workdir: Path, stock: cs.Account | None) -> bool:
    calendar = f"{ours.base_url}{ours.username}/appointments/"
    runs = [
        ("appointments", ours, cs.appointment_features(calendar)),
        ("home", ours, cs.home_features()),
    ]
    if stock:
        runs.append(("stock", stock, cs.home_features()))
    ok = True
    for profile, account, features in runs:
        result = cs.run_functional_suite(tools, account, features, workdir, profile=profile)
        _print_suite(result)
        ok = ok and not result.failed
    return ok


def run_tester(tools: cs.Tools, ours: cs.Account, stock: cs.Account, name: str, workdir: Path) -> bool:
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        on_ours = pool.submit(cs.run_server_tester, tools, ours, name, workdir / "tester-ours")
        on_stock = pool.submit(cs.run_server_tester, tools, stock, name, workdir / "tester-stock")
        observed_ours, observed_stock = on_ours.result(), on_stock.result()
    worse = cs.worse_features(observed_ours, observed_stock)
    better = cs.better_features(observed_ours, observed_stock)
    same = len(set(observed_stock) - set(worse) - set(better))
    print(
        f"caldav-server-tester: {len(observed_ours)} features on ours, {len(observed_stock)} on stock Radicale; "
        f"{same} alike, {len(better)} better, {len(worse)} worse ({time.monotonic() - started:.0f} s)"
    )
    for label, diff in (("better", better), ("WORSE", worse)):
        for feature, (mine, theirs) in sorted(diff.items()):
            print(f"  {label} {feature}: ours {mine}, stock {theirs}")
    return not worse


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=("run", "install"), default="run")
    parser.add_argument("--database-url", help="our server's database (default: SQLite in a temporary directory)")
    parser.add_argument("--only", choices=("suite", "tester"))
    parser.add_argument("--suite-on-stock", action="store_true", help="also run the suite on stock Radicale")
    args = parser.parse_args()
    if args.command == "install":
        print(f"caldav suite tools in {cs.install_tools().root}")
        return 0
    tools = cs.find_tools()
    if tools is None:
        print(f"no tools at {cs.tools_dir()}: run `bench/caldav_conformance.py install` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="caldav-conformance-") as tmp:
        workdir = Path(tmp)
        database_url = args.database_url or f"sqlite:///{workdir / 'ours.db'}"
        prepare_ours(database_url)
        with our_server(database_url, workdir / "data") as server:
            ours = cs.Account(server.base + "/dav/", USER, PASSWORD)
            name = cs.display_name(f"{ours.base_url}{USER}/appointments/", (USER, PASSWORD))
            with cs.stock_radicale(workdir / "stock", USER, PASSWORD, "appointments", name) as stock:
                ok = True
                if args.only in (None, "suite"):
                    ok = run_suites(tools, ours, workdir, stock if args.suite_on_stock else None) and ok
                if args.only in (None, "tester"):
                    ok = run_tester(tools, ours, stock, name, workdir) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
