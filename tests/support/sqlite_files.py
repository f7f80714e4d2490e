"""SQLite database files made once and copied for each test."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

__all__ = ["checkpointed"]


def checkpointed(path: Path) -> None:
    """Everything in the main file (no ``-wal`` beside it), so a plain copy is the whole database."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")
