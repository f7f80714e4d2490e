"""Printing for the CLI: JSON for machines (``--json``), aligned text for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["emit", "fail", "table"]


def emit(data: Any, as_json: bool, text: str | None = None) -> int:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    else:
        print(text if text is not None else json.dumps(data, indent=2, default=str))
    return 0


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    widths = {c: max(len(c), *(len(str(r.get(c, "") or "")) for r in rows)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "") or "").ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def fail(message: str, code: int = 1) -> int:
    print(f"appointment-service: error: {message}", file=sys.stderr)
    return code
