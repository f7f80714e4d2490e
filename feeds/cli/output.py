"""Printing for the CLI: JSON for machines (``--json``), aligned text for people, and the exit codes.

Exit codes (docs/operations.md): 0 done; 1 done, but some items failed (an import, an export, a
sync run); 2 bad input or usage (the command did nothing); 3 the command could not run (the database
is unreachable, an unexpected error); 130 interrupted (Ctrl-C); 141 the reader of standard output went
away (``| head``).

An error is one line on standard error: ``appointment-service: error: …``, or with ``--json`` one
JSON object ``{"error": {"code": 2, "message": "…", "errors": [{"field": …, "message": …}]}}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from caldav_bridge.errors import FieldError

__all__ = [
    "EXIT_FAILED_ITEMS",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PIPE_CLOSED",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "UsageError",
    "emit",
    "error_line",
    "fail",
    "note",
    "output_file",
    "table",
]

EXIT_OK = 0
EXIT_FAILED_ITEMS = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130
EXIT_PIPE_CLOSED = 141

#: Set by ``main`` from the parsed ``--json`` flag, so errors raised anywhere are printed alike.
_state = {"json": False}


class UsageError(Exception):
    """Bad input that a command itself finds (not a field of a model): one line, exit 2."""

    def __init__(self, message: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.errors = list(errors)


@contextlib.contextmanager
def output_file(path: str, *, binary: bool = False) -> Iterator[IO[Any]]:
    """``path`` to write, whole or not at all, readable by this user only (exports carry patient data): written
    beside it under another name and renamed over it when the block ends without an error, so a failure leaves
    ``path`` as it was. A place that cannot be written is a :class:`UsageError` (one line, exit 2)."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"cannot write {path}: it is a directory")
    try:
        fd, draft = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
        Path(draft).replace(target)
    except BaseException:
        Path(draft).unlink(missing_ok=True)
        raise


def json_errors(enabled: bool) -> None:
    """Print errors as JSON from now on (``--json``)."""
    _state["json"] = enabled


def emit(data: Any, as_json: bool, text: str | None = None) -> int:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    else:
        print(text if text is not None else json.dumps(data, indent=2, default=str))
    return EXIT_OK


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """``rows`` as aligned columns; a missing or null value is a blank cell, ``0`` and ``False`` are shown."""
    if not rows:
        return "(none)"
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(widths[i]) for i, c in enumerate(columns))]
    lines += ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def error_line(message: str, code: int, errors: Sequence[FieldError] = ()) -> str:
    """The one line an error is printed as (JSON with ``--json``)."""
    message = " ".join(message.split())  # one line, whatever the message held
    if _state["json"]:
        body: dict[str, Any] = {"code": code, "message": message}
        if errors:
            body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
        return json.dumps({"error": body})
    return f"appointment-service: error: {message}"


def fail(message: str, code: int = EXIT_USAGE, errors: Sequence[FieldError] = ()) -> int:
    print(error_line(message, code, errors), file=sys.stderr, flush=True)
    return code


def note(message: str) -> None:
    """A remark for the person at the terminal (standard error, so standard output stays data)."""
    print(f"note: {message}", file=sys.stderr, flush=True)
