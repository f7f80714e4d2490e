"""Reads' audit: kept as one row per read (PostgreSQL, ``store/read_audit.py``) or staged in spool files and folded
into ``audit_log`` (an SQLite file database, ``store/read_spool.py``).

On both: a read's record survives its process killed before any fold; readers (``AuditRepository.for_appointment``)
see every read at once, in the order things happened; the job leaves every read in the trail once. SQLite: a fold
killed before it commits leaves everything staged; folds in a row, racing each other and racing new reads copy every
read exactly once, within their bounds and time. PostgreSQL: one appointment's reads are found by the GIN index;
migration 0021 gives the reads recorded before it their ids; a list's row stays whole in its page.
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
from alembic import command
from sqlalchemy import select

from caldav_bridge.jobs.catalog import build_scheduler
from caldav_bridge.model.requests import AppointmentDraft, CancelRequest
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import appointments
from caldav_bridge.services.actor import system_actor
from caldav_bridge.services.audit_trail import fold_staged_reads
from caldav_bridge.store.engine import make_engine
from caldav_bridge.store.migrate import alembic_config, ensure_schema, upgrade
from caldav_bridge.store.read_audit import Folded, Reads, kept_select
from caldav_bridge.store.tables import AUDIT_BATCH_TOAST_TARGET, AuditRow
from config import Settings
from tests.conftest import People
from tests.support.audit import audit_trail, fold_reads, kept_reads, staged_reads
from tests.support.factories import appointment_body

ROOT = Path(__file__).resolve().parents[2]
#: The tests of the spool's folds: only an SQLite file database stages reads to fold.
SPOOLED = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
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


def _read_ids(runtime: Runtime) -> Counter[str | None]:
    """Every read appointment in the trail (folded first), each as often as it was read."""
    return Counter(a.appointment_id for a in audit_trail(runtime, AuditRow.action == "read"))


def _spooled(runtime: Runtime) -> bool:
    return runtime.engine.dialect.name == "sqlite"


def test_a_read_recorded_survives_a_process_killed_before_any_fold(
    runtime: Runtime, people: People, settings: Settings
) -> None:
    ids = _create(runtime, people, 3)
    assert _child(settings, "read") == "3"  # the data was answered, then the process died
    assert (staged_reads(runtime), kept_reads(runtime)) == ((1, 0) if _spooled(runtime) else (0, 1))
    with runtime.uow().reading() as uow:  # readers see it before any fold
        for appointment_id in ids:
            reads = [(a.actor, a.action, a.id) for a in uow.audit.for_appointment(appointment_id)]
            assert reads[-1] == ("reader", "read", None), reads
    trail = audit_trail(runtime, AuditRow.actor == "reader")
    assert sorted((a.appointment_id for a in trail), key=str) == sorted(ids)
    assert {(a.action, a.channel, a.calendar_id) for a in trail} == {("read", "api", people.fitter.calendar_id)}
    assert staged_reads(runtime) == 0


@SPOOLED
def test_a_fold_killed_before_it_commits_leaves_every_read_staged(runtime: Runtime, settings: Settings) -> None:
    ids = _stage(runtime, 4, 5)
    assert _child(settings, "fold") == "20"  # folded in its transaction, killed before the commit
    assert staged_reads(runtime) == 4 and _folded_ids(runtime) == Counter()
    assert fold_reads(runtime) == 20
    assert _folded_ids(runtime) == Counter(ids) and max(Counter(ids).values()) == 1


@SPOOLED
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


@SPOOLED
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
    assert fold_reads(runtime) == (1 if _spooled(runtime) else 0)  # PostgreSQL: the read's row is its record
    with runtime.uow().reading() as uow:
        after = uow.audit.for_appointment(appointment_id)
    assert [(a.action, a.actor) for a in after] == before
    assert [a.id is not None for a in after] == [True, _spooled(runtime), True]


def test_the_job_leaves_every_read_in_the_trail_once(runtime: Runtime) -> None:
    ids = _stage(runtime, 3, 2)
    job = build_scheduler(runtime).get_job("audit-fold-reads")  # built, not started: run by hand
    assert job is not None
    assert job.run() == (6 if _spooled(runtime) else 0)  # PostgreSQL: nothing staged, the rows are kept
    assert staged_reads(runtime) == 0 and _read_ids(runtime) == Counter(ids)
    assert job.run() == 0
    assert _read_ids(runtime) == Counter(ids)


@SPOOLED
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


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no GIN index
def test_one_appointments_reads_are_found_by_the_gin_index(runtime: Runtime) -> None:
    """PostgreSQL: an appointment's reads among many others' come back whole and in order, and the query that finds
    them can use the GIN index of the reads' ids (with sequential scans off: it must not need one)."""
    # an id as no UUID is: the array literal's quoting holds (braces, a comma, a quote, a backslash, a space)
    wanted, calendar_id = '{"a,b"}\\ ' + uuid.uuid4().hex[:16], str(uuid.uuid4())
    for n in range(40):
        pairs = [(str(uuid.uuid4()), calendar_id) for _ in range(50)]
        if n in (7, 31):
            pairs[n % 50] = (wanted, calendar_id)
        with runtime.uow().reading() as uow:
            uow.audit_reads(Reads(T0 + timedelta(minutes=n), "dispatcher", "api", "read", f"list-{n}", pairs))
            uow.commit()
    with runtime.uow().reading() as uow:
        found = uow.audit.for_appointment(wanted)
    assert [(a.request_id, a.at, a.calendar_id, a.id) for a in found] == [
        ("list-7", T0 + timedelta(minutes=7), calendar_id, None),
        ("list-31", T0 + timedelta(minutes=31), calendar_id, None),
    ]
    query = kept_select("postgresql", wanted).compile(runtime.engine, compile_kwargs={"literal_binds": True})
    with runtime.engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        explained = connection.exec_driver_sql(f"EXPLAIN {query}").scalars().all()
    assert any("ix_audit_read_batches_appointment_ids" in line for line in explained), explained


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
def test_0021_gives_the_reads_recorded_before_it_their_ids_and_its_downgrade_takes_them_back(
    empty_database_url: str,
) -> None:
    """PostgreSQL: reads staged under 0020 (to be folded then) get their appointments' ids, in order, and are found
    by appointment; the downgrade removes the column and its index (0020's fold then takes the rows again)."""
    engine = make_engine(empty_database_url)
    try:
        upgrade(engine, "0020")
        ids = [str(uuid.uuid4()) for _ in range(3)]
        pairs = "[" + ",".join(f'["{a}","cal-1"]' for a in ids) + "]"
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO audit_read_batches (at, actor, channel, action, request_id, detail, pairs, reads) "
                f"VALUES (now(), 'dispatcher', 'api', 'read', 'before', NULL, '{pairs}', 3)"
            )
        upgrade(engine)
        with engine.connect() as connection:
            stored = connection.exec_driver_sql("SELECT appointment_ids FROM audit_read_batches").scalar()
            found = connection.execute(kept_select("postgresql", ids[1])).mappings().all()
        assert stored == ids
        assert [(r["request_id"], r["appointment_id"]) for r in found] == [("before", ids[1])]
        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0020")
        with engine.connect() as connection:
            columns = (
                connection.exec_driver_sql(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'audit_read_batches'"
                )
                .scalars()
                .all()
            )
        assert "appointment_ids" not in columns and "pairs" in columns
    finally:
        engine.dispose()
