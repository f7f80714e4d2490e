#!/usr/bin/env python3
"""What auditing a read of 50 appointments costs: 50 ``audit_log`` rows per read (the design before the staging)
against one kept ``audit_read_batches`` row per read (PostgreSQL's and an in-memory SQLite's record since migration
0021: never folded; on PostgreSQL with the appointments' ids in a GIN index, ``store/read_audit.py``), and on SQLite
against one line in the process's spool file plus its share of the bulk fold into ``audit_log``
(``store/read_spool.py``, what an SQLite file database does since the twentieth session).

Each read's audit is its own short write transaction, as the API's reads write it. Prints CPU per read (this
process's; on PostgreSQL also the server's, its process tree's) and wall time for the old INSERT, the kept row, the
spool's line and its fold, and the longest fold transaction (the write lock it holds on SQLite). ``--prefill``
first fills ``audit_log`` with that many rows over 2,000 appointments (the index grows; the old INSERT slows with
it).

    .venv/bin/python bench/audit_fold.py                       # SQLite in a temporary directory
    .venv/bin/python bench/audit_fold.py --prefill 500000
    .venv/bin/python bench/audit_fold.py --postgres
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load_bench import tree_cpu  # noqa: E402
from caldav_bridge.runtime import Runtime  # noqa: E402
from caldav_bridge.store import read_audit, read_spool  # noqa: E402
from caldav_bridge.store.migrate import upgrade  # noqa: E402
from caldav_bridge.store.tables import AuditReadBatchRow  # noqa: E402
from config import load_settings  # noqa: E402

#: The audit of a read before the staging: its rows straight into audit_log, one statement.
OLD = {
    "sqlite": "INSERT INTO audit_log (at, actor, channel, action, appointment_id, calendar_id, request_id, detail) "
    "SELECT ?, ?, ?, ?, json_extract(p.value, '$[0]'), json_extract(p.value, '$[1]'), ?, ? FROM json_each(?) AS p",
    "postgresql": "INSERT INTO audit_log (at, actor, channel, action, appointment_id, calendar_id, request_id, detail) "
    "SELECT %s, %s, %s, %s, p.value ->> 0, p.value ->> 1, %s, %s FROM json_array_elements(%s::json) AS p",
}


#: The PostgreSQL server's PID (``--postgres``): its process tree's CPU is printed too.
SERVER: list[int] = []


def timed(label: str, reads: int, run: Callable[[], None]) -> None:
    server = tree_cpu(SERVER[0]) if SERVER else 0.0
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    cpu_ms = (time.process_time() - cpu) * 1000 / reads
    wall_ms = (time.perf_counter() - wall) * 1000 / reads
    server_ms = (tree_cpu(SERVER[0]) - server) * 1000 / reads if SERVER else None
    theirs = f"   {server_ms:6.3f} ms server CPU/read" if server_ms is not None else ""
    print(f"{label:34} {cpu_ms:6.3f} ms CPU/read   {wall_ms:6.3f} ms wall/read{theirs}")


def timed_fold(rt: Runtime, label: str, reads: int) -> None:
    """Fold everything staged, one bounded transaction after another; its CPU per read and its longest transaction."""
    longest = [0.0]

    def fold() -> None:
        for _ in range(reads):  # bounded: each round folds at least one batch
            began = time.perf_counter()
            with rt.uow() as uow:
                folded = uow.audit.fold_staged_reads()
                uow.commit()
            longest[0] = max(longest[0], time.perf_counter() - began)
            if not folded.batches:
                return

    timed(label, reads, fold)
    print(f"longest fold transaction: {longest[0] * 1000:.0f} ms (at most {read_audit.FOLD_READS} rows)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL (default SQLite)")
    parser.add_argument("--reads", type=int, default=1000, help="reads of 50 audited per design (default 1000)")
    parser.add_argument("--prefill", type=int, default=0, help="audit_log rows written first (default 0)")
    args = parser.parse_args(argv)
    random.seed(1)
    ids = [str(uuid.uuid4()) for _ in range(2000)]
    calendar = str(uuid.uuid4())
    with tempfile.TemporaryDirectory(prefix="audit-fold-") as name, ExitStack() as stack:
        url = f"sqlite:///{Path(name) / 'bench.db'}"
        if args.postgres:
            from tests.support.postgres import PostgresServer

            server = stack.enter_context(PostgresServer())
            url = server.create_database("audit_fold")
            SERVER.append(server.pid or 0)
        rt = Runtime.from_settings(load_settings(environ={}, database_url=url, data_dir=name))
        stack.callback(rt.close)
        upgrade(rt.engine)
        dialect = rt.engine.dialect
        old_sql = OLD[dialect.name]
        convert = AuditReadBatchRow.__table__.c.at.type.bind_processor(dialect)

        def read(at: datetime) -> read_audit.Reads:
            pairs = [(random.choice(ids), calendar) for _ in range(50)]
            return read_audit.Reads(at, "dispatcher", "api", "read", "req", pairs)

        def old_audit(at: datetime) -> None:
            pairs = json.dumps(read(at).pairs)
            with rt.engine.begin() as conn:
                conn.exec_driver_sql(old_sql, (convert(at) if convert else at, "d", "api", "read", "r", None, pairs))

        if args.prefill:
            start = datetime(2026, 1, 1, tzinfo=UTC)
            for k in range(args.prefill // 50):
                old_audit(start + timedelta(seconds=k))
            print(f"audit_log prefilled with {args.prefill // 50 * 50} rows")

        def old_audits() -> None:
            for _ in range(args.reads):
                old_audit(datetime.now(UTC))

        timed("old: 50 audit_log rows", args.reads, old_audits)

        def stage() -> None:
            for _ in range(args.reads):
                sql, parameters = read_audit.stage(dialect, [read(datetime.now(UTC))])
                with rt.engine.begin() as conn:
                    conn.exec_driver_sql(sql, parameters)

        timed("kept: one audit_read_batches row", args.reads, stage)
        spool = read_spool.of(rt.engine)
        if spool is not None:

            def append() -> None:
                for _ in range(args.reads):
                    spool.append([read(datetime.now(UTC))])

            timed("spool: one line a read", args.reads, append)
            spool.close()
            timed_fold(rt, "spool: its share of the fold", args.reads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
