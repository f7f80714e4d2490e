#!/usr/bin/env python3
"""Import 100k Calendly and 100k Blueprint records from files: records per second and peak memory.

For each format the benchmark writes two files of generated records, a small one (10k by default) and
a large one (100k), as JSON arrays (``--jsonl``: JSON Lines). Each file is imported into a fresh,
migrated database by a worker process of its own, exactly as ``appointment-service import`` does it:
the file is read with the CLI's streaming reader (``feeds.cli.interchange.read_items``: ``ijson`` for an
array) and written by ``caldav_bridge.services.interchange.import_stream`` in chunks of 1000, each
chunk one transaction with its appointments, guests, people, external refs, status history, outbox
and audit rows. ``--via cli`` runs the real ``appointment-service import`` command instead.

Per run it prints records/s (wall clock, and per CPU second of the importing process) and the
process's peak resident memory. Memory is compared **as a ratio**, large file over small file: a
streamed import keeps it flat (≈ 1.0) however big the file is.

Two scenarios:

* **import** (the target): the records' providers/hosts are 20 team calendars, matched by name. Team
  calendars have no CalDAV collection until a CalDAV client asks for one (``dav.provisioning`` then
  renders every appointment into it), so this measures the import itself.
* **import + CalDAV** (informative, ``--caldav-records``, 10k by default): the providers are 20 fitters,
  whose calendars have CalDAV collections from the start, so every imported appointment is also
  rendered as an iCalendar object (``dav.appointment_sync.item_for``) in the same transaction.

After each run the worker checks the database: one appointment, external ref, outbox row and history
row per record (and one CalDAV item per record in the second scenario); a wrong count fails the run.

Targets: at least 2,000 records/s on the large files of the import scenario, and peak memory of the
large run within 1.25 x the small run's. Exit status: 0 when both are met, 1 when one is missed,
2 when the benchmark could not run or a result was wrong.

    .venv/bin/python bench/import_bench.py                 # SQLite files in a temporary directory
    .venv/bin/python bench/import_bench.py --postgres      # a throwaway PostgreSQL (tests/support/postgres.py)
    .venv/bin/python bench/import_bench.py --records 20000 --small 2000 --caldav-records 0   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FORMATS = ("blueprint", "calendly")
PROVIDERS = 20
EVENT_TYPES = {  # Calendly event type UUID → our type (the import's settings table)
    "INITIALAAAAAAAAA": "INITIAL",
    "FOLLOWUPAAAAAAAA": "FOLLOW_UP",
    "TECHSETUPAAAAAAA": "TECH_SETUP",
}
EPOCH = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
TARGET_RATE = 2000.0
TARGET_MEMORY_RATIO = 1.25


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------- data


def provider_name(n: int) -> str:
    return f"Provider {n:02d}"


def blueprint_record(i: int, rng: random.Random) -> dict[str, Any]:
    start = EPOCH + timedelta(days=rng.randrange(365), hours=rng.randrange(9), minutes=rng.choice((0, 15, 30, 45)))
    end = start + timedelta(minutes=rng.choice((30, 45, 60, 90)))
    provider = rng.randrange(PROVIDERS)
    patient = rng.randrange(40_000)
    return {
        "appointment_id": f"{10_000 + i}_0",
        "birthdate": "1977-05-25",
        "busy": True,
        "contactVerified": rng.random() < 0.5,
        "end_time": end.strftime("%Y-%m-%d %H:%M:%S GMT"),
        "eventTypeId": rng.choice((1, 1, 2, 3)),
        "location_id": 1 + provider % 4,
        "location": f"Location {1 + provider % 4}",
        "notes": "Bring the hearing aids." if rng.random() < 0.3 else "",
        "onlineBookingSecret": f"S{rng.randrange(10**9):09d}",
        "patient_id": patient,
        "patient_name": f"Patient{patient}, Pat",
        "provider_id": 50 + provider,
        "provider": provider_name(provider),
        "start_time": start.strftime("%Y-%m-%d %H:%M:%S GMT"),
        "status": rng.choice((3, 3, 3, 7, 1, 2, 4)),
        "summary": f"Patient{patient}, Pat",
    }


def calendly_record(i: int, rng: random.Random) -> dict[str, Any]:
    start = EPOCH + timedelta(days=rng.randrange(365), hours=rng.randrange(9), minutes=rng.choice((0, 15, 30, 45)))
    end = start + timedelta(minutes=rng.choice((15, 30, 60)))
    created = start - timedelta(days=rng.randrange(1, 30), seconds=rng.randrange(86_400))
    provider = rng.randrange(PROVIDERS)
    canceled = rng.random() < 0.1
    event: dict[str, Any] = {
        "created_at": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "end_time": end.isoformat().replace("+00:00", "Z"),
        "event_guests": [
            {
                "created_at": created.isoformat().replace("+00:00", "Z"),
                "email": f"guest{rng.randrange(40_000)}@example.com",
                "updated_at": created.isoformat().replace("+00:00", "Z"),
            }
        ],
        "event_memberships": [
            {"user": f"https://api.calendly.com/users/USER{provider:012d}", "user_name": provider_name(provider)}
        ],
        "event_type": f"https://api.calendly.com/event_types/{rng.choice(list(EVENT_TYPES))}",
        "invitees_counter": {"active": 1, "limit": 1, "total": 1},
        "location": {"location": f"Room {1 + provider % 5}", "type": "physical"},
        "name": "Hearing consultation",
        "start_time": start.isoformat().replace("+00:00", "Z"),
        "status": "canceled" if canceled else "active",
        "updated_at": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "uri": f"https://api.calendly.com/scheduled_events/{uuid.UUID(int=rng.getrandbits(128))}",
    }
    if canceled:
        event["cancellation"] = {"canceled_by": "Guest", "reason": "ill", "canceler_type": "invitee"}
    return event


def write_file(path: Path, fmt: str, n: int, seed: int, jsonl: bool) -> int:
    """Write ``n`` records one at a time (flat memory); the file's size in bytes."""
    rng = random.Random(f"{seed}-{fmt}")
    make = blueprint_record if fmt == "blueprint" else calendly_record
    with path.open("w", encoding="utf-8") as out:
        if not jsonl:
            out.write("[\n")
        for i in range(n):
            text = json.dumps(make(i, rng), separators=(",", ":"))
            if jsonl:
                out.write(text + "\n")
            else:
                out.write(text + (",\n" if i < n - 1 else "\n"))
        if not jsonl:
            out.write("]\n")
    return path.stat().st_size


# --------------------------------------------------------------------------- worker (one import, one process)


def rss_kb() -> int:
    """The current resident set size in KiB (Linux)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def worker(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from caldav_bridge.model.requests import CalendarDraft
    from caldav_bridge.runtime import Runtime
    from caldav_bridge.services import calendars, interchange, users
    from caldav_bridge.services.actor import system_actor
    from caldav_bridge.store.dav_tables import DavItemRow
    from caldav_bridge.store.migrate import upgrade
    from caldav_bridge.store.tables import AppointmentRow, ExternalRefRow, OutboxRow, StatusHistoryRow
    from config import load_settings
    from feeds.cli.interchange import read_items

    settings = load_settings(
        environ={},
        database_url=args.database_url,
        data_dir=args.data_dir,
        calendly_event_types=EVENT_TYPES,
    )
    rt = Runtime.from_settings(settings)
    upgrade(rt.engine)
    admin = system_actor("cli")
    for n in range(PROVIDERS):
        if args.caldav:  # a fitter: a calendar with a CalDAV collection, matched by the owner's display name
            users.add_user(rt.uow(), f"provider{n:02d}", "fitter", display_name=provider_name(n))
        else:  # a team calendar: matched by its name; no CalDAV collection until a client asks
            draft = CalendarDraft(name=provider_name(n), kind="team", timezone="America/Denver")
            calendars.create(rt.uow(), admin, draft)

    baseline = rss_kb()
    summary = interchange.ImportSummary()
    started, cpu = time.perf_counter(), time.process_time()
    if args.via == "cli":
        command = [sys.executable, "-m", "feeds.cli", "import", args.format, args.file, "--progress-every", "3600"]
        command += ["--chunk-size", str(args.chunk_size)]
        env = {
            **os.environ,
            "APPOINTMENTS_DATABASE_URL": args.database_url,
            "APPOINTMENTS_DATA_DIR": args.data_dir,
            "APPOINTMENTS_CALENDLY_EVENT_TYPES": ";".join(f"{k}={v}" for k, v in EVENT_TYPES.items()),
        }
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.max_seconds)
        if done.returncode != 0:
            raise BenchError(f"the import command failed ({done.returncode}): {done.stdout[-500:]}{done.stderr[-500:]}")
        summary.total = summary.created = args.records
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        cpu_used = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    else:
        with open(args.file, "rb") as stream:
            items, _ = read_items(stream)
            options = rt.converter_options[args.format]
            stream_ = interchange.import_stream(
                rt.uow(), admin, args.format, items, options=options, chunk_size=args.chunk_size
            )
            for result in stream_:
                summary.add(result)
                if result.status == "error":
                    raise BenchError(f"record {result.index} failed: {result.errors}")
                if time.perf_counter() - started > args.max_seconds:
                    raise BenchError(f"stopped after {args.max_seconds:.0f} s at record {summary.total}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpu_used = time.process_time() - cpu
    seconds = time.perf_counter() - started

    with rt.uow() as uow:

        def count(table: Any) -> int:
            return int(uow.session.scalar(select(func.count()).select_from(table)) or 0)

        counts = {
            "appointments": count(AppointmentRow),
            "external_refs": count(ExternalRefRow),
            "outbox": count(OutboxRow),
            "status_history": count(StatusHistoryRow),
            "dav_items": count(DavItemRow),
        }
    rt.close()
    expected = {k: args.records for k in counts} | {"dav_items": args.records if args.caldav else 0}
    if summary.created != args.records or counts != expected:
        raise BenchError(f"wrong result: {summary.as_dict()} {counts}, expected {expected}")
    print(
        json.dumps(
            {
                "records": args.records,
                "seconds": seconds,
                "cpu_seconds": cpu_used,
                "peak_rss_kb": peak,
                "baseline_rss_kb": baseline,
                "counts": counts,
            }
        )
    )
    return 0


# --------------------------------------------------------------------------- driver


class Databases:
    """A fresh database per run: SQLite files, or databases on a PostgreSQL server."""

    def __init__(self, work: Path, pg: Any | None, url: str | None) -> None:
        self.work, self.pg, self.url = work, pg, url
        self.made: list[str] = []

    def new(self, name: str) -> str:
        if self.pg is not None:
            return str(self.pg.create_database(name))
        if self.url:
            from sqlalchemy.engine import make_url

            base = make_url(self.url)
            if base.get_backend_name() != "postgresql":
                raise BenchError("--database-url must be a PostgreSQL URL (SQLite: leave it out)")
            import psycopg

            conninfo = base.set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                conn.execute(f'CREATE DATABASE "{name}"')
            self.made.append(name)
            return base.set(database=name).render_as_string(hide_password=False)
        return f"sqlite:///{self.work / (name + '.db')}"


def run_worker(args: argparse.Namespace, fmt: str, records: int, path: Path, url: str, caldav: bool) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--format",
        fmt,
        "--file",
        str(path),
        "--records",
        str(records),
        "--database-url",
        url,
        "--data-dir",
        str(path.parent / "data"),
        "--via",
        args.via,
        "--max-seconds",
        str(args.max_seconds),
        "--chunk-size",
        str(args.chunk_size),
    ] + (["--caldav"] if caldav else [])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        out, err = process.communicate(timeout=args.max_seconds + 120)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        raise BenchError(f"{fmt} {records}: the worker did not finish in time") from None
    if process.returncode != 0:
        raise BenchError(f"{fmt} {records}: the worker failed:\n{err[-2000:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    db = parser.add_mutually_exclusive_group()
    db.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL server (needs initdb 15+)")
    db.add_argument("--database-url", help="a PostgreSQL server to create the run databases on")
    parser.add_argument("--records", type=int, default=100_000, help="records in each large file (%(default)s)")
    parser.add_argument("--small", type=int, default=10_000, help="records in each small file (%(default)s)")
    parser.add_argument(
        "--caldav-records", type=int, default=10_000, help="records of the CalDAV scenario; 0 skips it (%(default)s)"
    )
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated (%(default)s)")
    parser.add_argument("--jsonl", action="store_true", help="write JSON Lines files instead of JSON arrays")
    parser.add_argument("--via", choices=("service", "cli"), default="service", help="how to import (%(default)s)")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="time limit of one import (%(default)s)")
    parser.add_argument("--chunk-size", type=int, default=1000, help="items per transaction (%(default)s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the files and SQLite databases")
    # The worker's own arguments.
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--caldav", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.worker and not 0 < args.small <= args.records <= 1_000_000:
        parser.error("need 0 < --small <= --records <= 1000000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        try:
            return worker(args)
        except BenchError as exc:
            print(f"import_bench worker: {exc}", file=sys.stderr)
            return 2
    formats = [f for f in args.formats.split(",") if f]
    if not set(formats) <= set(FORMATS):
        print(f"import_bench: --formats must be among {', '.join(FORMATS)}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="import-bench-"))
    pg = None
    try:
        if args.postgres:
            from tests.support.postgres import PostgresServer

            pg = PostgresServer().start()
        databases = Databases(work, pg, args.database_url)
        return run(args, formats, work, databases)
    except BenchError as exc:
        print(f"import_bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        if pg is not None:
            pg.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, formats: list[str], work: Path, databases: Databases) -> int:
    kind = "PostgreSQL" if (args.postgres or args.database_url) else "SQLite"
    print(f"import_bench: {kind}, {', '.join(formats)}, {args.small:,} and {args.records:,} records per format")
    print(
        f"  {'scenario':<16} {'format':<10} {'records':>8} {'file MB':>8} {'seconds':>8} {'rec/s':>8} "
        f"{'rec/CPU-s':>9} {'peak RSS MB':>11}"
    )
    rows: list[dict[str, Any]] = []
    plan: list[tuple[str, str, int, bool]] = []
    for fmt in formats:
        plan += [("import", fmt, args.small, False), ("import", fmt, args.records, False)]
    if args.caldav_records:
        plan += [("import + CalDAV", fmt, args.caldav_records, True) for fmt in formats]
    files: dict[tuple[str, int], tuple[Path, int]] = {}
    for scenario, fmt, n, caldav in plan:
        if (fmt, n) not in files:
            path = work / f"{fmt}-{n}.{'jsonl' if args.jsonl else 'json'}"
            files[fmt, n] = (path, write_file(path, fmt, n, args.seed, args.jsonl))
        path, size = files[fmt, n]
        url = databases.new(f"bench_{fmt}_{n}_{'dav' if caldav else 'plain'}_{uuid.uuid4().hex[:6]}")
        result = run_worker(args, fmt, n, path, url, caldav)
        row = {
            "scenario": scenario,
            "format": fmt,
            "records": n,
            "mb": size / 1e6,
            "seconds": result["seconds"],
            "rate": n / result["seconds"],
            "cpu_rate": n / max(result["cpu_seconds"], 1e-9),
            "peak_mb": result["peak_rss_kb"] / 1024,
        }
        rows.append(row)
        print(
            f"  {scenario:<16} {fmt:<10} {n:>8,} {row['mb']:>8.1f} {row['seconds']:>8.1f} {row['rate']:>8,.0f} "
            f"{row['cpu_rate']:>9,.0f} {row['peak_mb']:>11.1f}",
            flush=True,
        )
    return report(args, formats, rows)


def report(args: argparse.Namespace, formats: list[str], rows: list[dict[str, Any]]) -> int:
    ok = True
    print()
    for fmt in formats:
        small = next(r for r in rows if r["scenario"] == "import" and r["format"] == fmt and r["records"] == args.small)
        large = next(
            r for r in rows if r["scenario"] == "import" and r["format"] == fmt and r["records"] == args.records
        )
        ratio = large["peak_mb"] / small["peak_mb"]
        rate_ok = large["rate"] >= TARGET_RATE
        memory_ok = ratio <= TARGET_MEMORY_RATIO
        ok = ok and rate_ok and memory_ok
        print(
            f"  {fmt}: {large['rate']:,.0f} records/s on {args.records:,} "
            f"({'meets' if rate_ok else 'MISSES'} the {TARGET_RATE:,.0f}/s target); peak memory "
            f"{large['peak_mb']:.0f} MB vs {small['peak_mb']:.0f} MB on {args.small:,}: ratio {ratio:.2f} "
            f"({'flat' if memory_ok else 'NOT flat'}, target <= {TARGET_MEMORY_RATIO})"
        )
        dav = [r for r in rows if r["scenario"] != "import" and r["format"] == fmt]
        for r in dav:
            print(
                f"  {fmt} with CalDAV items: {r['rate']:,.0f} records/s on {r['records']:,} "
                f"({r['rate'] / small['rate']:.2f} x the import alone on {args.small:,}; informative)"
            )
    load = os.getloadavg()[0]
    print(f"  (load average {load:.1f} on {os.cpu_count()} CPUs: figures from a busy machine are low)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
