"""Reads' audit staged (``audit_read_batches``) and folded into ``audit_log`` (``store/read_audit.py``).

On SQLite and PostgreSQL: a staged read survives a process killed before any fold; a fold killed before it
commits leaves everything staged; folds in a row, racing each other and racing new reads copy every read exactly
once; readers (``AuditRepository.for_appointment``) see staged reads before any fold; the job folds.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from caldav_bridge.jobs.catalog import build_scheduler
from caldav_bridge.model.requests import AppointmentDraft, CancelRequest
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import appointments
from caldav_bridge.services.actor import system_actor
from caldav_bridge.services.audit_trail import fold_staged_reads
from caldav_bridge.store.engine import make_engine
from caldav_bridge.store.migrate import ensure_schema
from caldav_bridge.store.read_audit import Folded, Reads
from caldav_bridge.store.tables import AUDIT_BATCH_TOAST_TARGET, AuditRow
from config import Settings
from tests.conftest import People
from tests.support.audit import audit_trail, fold_reads, staged_reads
from tests.support.factories import appointment_body

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2031, 5, 5, 8, 0, tzinfo=UTC)

#: A child process: ``read`` lists every appointment through the service (its audit staged), ``fold`` folds in a
#: transaction; then, before anything else (the fold's commit included), it is killed.
CHILD = """
import os, signal, sys
from caldav_bridge.model.queries import AppointmentFilters
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import appointments
from caldav_bridge.services.actor import system_actor
from config import load_settings

settings = load_settings(environ={}, database_url=sys.argv[1], data_dir=sys.argv[2])
rt = Runtime.from_settings(settings)
if sys.argv[3] == "read":
    page = appointments.list_appointments(rt.uow(), system_actor("api", "reader"), AppointmentFilters(), limit=50)
    print(len(page.items), flush=True)
else:
    uow = rt.uow()
    with uow:
        folded = uow.audit.fold_staged_reads()
        print(folded.reads, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _child(settings: Settings, what: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, settings.resolved_database_url(), settings.data_dir, what],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -9, done.stderr  # killed, as meant
    return done.stdout.strip()


def _create(runtime: Runtime, people: People, n: int) -> list[str]:
    ids = []
    for i in range(n):
        body = appointment_body(people.fitter.calendar_id or "", start=T0 + timedelta(hours=3 * i))
        stored = appointments.create(runtime.uow(), system_actor("api"), AppointmentDraft.model_validate(body))
        ids.append(stored.row.id)
    return ids


def _stage(runtime: Runtime, readers: int, per_read: int, tag: str = "r") -> list[str]:
    """``readers`` reads of ``per_read`` appointments each, staged; the appointment ids, in order."""
    ids = []
    for r in range(readers):
        at = datetime.now(UTC)
        pairs = [(f"{tag}{r}-{i}", "cal-1") for i in range(per_read)]
        with runtime.uow().reading() as uow:
            uow.audit_reads(Reads(at, "dispatcher", "api", "read", f"{tag}{r}", pairs))
            uow.commit()
        ids += [appointment_id for appointment_id, _ in pairs]
    return ids


def _folded_ids(runtime: Runtime) -> Counter[str | None]:
    with runtime.uow() as uow:
        return Counter(uow.session.scalars(select(AuditRow.appointment_id).where(AuditRow.action == "read")))


def test_a_read_staged_survives_a_process_killed_before_any_fold(
    runtime: Runtime, people: People, settings: Settings
) -> None:
    ids = _create(runtime, people, 3)
    assert _child(settings, "read") == "3"  # the data was answered, then the process died
    assert staged_reads(runtime) == 1
    with runtime.uow().reading() as uow:  # readers see it before any fold
        for appointment_id in ids:
            reads = [(a.actor, a.action, a.id) for a in uow.audit.for_appointment(appointment_id)]
            assert reads[-1] == ("reader", "read", None), reads
    trail = audit_trail(runtime, AuditRow.actor == "reader")
    assert sorted((a.appointment_id for a in trail), key=str) == sorted(ids)
    assert {(a.action, a.channel, a.calendar_id) for a in trail} == {("read", "api", people.fitter.calendar_id)}
    assert staged_reads(runtime) == 0


def test_a_fold_killed_before_it_commits_leaves_every_read_staged(runtime: Runtime, settings: Settings) -> None:
    ids = _stage(runtime, 4, 5)
    assert _child(settings, "fold") == "20"  # folded in its transaction, killed before the commit
    assert staged_reads(runtime) == 4 and _folded_ids(runtime) == Counter()
    assert fold_reads(runtime) == 20
    assert _folded_ids(runtime) == Counter(ids) and max(Counter(ids).values()) == 1


def test_folds_in_a_row_copy_each_read_once_oldest_first_within_their_bounds(runtime: Runtime) -> None:
    ids = _stage(runtime, 5, 3)
    with runtime.uow() as uow:
        assert uow.audit.fold_staged_reads(batches=2) == Folded(2, 6)
        uow.commit()
    assert _folded_ids(runtime) == Counter(ids[:6])  # the two oldest reads
    with runtime.uow() as uow:  # one read more than the bound would pass: it waits for the next fold
        assert uow.audit.fold_staged_reads(reads=4) == Folded(2, 6)
        uow.commit()
    with runtime.uow() as uow:  # the first read is always taken, whatever its size
        assert uow.audit.fold_staged_reads(reads=1) == Folded(1, 3)
        uow.commit()
    for _ in range(2):
        with runtime.uow() as uow:
            assert uow.audit.fold_staged_reads() == Folded(0, 0)
            uow.commit()
    assert _folded_ids(runtime) == Counter(ids)  # each once
    trail = audit_trail(runtime, AuditRow.action == "read")
    assert [(a.request_id, a.actor, a.channel, a.calendar_id) for a in trail[:3]] == [
        ("r0", "dispatcher", "api", "cal-1")
    ] * 3


def test_folds_racing_each_other_and_new_reads_lose_and_duplicate_nothing(runtime: Runtime) -> None:
    staged = _stage(runtime, 60, 4, tag="a")
    errors: list[BaseException] = []
    more: list[str] = []
    folded: list[Folded] = []

    def fold() -> None:
        try:
            for _ in range(200):
                with runtime.uow() as uow:
                    result = uow.audit.fold_staged_reads(batches=3)
                    uow.commit()
                folded.append(result)
                if result.batches == 0 and len(more) == 40 * 4:
                    return
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            more.extend(_stage(runtime, 40, 4, tag="b"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=fold) for _ in range(3)] + [threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)
    fold_reads(runtime)  # whatever the racers left
    assert staged_reads(runtime) == 0
    assert _folded_ids(runtime) == Counter(staged + more) and len(staged + more) == 400
    assert sum(f.batches for f in folded) >= 60  # the racers did fold


def test_a_reader_sees_staged_and_folded_rows_in_the_order_they_happened(runtime: Runtime, people: People) -> None:
    [appointment_id] = _create(runtime, people, 1)
    appointments.get(runtime.uow(), system_actor("api", "reader"), appointment_id)  # staged
    appointments.cancel(
        runtime.uow(), system_actor("api"), appointment_id, CancelRequest(reason="test")
    )  # into audit_log
    with runtime.uow().reading() as uow:
        before = [(a.action, a.actor) for a in uow.audit.for_appointment(appointment_id)]
    assert before == [("create", "system"), ("read", "reader"), ("cancel", "system")]
    assert fold_reads(runtime) == 1
    with runtime.uow().reading() as uow:
        after = uow.audit.for_appointment(appointment_id)
    assert [(a.action, a.actor) for a in after] == before and all(a.id for a in after)


def test_the_job_folds_the_staged_reads(runtime: Runtime) -> None:
    ids = _stage(runtime, 3, 2)
    job = build_scheduler(runtime).get_job("audit-fold-reads")  # built, not started: run by hand
    assert job is not None
    assert job.run() == 6
    assert staged_reads(runtime) == 0 and _folded_ids(runtime) == Counter(ids)
    assert job.run() == 0


def test_a_run_of_the_fold_ends_at_its_time_or_its_rounds_and_the_next_takes_the_rest(runtime: Runtime) -> None:
    """A run folds round after round while rounds come back full, until its time (``FOLD_SECONDS``, before the
    job's next tick) or its rounds are spent; what it leaves stays staged for the next run."""
    ids = _stage(runtime, 3, 1000)  # 3,000 rows: a full round of 2,000 (two reads), then one of 1,000
    assert fold_staged_reads(runtime.uow(), seconds=0) == Folded(2, 2000)  # its time was up after one round
    assert staged_reads(runtime) == 1
    assert fold_staged_reads(runtime.uow(), rounds=1) == Folded(1, 1000)
    assert staged_reads(runtime) == 0 and _folded_ids(runtime) == Counter(ids)
    _stage(runtime, 3, 1000)
    assert fold_staged_reads(runtime.uow()) == Folded(3, 3000)  # in time: both rounds


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no TOAST relation
@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
def test_a_staged_list_of_50_stays_whole_in_its_row(runtime: Runtime, empty_database_url: str) -> None:
    """PostgreSQL: the 4 KB of pairs a list of 50 stages are stored as they came, in the batch's own heap row (not
    compressed and moved to the TOAST relation: two more rows and index entries a staging wrote, and a fold read
    back, decompressed and deleted), in a migrated database (0019) as in one created from the tables."""
    calendar_id = str(uuid.uuid4())
    for n in range(3):
        pairs = [(str(uuid.uuid4()), calendar_id) for _ in range(50)]
        with runtime.uow().reading() as uow:
            uow.audit_reads(Reads(datetime.now(UTC), "dispatcher", "api", "read", f"list-{n}", pairs))
            uow.commit()
    with runtime.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT pg_column_size(pairs), octet_length(pairs) FROM audit_read_batches")
        sizes = stored.all()
        toasted = connection.exec_driver_sql(
            "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 'audit_read_batches'"
        ).scalar()
    assert len(sizes) == 3 and all(size >= length > 4000 for size, length in sizes), sizes  # not compressed
    assert toasted == 0
    fresh = make_engine(empty_database_url)
    try:
        ensure_schema(fresh)  # an empty database: created from the tables in one go
        with fresh.connect() as connection:
            options = connection.exec_driver_sql(
                "SELECT reloptions FROM pg_class WHERE relname = 'audit_read_batches'"
            ).scalar()
    finally:
        fresh.dispose()
    assert options == [f"toast_tuple_target={AUDIT_BATCH_TOAST_TARGET}"]
