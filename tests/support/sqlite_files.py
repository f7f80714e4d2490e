"""SQLite database files made once and copied for each test; whether a file beside one (a lock, a spool) is locked."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from pathlib import Path

__all__ = ["checkpointed", "flock_held"]


def checkpointed(path: Path) -> None:
    """Everything in the main file (no ``-wal`` beside it), so a plain copy is the whole database."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")


def flock_held(path: Path) -> bool:
    """Whether some open file holds ``path``'s flock now (probed without waiting)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's own lock, if it took one
    return False
