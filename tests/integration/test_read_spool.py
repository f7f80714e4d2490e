"""SQLite: reads' audit staged in a spool file per process (``store/read_spool.py``), folded into ``audit_log``.

What the spool must hold beyond what ``test_read_audit.py`` asks of every staging (a read staged survives its process
killed, a fold killed before its commit, folds racing each other and new reads): every process writes a file of its
own, private to the service's user, that the others' readers see; a file is deleted only once its writer let go, it
is folded to its end, and its last fold is ``KEEP_SECONDS`` old; a torn line is never folded; lines written by many
threads, from files rotated and from a forked child are each folded once; a mark whose file is gone is removed;
the downgrade past the spool folds what it holds first.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select

from caldav_bridge.runtime import Runtime
from caldav_bridge.store import read_spool
from caldav_bridge.store.migrate import alembic_config
from caldav_bridge.store.read_audit import Folded, Reads
from caldav_bridge.store.read_spool import ReadSpool
from caldav_bridge.store.tables import AuditRow, AuditSpoolMarkRow
from config import Settings
from tests.support.audit import staged_reads

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ROOT = Path(__file__).resolve().parents[2]

#: A child process: stages ``n`` reads of its own through a unit of work, as a request would, and exits.
CHILD = """
import sys
from datetime import UTC, datetime
from caldav_bridge.runtime import Runtime
from caldav_bridge.store.read_audit import Reads
from config import load_settings

settings = load_settings(environ={}, database_url=sys.argv[1], data_dir=sys.argv[2])
rt = Runtime.from_settings(settings)
tag = sys.argv[3]
for i in range(int(sys.argv[4])):
    with rt.uow().reading() as uow:
        uow.audit_reads(Reads(datetime.now(UTC), "child", "api", "read", tag, [(f"{tag}-{i}", "cal-1")]))
        uow.commit()
"""


def _spool(runtime: Runtime) -> ReadSpool:
    spool = read_spool.of(runtime.engine)
    assert spool is not None, "an SQLite file database has a spool"
    return spool


def _read(tag: str, n: int = 1) -> Reads:
    return Reads(datetime.now(UTC), "dispatcher", "api", "read", tag, [(f"{tag}-{i}", "cal-1") for i in range(n)])


def _stage(runtime: Runtime, *reads: Reads) -> None:
    for read in reads:
        with runtime.uow().reading() as uow:
            uow.audit_reads(read)
            uow.commit()


def _fold(runtime: Runtime, directory: Path, keep: float, batches: int = 1000, reads: int = 100_000) -> Folded:
    with runtime.uow() as uow:
        folded = read_spool.fold(uow.session.connection(), directory, batches=batches, reads=reads, keep=keep)
        uow.commit()
    return folded


def _fold_all(runtime: Runtime, directory: Path) -> int:
    total = 0
    while (folded := _fold(runtime, directory, keep=0)) != (0, 0):
        total += folded.reads
    return total


def _folded_ids(runtime: Runtime) -> Counter[str | None]:
    with runtime.uow() as uow:
        return Counter(uow.session.scalars(select(AuditRow.appointment_id).where(AuditRow.action == "read")))


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def _marks(runtime: Runtime) -> dict[str, int]:
    with runtime.uow() as uow:
        return {
            name: offset
            for name, offset in uow.session.execute(select(AuditSpoolMarkRow.name, AuditSpoolMarkRow.offset))
        }


def test_each_process_stages_in_a_private_file_of_its_own_that_every_reader_sees(
    runtime: Runtime, settings: Settings
) -> None:
    _stage(runtime, _read("parent"))
    for tag in ("a", "b"):
        subprocess.run(
            [sys.executable, "-c", CHILD, settings.resolved_database_url(), settings.data_dir, tag, "3"],
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            check=True,
            timeout=120,
        )
    directory = _spool(runtime).directory
    names = _files(directory)
    assert len(names) == 3 and all(n.startswith("reads-") and n.endswith(".jsonl") for n in names), names
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert {stat.S_IMODE((directory / n).stat().st_mode) for n in names} == {0o600}
    assert staged_reads(runtime) == 7  # this process's and both children's, before any fold
    with runtime.uow().reading() as uow:
        assert [r.request_id for r in uow.audit.for_appointment("b-2")] == ["b"]

    assert _fold_all(runtime, directory) == 7
    assert _folded_ids(runtime) == Counter(["parent-0"] + [f"{t}-{i}" for t in "ab" for i in range(3)])
    assert len(_files(directory)) == 1  # the children's files deleted; this process may still append to its own
    assert staged_reads(runtime) == 0


def test_a_file_is_deleted_only_once_its_writer_let_go_it_is_folded_and_its_last_fold_is_old(
    runtime: Runtime,
) -> None:
    spool = _spool(runtime)
    _stage(runtime, _read("r1", 2), _read("r2", 3))
    [name] = _files(spool.directory)

    assert _fold(runtime, spool.directory, keep=0) == Folded(2, 5)
    assert _fold(runtime, spool.directory, keep=0) == Folded(0, 0)
    assert _files(spool.directory) == [name]  # its writer holds it: it may still grow
    _stage(runtime, _read("r3"))
    spool.close()  # as a rotation or the process's end lets go of it
    assert _fold(runtime, spool.directory, keep=0) == Folded(1, 1)  # what it wrote before letting go is folded
    assert _fold(runtime, spool.directory, keep=60) == Folded(0, 0)
    assert _files(spool.directory) == [name] and name in _marks(runtime)  # folded just now: a reader may need it
    assert _fold(runtime, spool.directory, keep=0) == Folded(0, 0)
    assert _files(spool.directory) == [] and _marks(runtime) == {}  # deleted, then its mark
    assert _folded_ids(runtime) == Counter(["r1-0", "r1-1", "r2-0", "r2-1", "r2-2", "r3-0"])

    _stage(runtime, _read("r4"))  # the next read opens a file of its own
    assert len(_files(spool.directory)) == 1 and _files(spool.directory) != [name]


def test_a_torn_line_is_never_folded_and_a_failed_append_starts_a_new_file(runtime: Runtime) -> None:
    spool = _spool(runtime)
    _stage(runtime, _read("whole"))
    [name] = _files(spool.directory)
    with (spool.directory / name).open("ab") as damaged:  # lines damaged in the file: passed over, not stuck on
        damaged.write(b'["2031-05-05 08:00:00.000000","dispatcher","api","read",null,null,[["damaged-0"\n')
        damaged.write(b'{"not": "a read"}\n')
        damaged.write(b'["2031-05-05 08:00:00.000000","dispatcher",null,"read",null,null,[["no-channel","c"]]]\n')
        damaged.write(b'["2031-05-05 08:00:00.000000","dispatcher","api","read",null,null,[[["nested"],"c"]]]\n')
        damaged.write(b'["not a time","dispatcher","api","read",null,null,[["bad-time","c"]]]\n')
    _stage(runtime, _read("whole2", 2))
    with (spool.directory / name).open("ab") as torn:  # what a write cut short leaves: part of a line
        torn.write(b'["2031-05-05 08:00:00.000000","dispatcher","api","read","torn",null,[["torn-0","cal')
    assert staged_reads(runtime) == 2  # a reader never takes either for a read
    spool.close()
    assert _fold_all(runtime, spool.directory) == 3
    assert _folded_ids(runtime) == Counter(["whole-0", "whole2-0", "whole2-1"]) and _files(spool.directory) == []

    with (spool.directory / "not-a-line.jsonl").open("wb") as other:  # not the spool's: never read, never deleted
        other.write(b"{}\n")
    _stage(runtime, _read("after"))
    assert _fold_all(runtime, spool.directory) == 1 and "not-a-line.jsonl" in _files(spool.directory)


def test_lines_of_many_threads_rotated_files_and_a_forked_child_are_each_folded_once(
    runtime: Runtime, tmp_path: Path
) -> None:
    directory = tmp_path / "spool"
    spool = ReadSpool(directory, rotate_bytes=4096)  # a file every ~30 reads
    spool.append([_read("parent-first")])  # the file is open when the process forks
    child = os.fork()  # before any thread runs: the child appends through the spool it inherited
    if child == 0:
        try:
            spool.append([_read(f"child{i}", 2) for i in range(5)])
            spool.append([_read("child-last")])
        finally:
            os._exit(0)
    assert os.waitpid(child, 0)[1] == 0
    by_pid = Counter(name.split("-")[2] for name in _files(directory))
    assert by_pid == Counter({str(os.getpid()): 1, str(child): 1}), by_pid  # the child wrote a file of its own

    def write(t: int) -> None:
        for i in range(60):
            spool.append([_read(f"t{t}-{i}", 1 + i % 3)])

    threads = [threading.Thread(target=write, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(_files(directory)) > 10  # rotated
    spool.close()

    expected = [f"child{i}-{j}" for i in range(5) for j in range(2)] + ["child-last-0", "parent-first-0"]
    expected += [f"t{t}-{i}-{j}" for t in range(6) for i in range(60) for j in range(1 + i % 3)]
    assert _fold_all(runtime, directory) == len(expected)
    assert _folded_ids(runtime) == Counter(expected) and max(Counter(expected).values()) == 1
    assert _files(directory) == []


def test_a_fold_keeps_its_bounds_across_files_and_a_mark_without_its_file_is_removed(runtime: Runtime) -> None:
    spool = _spool(runtime)
    _stage(runtime, *[_read(f"x{i}", 4) for i in range(3)])
    spool.close()
    _stage(runtime, *[_read(f"y{i}", 4) for i in range(3)])  # a second file
    assert _fold(runtime, spool.directory, keep=0, batches=2) == Folded(2, 8)
    assert _fold(runtime, spool.directory, keep=0, reads=5) == Folded(2, 8)  # the file's last, then the next's first
    assert _fold(runtime, spool.directory, keep=0, reads=1) == Folded(1, 4)  # one read always
    with runtime.uow() as uow:
        uow.session.add(AuditSpoolMarkRow(name="reads-gone.jsonl", offset=10, folded_at=datetime.now(UTC)))
        uow.commit()
    assert _fold(runtime, spool.directory, keep=0) == Folded(1, 4)
    assert "reads-gone.jsonl" not in _marks(runtime)
    assert sum(_folded_ids(runtime).values()) == 24


def test_a_file_its_writer_let_go_is_kept_while_a_fold_out_of_budget_passes_it(runtime: Runtime) -> None:
    spool = _spool(runtime)
    for tag in ("a", "b"):
        _stage(runtime, _read(f"{tag}0"), _read(f"{tag}1"))
        spool.close()  # two files, neither with a writer
    assert _fold(runtime, spool.directory, keep=0, batches=1) == Folded(1, 1)  # the budget ends in the first file
    assert len(_files(spool.directory)) == 2  # the second, never folded, is kept
    assert _fold_all(runtime, spool.directory) == 3
    assert _folded_ids(runtime) == Counter(["a0-0", "a1-0", "b0-0", "b1-0"]) and _files(spool.directory) == []


def test_a_directory_gone_for_a_while_or_a_file_that_cannot_be_read_folds_nothing_twice(runtime: Runtime) -> None:
    spool = _spool(runtime)
    _stage(runtime, _read("once"))
    assert _fold(runtime, spool.directory, keep=60) == Folded(1, 1)
    marks = _marks(runtime)
    aside = spool.directory.with_name("moved-away")
    spool.directory.rename(aside)  # an operator moves it, a restore has not brought it back yet
    assert _fold(runtime, spool.directory, keep=0) == Folded(0, 0) and _marks(runtime) == marks
    aside.rename(spool.directory)
    (spool.directory / "reads-0-0-unreadable.jsonl").mkdir()  # a "file" open() refuses: logged, passed over
    _stage(runtime, _read("next"))
    assert _fold(runtime, spool.directory, keep=60) == Folded(1, 1)
    assert _folded_ids(runtime) == Counter(["once-0", "next-0"])


FILL = """
import os, resource, signal, sys
from datetime import UTC, datetime
from pathlib import Path
from caldav_bridge.store.read_audit import Reads
from caldav_bridge.store.read_spool import ReadSpool

spool = ReadSpool(Path(sys.argv[1]))
def read(tag, n=1):
    return Reads(datetime.now(UTC), "d", "api", "read", tag, [(f"{tag}-{i}", "cal-1") for i in range(n)])
spool.append([read("before")])
[name] = os.listdir(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
size = os.path.getsize(os.path.join(sys.argv[1], name))
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 40, resource.RLIM_INFINITY))  # the disk fills mid-line
try:
    spool.append([read("cut", 50)])
except OSError as error:
    print("refused:", error.errno, flush=True)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
spool.append([read("after")])
print(len(os.listdir(sys.argv[1])), flush=True)
"""


def test_a_write_cut_short_refuses_the_read_and_the_next_goes_to_a_new_file(runtime: Runtime, tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    done = subprocess.run(
        [sys.executable, "-c", FILL, str(directory)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.split("\n")[:2] == [f"refused: {errno.ENOSPC}", "2"], done.stdout + done.stderr
    torn = [p for p in directory.iterdir() if not p.read_bytes().endswith(b"\n")]
    assert len(torn) == 1  # the file cut short ends in part of a line
    assert _fold_all(runtime, directory) == 2
    assert _folded_ids(runtime) == Counter(["before-0", "after-0"]) and _files(directory) == []


def test_the_downgrade_past_the_spool_folds_every_read_it_holds_first(runtime: Runtime) -> None:
    spool = _spool(runtime)
    _stage(runtime, _read("before", 3), _read("before2", 2))
    _fold(runtime, spool.directory, keep=0, batches=1)  # one folded, one still spooled
    spool.close()  # the service stopped
    config = alembic_config(runtime.engine)
    with runtime.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0019")
    assert _files(spool.directory) == []
    assert _folded_ids(runtime) == Counter(["before-0", "before-1", "before-2", "before2-0", "before2-1"])


def test_the_backlog_is_the_bytes_past_the_marks_and_the_oldest_read_among_them(runtime: Runtime) -> None:
    spool = _spool(runtime)

    def backlog() -> read_spool.Backlog:
        with runtime.uow() as uow:
            return read_spool.backlog(uow.session, spool.directory)

    assert backlog() == (0, None)
    first, second = _read("first"), _read("second", 3)
    _stage(runtime, first, second)
    [name] = _files(spool.directory)
    size = (spool.directory / name).stat().st_size
    assert backlog() == (size, first.at)
    assert _fold(runtime, spool.directory, keep=60, batches=1) == (1, 1)  # the first read folded: the second waits
    assert backlog() == (size - _marks(runtime)[name], second.at)
    spool.close()
    # another process's older read in a file of its own, after a damaged line: the oldest read of every file counts
    older = datetime(2021, 5, 5, 8, 0, tzinfo=UTC)
    lines = b'{"not": "a read"}\n["2021-05-05 08:00:00.000000","other","api","read",null,null,[["x-0","cal-1"]]]\n'
    (spool.directory / "reads-0000-other.jsonl").write_bytes(lines)
    assert backlog() == (size - _marks(runtime)[name] + len(lines), older)
    _fold_all(runtime, spool.directory)
    assert backlog() == (0, None)
