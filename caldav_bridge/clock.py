"""The current time, in one place so that tests and jobs agree on it."""

from __future__ import annotations

from datetime import UTC, datetime

from caldav_bridge.model.timestamps import to_utc_ms

__all__ = ["utcnow"]


def utcnow() -> datetime:
    """Now, in UTC, at the millisecond precision the model carries."""
    return to_utc_ms(datetime.now(UTC))
