"""SQLite writers of different processes take turns through the lock files next to the database (``write_lock``).

Before them, writers of two processes (``serve --workers 2``) met only in SQLite's busy handler, where a waiter
lost to the other process's stream of writes: an API list's p99 was 1,160 ms on two workers, ~100 ms on one.
Every test here uses real processes and real files; none asserts a duration.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from caldav_bridge.store.engine import make_engine
from caldav_bridge.store.write_lock import WriteLock
from tests.support.sqlite_files import flock_held

ROOT = Path(__file__).resolve().parents[2]
#: A bound on every wait for another process or thread (never reached when the code works).
BOUND = 30.0

#: The other process: one write transaction held until told to commit, then (at once) a second one.
OTHER_WRITER = """
import sys
from sqlalchemy import text
from caldav_bridge.store.engine import make_engine

engine = make_engine(sys.argv[1])
with engine.connect() as connection:
    connection.begin()
    connection.execute(text("INSERT INTO t VALUES ('other-1')"))
    print("holding", flush=True)
    if sys.stdin.readline() != "commit\\n":
        raise SystemExit("not told to commit")
    connection.commit()
with engine.begin() as connection:
    connection.execute(text("INSERT INTO t VALUES ('other-2')"))
print("done", flush=True)
"""


def _database(tmp_path: Path) -> tuple[Path, Engine]:
    database = tmp_path / "shared.db"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (writer TEXT)"))
    return database, engine


@contextmanager
def _other_writer(database: Path) -> Iterator[subprocess.Popen[str]]:
    """The other process, started and holding its first write transaction; killed (by its pid) if still running."""
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_WRITER, f"sqlite:///{database}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    try:
        assert other.stdout is not None
        assert other.stdout.readline() == "holding\n"
        yield other
    finally:
        if other.poll() is None:
            other.kill()
        other.wait(timeout=BOUND)


def _wait_until_held(path: Path) -> None:
    deadline = time.monotonic() + BOUND
    while not flock_held(path):
        assert time.monotonic() < deadline, f"nobody took {path.name}"
        time.sleep(0.001)


def _writer_thread(engine: Engine, name: str) -> threading.Thread:
    def write() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (:name)"), {"name": name})

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def _writers(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT writer FROM t ORDER BY rowid"))]


def test_a_waiting_writer_goes_before_the_other_process_writes_again(tmp_path: Path) -> None:
    """The other process commits and begins again at once: the writer waiting here (holding the place next in line)
    writes in between. Through SQLite's busy handler alone the waiter slept while the other took the lock again."""
    database, engine = _database(tmp_path)
    with _other_writer(database) as other:
        assert flock_held(Path(f"{database}-writer.lock")), (
            "the other process's transaction does not hold the writer lock"
        )
        waiter = _writer_thread(engine, "here")
        _wait_until_held(Path(f"{database}-writer-next.lock"))  # the waiter here is next in line
        assert other.stdin is not None and other.stdout is not None
        other.stdin.write("commit\n")
        other.stdin.flush()
        assert other.stdout.readline() == "done\n"
        waiter.join(timeout=BOUND)
    assert not waiter.is_alive()
    assert _writers(engine) == ["other-1", "here", "other-2"]
    engine.dispose()


def test_a_writer_killed_in_its_transaction_leaves_the_turn_to_the_others(tmp_path: Path) -> None:
    database, engine = _database(tmp_path)
    with _other_writer(database) as other:
        waiter = _writer_thread(engine, "here")
        _wait_until_held(Path(f"{database}-writer-next.lock"))
        os.kill(other.pid, signal.SIGKILL)
        waiter.join(timeout=BOUND)
    assert not waiter.is_alive()
    assert _writers(engine) == ["here"]  # the killed transaction never committed
    engine.dispose()


def test_a_commit_that_fails_is_raised_and_the_turn_handed_on(tmp_path: Path) -> None:
    """A writer's transaction commits before the turn is handed on (``_WriteTurns``): a COMMIT refused (a deferred
    foreign key) is raised as SQLAlchemy raises it, nothing of it stays, and the next writer gets the turn."""
    engine = make_engine(f"sqlite:///{tmp_path / 'refused.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        connection.execute(
            text("CREATE TABLE child (parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)")
        )
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("INSERT INTO child VALUES (7)"))  # checked at COMMIT: there is no parent 7
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO parent VALUES (1)"))
        connection.execute(text("INSERT INTO child VALUES (1)"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT parent_id FROM child")).scalars().all() == [1]
    assert not flock_held(tmp_path / "refused.db-writer.lock")
    engine.dispose()


def _try_the_turn(lock: WriteLock) -> None:
    """In a forked child: exit 0 when the parent's turn keeps this process waiting until its deadline."""
    sys.exit(0 if lock.acquire(time.monotonic() + 0.2) is False else 1)


def test_a_forked_child_does_not_share_its_parents_turn(tmp_path: Path) -> None:
    """flock belongs to the open file: a child using the parent's inherited file would 'hold' the parent's lock."""
    lock = WriteLock(tmp_path / "forked.db")
    assert lock.acquire(time.monotonic() + BOUND)
    try:
        child = multiprocessing.get_context("fork").Process(target=_try_the_turn, args=(lock,))
        child.start()
        child.join(timeout=BOUND)
        assert child.exitcode == 0, "the forked child took the turn its parent holds"
    finally:
        lock.release()
    assert lock.acquire(time.monotonic() + BOUND)
    lock.release()


def test_a_writer_gives_up_the_wait_at_its_deadline_and_keeps_no_place(tmp_path: Path) -> None:
    lock = WriteLock(tmp_path / "deadline.db")
    holder = os.open(lock.paths[0], os.O_RDWR)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        assert lock.acquire(time.monotonic() + 0.05) is False
        assert not flock_held(lock.paths[1]), "the writer that gave up still holds the place next in line"
    finally:
        os.close(holder)
    assert lock.acquire(time.monotonic() + BOUND)
    lock.release()


def test_lock_files_are_private(tmp_path: Path) -> None:
    loose = tmp_path / "loose.db-writer-next.lock"
    loose.touch()
    loose.chmod(0o644)
    old = os.umask(0)
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'loose.db'}")
    finally:
        os.umask(old)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (writer TEXT)"))
    for name in ("loose.db-writer.lock", "loose.db-writer-next.lock"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_writes_without_lock_files(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (writer TEXT)"))
        connection.execute(text("INSERT INTO t VALUES ('here')"))
    assert _writers(engine) == ["here"]
    assert list(tmp_path.iterdir()) == []
    engine.dispose()
