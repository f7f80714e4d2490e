"""Files and directories only the service's user may read: data directories 0700, data files 0600.

The SQLite database, its WAL and shared-memory files (SQLite gives them the database's mode), the reads' audit
spool, the write-turn lock files, the outgoing mail sink, secrets: patient data and keys are never world- or
group-readable, whatever the process's umask. Directories and files that exist already are tightened only if they
are the service's own data (the callers say which).

A command run as root against the service's data (``appointment-service users add`` in a root shell) must not
leave a file the service's user cannot open: a 0600 spool file, lock file or key of root's would stop the
service's fold, writers or start. So what root makes here takes the owner and group of the directory it is made
in, the service's data directory (SQLite does the same for its journal, WAL and shared-memory files, after the
database file). Any other user's files are its own, as ever.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "open_private", "private_dir", "private_file", "private_once", "write_private"]

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` and its missing parents, created 0700 (existing directories are left as they are)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
        directory.chmod(DIR_MODE)  # mkdir's mode is filtered by the umask
        _owned_as_parent(directory, directory.parent)
    return path


def open_private(path: Path, flags: int) -> int:
    """``os.open(path, flags)`` of a data file: one it creates is 0600 (and, made by root, its directory's
    owner's)."""
    fd = os.open(path, flags, FILE_MODE)
    try:
        _owned_as_parent(fd, path.parent)
    except OSError:
        os.close(fd)
        raise
    return fd


def private_file(path: Path) -> Path:
    """``path`` created empty 0600 if missing; an existing file more open than that is tightened."""
    try:
        fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(mode & 0o700)
    else:
        os.close(fd)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (replacing it), readable by the service's user only."""
    private_dir(path.parent)
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    path.chmod(FILE_MODE)


def private_once(path: Path, data: bytes) -> bytes:
    """What ``path`` holds; where it is missing, ``data`` is written there first (0600), whole or not at all:
    the file is written under another name and linked to ``path``, so of processes starting at once one's
    ``data`` is everyone's, and none reads a file half written."""
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes()
    private_dir(path.parent)
    draft = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}")
    fd = open_private(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.link(draft, path)
    except FileExistsError:
        return path.read_bytes()
    finally:
        draft.unlink()
    return data


def _owned_as_parent(target: int | Path, parent: Path) -> None:
    """As root: ``target`` (a path or an open descriptor) gets ``parent``'s owner and group where it has
    another's. Nothing for any other user (only root may give a file away)."""
    if os.geteuid() != 0:
        return
    owner, own = parent.stat(), os.fstat(target) if isinstance(target, int) else target.stat()
    if (own.st_uid, own.st_gid) != (owner.st_uid, owner.st_gid):
        os.chown(target, owner.st_uid, owner.st_gid)
