"""SQLite: each process stages its reads' audit in a file of its own, folded into ``audit_log`` by the job
(``docs/architecture.md``, "Reads and their audit").

Why a file and not the ``audit_read_batches`` row PostgreSQL stages: an SQLite database has one writer at a time.
Staging a read as a row took the write turn (this process's queue, then the other processes' lock) for every read,
and every commit made the page cache of every other connection stale, so the next read of each began by reading
its pages again. Two worker processes listing appointments handed the lock to each other for every list and
served fewer lists than one (bench/README.md, twentieth session). A file per process has one writer: an append
never waits for another process and changes nothing the database's readers cache.

Durability is the database's: one ``write`` of one line per read, in the kernel before any of the data is sent, so
the read's audit survives the process as a WAL commit with ``synchronous=NORMAL`` does (neither is fsynced). A
failed or short write closes the file (its torn tail is never folded) and the read answers an error, never data.

Exactly once: :func:`fold` runs in the caller's write transaction (``BEGIN IMMEDIATE``: one fold at a time, on
every process), reads each file from the offset its ``audit_spool_marks`` row records, inserts the complete lines'
rows into ``audit_log`` and moves the mark past them in the same transaction. A crash before the commit leaves
both as they were. A file's writer holds an exclusive ``flock`` on it while it may append; once that is released
(rotated at :data:`ROTATE_BYTES`, closed, or the process gone), the file is folded to its end and, no sooner than
:data:`KEEP_SECONDS` after its last fold began, deleted before its mark (a crash in between leaves a mark
without a file, which the next fold removes; never a file without its mark). Readers who must see every read now
(:func:`staged`) read the files past their marks; the wait keeps a file a reader's snapshot still needs (a fold
lasts a second at most, a reader's snapshot far less than the minute).

Damaged lines (a line that is not a read, by a bug or the disk) are logged and passed over by the fold and the
readers alike, so no line can stop every later fold; the PostgreSQL table refused such a read when staged.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import islice
from pathlib import Path
from typing import BinaryIO, NamedTuple, cast
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, Table, delete, event, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from caldav_bridge.store.private_files import open_private, private_dir
from caldav_bridge.store.read_audit import Folded, Reads
from caldav_bridge.store.tables import AuditRow, AuditSpoolMarkRow

__all__ = [
    "KEEP_SECONDS",
    "ROTATE_BYTES",
    "Backlog",
    "ReadSpool",
    "backlog",
    "directory_of",
    "fold",
    "of",
    "pending",
    "staged",
]

log = logging.getLogger(__name__)

#: A writer starts a new file once its current one has this many bytes (a list of 50 is a line of ~4 KB), so a
#: long-lived process's reads are deleted as they are folded, not when it exits.
ROTATE_BYTES = 8 * 1024 * 1024
#: A folded file whose writer is gone is deleted this long after its last fold began, not sooner: a reader
#: whose snapshot predates that fold still finds the reads it does not see in ``audit_log`` (:func:`staged`).
KEEP_SECONDS = 60.0

_MARKS = cast(Table, AuditSpoolMarkRow.__table__)
_SQLITE = sqlite.dialect()
#: ``at`` as SQLAlchemy stores it in an SQLite ``audit_log`` row (the fold inserts the line's text as it is).
_STORED_AT = cast(Table, AuditRow.__table__).c.at.type.dialect_impl(_SQLITE).bind_processor(_SQLITE)
#: The rows a fold inserts, as the driver takes them (``at`` as the line holds it, as ``audit_log`` stores it).
_INSERT = (
    "INSERT INTO audit_log (at, actor, channel, action, appointment_id, calendar_id, request_id, detail) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_PREFIX, _SUFFIX = "reads-", ".jsonl"


class ReadSpool:
    """This process's spool file in ``directory``: opened at the first append (created under a temporary name,
    locked, then renamed, so a fold never finds it unlocked while it may grow), one line per read."""

    def __init__(self, directory: Path, rotate_bytes: int = ROTATE_BYTES) -> None:
        self.directory = directory
        self.rotate_bytes = rotate_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self._size = 0
        os.register_at_fork(after_in_child=partial(_after_fork, weakref.ref(self)))

    def __del__(self) -> None:  # an engine dropped without its dispose: its file is let go
        with contextlib.suppress(OSError):
            self._close()

    def append(self, reads: Sequence[Reads]) -> None:
        """Stage ``reads``, one line each, with one ``write``; an ``OSError`` if that failed (nothing staged)."""
        data = b"".join(_encode(r) for r in reads)
        with self._lock:
            if self._fd is None or self._pid != os.getpid():  # a forked child writes a file of its own
                self._open()
            assert self._fd is not None
            try:
                written = os.write(self._fd, data)
            except OSError:
                self._close()
                raise
            if written != len(data):
                self._close()  # the torn line ends this file: the fold never takes a line without its newline
                raise OSError(errno.ENOSPC, "the reads' audit spool took a part of the line")
            self._size += written
            if self._size >= self.rotate_bytes:
                self._close()

    def close(self) -> None:
        """Close the current file (its lock released: the fold deletes it once folded); the next append opens one."""
        with self._lock:
            self._close()

    def _open(self) -> None:
        self._close()  # a forked child closes the file it inherited; its parent's lock stays its parent's
        private_dir(self.directory)
        stem = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"
        unnamed = self.directory / f".{stem}.new"
        fd = open_private(unnamed, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            unnamed.rename(self.directory / f"{_PREFIX}{stem}{_SUFFIX}")
        except OSError:
            os.close(fd)
            raise
        self._fd, self._pid, self._size = fd, os.getpid(), 0

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _forked(self) -> None:
        """In a forked child: a lock of its own (another thread of the parent may have held this one); the file
        it inherited is closed at its first append (:meth:`_open`)."""
        self._lock = threading.Lock()


def _after_fork(spool: weakref.ref[ReadSpool]) -> None:
    found = spool()
    if found is not None:
        found._forked()


#: Each engine's spool (:func:`of`), ``None`` for an engine whose reads are staged in ``audit_read_batches``.
_SPOOLS: WeakKeyDictionary[Engine, ReadSpool | None] = WeakKeyDictionary()
_SPOOLS_LOCK = threading.Lock()


def directory_of(database: Path) -> Path:
    """Where the reads of the SQLite file ``database`` are spooled: a directory next to it."""
    return database.parent / f"{database.name}.reads"


def of(engine: Engine) -> ReadSpool | None:
    """``engine``'s spool, made at the first call for an SQLite file database (next to it, closed with the engine's
    dispose); ``None`` where reads are staged in ``audit_read_batches`` (PostgreSQL, an in-memory SQLite)."""
    try:
        return _SPOOLS[engine]
    except KeyError:
        pass
    with _SPOOLS_LOCK:
        if engine not in _SPOOLS:
            _SPOOLS[engine] = _made_for(engine)
        return _SPOOLS[engine]


def _made_for(engine: Engine) -> ReadSpool | None:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    spool = ReadSpool(directory_of(Path(database)))
    event.listen(engine, "engine_disposed", lambda _engine: spool.close())
    return spool


def _encode(reads: Reads) -> bytes:
    """``[at, actor, channel, action, request_id, detail, [[appointment_id, calendar_id], ...]]``, ``at`` as
    ``audit_log`` stores it (the fold inserts it as it is, :data:`_INSERT`)."""
    at = _STORED_AT(reads.at) if _STORED_AT else reads.at.isoformat()
    fields = [at, reads.actor, reads.channel, reads.action, reads.request_id, reads.detail]
    return json.dumps([*fields, reads.pairs], separators=(",", ":")).encode() + b"\n"


class _Line(NamedTuple):
    """A line's read, checked: strings where ``audit_log`` needs them (``at`` a time), pairs of two strings."""

    at: str
    actor: str
    channel: str
    action: str
    request_id: str | None
    detail: str | None
    pairs: list[list[str]]

    def rows(self) -> list[tuple[str | None, ...]]:
        """Its ``audit_log`` rows as the driver takes them, one a pair."""
        shared = (self.at, self.actor, self.channel, self.action)
        return [(*shared, a, c, self.request_id, self.detail) for a, c in self.pairs]

    def read(self) -> Reads:
        when = datetime.fromisoformat(self.at).replace(tzinfo=UTC)
        pairs = [(a, c) for a, c in self.pairs]
        return Reads(when, self.actor, self.channel, self.action, self.request_id, pairs, self.detail)


def _parse(line: bytes) -> _Line | None:
    """The read a complete line holds; ``None`` (logged) for a line damaged in the file, which a fold passes over
    rather than stop at it for ever (the table refused such a read when staged; a file cannot)."""
    try:
        parsed = _Line(*json.loads(line))
        datetime.fromisoformat(parsed.at)
        if _checked(parsed):
            return parsed
    except (ValueError, TypeError):
        pass
    log.error("audit: a line of a reads' spool is not a read; passed over (%d bytes)", len(line))
    return None


def _checked(line: _Line) -> bool:
    texts = (line.at, line.actor, line.channel, line.action)
    optional = (line.request_id, line.detail)
    return (
        all(isinstance(v, str) for v in texts)
        and all(v is None or isinstance(v, str) for v in optional)
        and isinstance(line.pairs, list)
        and all(isinstance(p, list) and len(p) == 2 and all(isinstance(v, str) for v in p) for p in line.pairs)
    )


class _File(NamedTuple):
    name: str
    handle: BinaryIO


def _names(directory: Path) -> list[str] | None:
    """The spool files' names in ``directory``, oldest first (they begin with their creation time); ``None`` if it
    cannot be listed (gone, not a directory): nothing can be said of its files then."""
    try:
        return sorted(p.name for p in directory.iterdir() if p.name.startswith(_PREFIX) and p.name.endswith(_SUFFIX))
    except OSError:
        return None


def _files(directory: Path, names: list[str]) -> Iterator[_File]:
    """The files of ``names``, opened; one that cannot be read is logged and passed over (its mark kept)."""
    for name in names:
        try:
            handle = (directory / name).open("rb")
        except FileNotFoundError:
            continue  # deleted by a fold since the listing: folded
        except OSError as error:
            log.error("audit: a reads' spool file cannot be read (%s): %s", name, error.strerror)
            continue
        with handle:
            yield _File(name, handle)


def _lines(handle: BinaryIO, offset: int) -> Iterator[tuple[int, bytes]]:
    """The complete lines from ``offset`` on, with the offset after each. A line without its newline (being
    written, or torn) ends the file here."""
    handle.seek(offset)
    for line in handle:
        if not line.endswith(b"\n"):
            return
        offset += len(line)
        yield offset, line


def _sweep_partials(directory: Path, keep: float) -> None:
    """Delete the files a writer made and died before naming (``.<stem>.new``, empty), once ``keep`` seconds old."""
    with contextlib.suppress(OSError):
        for path in directory.glob(".*.new"):
            with contextlib.suppress(OSError), path.open("rb") as handle:
                if time.time() - os.fstat(handle.fileno()).st_mtime > keep:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises while its writer lives
                    path.unlink()


def _marks(connection: Connection) -> dict[str, tuple[int, datetime]]:
    rows = connection.execute(select(_MARKS.c.name, _MARKS.c.offset, _MARKS.c.folded_at))
    return {name: (offset, folded_at) for name, offset, folded_at in rows}


def fold(connection: Connection, directory: Path, *, batches: int, reads: int, keep: float = KEEP_SECONDS) -> Folded:
    """Move the oldest staged reads of ``directory``'s files into ``audit_log`` and their marks past them, in
    ``connection``'s write transaction: up to ``batches`` reads, and none more once ``reads`` rows are taken (the
    first is always taken); then delete the files folded to their end, their writer gone, ``keep`` seconds after."""
    now = datetime.now(UTC)
    names = _names(directory)
    if names is None:
        return Folded(0, 0)  # no directory, no file: no mark is known to be done with
    marks = _marks(connection)
    taken = Folded(0, 0)
    for spool_file in _files(directory, names):
        offset, folded_at = marks.get(spool_file.name, (0, None))
        folded = _fold_file(connection, spool_file, offset, now, Folded(batches, reads).minus(taken))
        taken = taken.plus(folded)
        if folded == (0, 0) and (folded_at is None or folded_at <= now - timedelta(seconds=keep)):
            _delete_if_done(connection, directory, spool_file, offset)
    gone = set(marks) - set(names)
    if gone:
        connection.execute(delete(_MARKS).where(_MARKS.c.name.in_(sorted(gone))))
    _sweep_partials(directory, keep)
    return taken


def _fold_file(connection: Connection, spool_file: _File, offset: int, now: datetime, budget: Folded) -> Folded:
    """Fold ``spool_file``'s lines from ``offset`` within ``budget`` (a damaged line is passed over and counts as a
    read taken, so a file of garbage is not read whole in one round)."""
    if budget.batches <= 0 or budget.reads <= 0:
        return Folded(0, 0)
    rows: list[tuple[str | None, ...]] = []
    batches, end = 0, offset
    for end, line in _lines(spool_file.handle, offset):  # noqa: B007 (the last offset is the new mark)
        parsed = _parse(line)
        rows += parsed.rows() if parsed else []
        batches += 1
        if batches >= budget.batches or len(rows) >= budget.reads:
            break
    if end == offset:
        return Folded(0, 0)
    if rows:
        rows.sort(key=lambda row: (row[4], row[0]))  # appointment, time: the index's order, so its inserts are local
        connection.exec_driver_sql(_INSERT, rows)  # a list of tuples: executemany
    upsert = sqlite_insert(_MARKS).values(name=spool_file.name, offset=end, folded_at=now)
    connection.execute(upsert.on_conflict_do_update(index_elements=["name"], set_={"offset": end, "folded_at": now}))
    return Folded(batches, len(rows))


def _delete_if_done(connection: Connection, directory: Path, spool_file: _File, offset: int) -> None:
    """Delete the file if its writer is gone and nothing complete is left past ``offset`` (a torn tail is not a
    read: the write that tore it failed, and the read answered an error); then its mark."""
    try:
        fcntl.flock(spool_file.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # its writer may still append
    if next(_lines(spool_file.handle, offset), None) is not None:
        return  # appended to before its writer let go: the next fold takes it
    (directory / spool_file.name).unlink(missing_ok=True)
    connection.execute(delete(_MARKS).where(_MARKS.c.name == spool_file.name))


def _staged(session: Session, directory: Path, appointment_id: str | None = None) -> Iterator[Reads]:
    """The reads staged in ``directory`` past their marks (by every process), oldest file first, all or those
    that may hold ``appointment_id`` (a line without its text is not decoded); a damaged line is passed over, as
    the fold passes over it."""
    names = _names(directory)
    if not names:
        return
    marks = _marks(session.connection())
    needle = appointment_id.encode() if appointment_id is not None else b""
    for spool_file in _files(directory, names):
        for _end, line in _lines(spool_file.handle, marks.get(spool_file.name, (0, None))[0]):
            parsed = _parse(line) if needle in line else None
            if parsed is not None:
                yield parsed.read()


def staged(session: Session, directory: Path, appointment_id: str | None = None) -> list[AuditRow]:
    """The reads staged in ``directory`` and not folded yet (by every process), as ``audit_log`` rows (not in the
    session: ``id`` is None), all or ``appointment_id``'s, in the order each file staged them."""
    rows = (row for read in _staged(session, directory, appointment_id) for row in read.rows())
    return [AuditRow(**row) for row in rows if appointment_id is None or row["appointment_id"] == appointment_id]


#: Lines :func:`backlog` reads a file for its first read: enough to pass over a damaged line or two.
_BACKLOG_LINES = 8


class Backlog(NamedTuple):
    """What the fold has yet to take: the bytes staged past the marks, and when the oldest of those reads was made
    (``None``: nothing staged)."""

    bytes: int
    oldest: datetime | None


def backlog(session: Session, directory: Path) -> Backlog:
    """``directory``'s :class:`Backlog`, cheap enough for every scrape of ``/metrics``: each file's size past its
    mark, and the first complete read past it (a damaged line passed over, as the fold does; at most
    :data:`_BACKLOG_LINES` read a file), never the whole backlog."""
    names = _names(directory)
    if not names:
        return Backlog(0, None)
    marks = _marks(session.connection())
    total, oldest = 0, None
    for spool_file in _files(directory, names):
        offset = marks.get(spool_file.name, (0, None))[0]
        size = os.fstat(spool_file.handle.fileno()).st_size
        if size <= offset:
            continue
        total += size - offset
        parsed = (_parse(line) for _end, line in islice(_lines(spool_file.handle, offset), _BACKLOG_LINES))
        first = next((read for read in parsed if read is not None), None)
        if first is not None:
            at = first.read().at
            oldest = at if oldest is None else min(oldest, at)
    return Backlog(total, oldest)


def pending(session: Session, directory: Path) -> Folded:
    """How many reads are staged in ``directory`` and not folded yet, and how many ``audit_log`` rows they make."""
    counted = [len(read.pairs) for read in _staged(session, directory)]
    return Folded(len(counted), sum(counted))
