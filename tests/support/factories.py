"""Request bodies for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["appointment_body", "iso"]


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def appointment_body(
    calendar_id: str, *, start: datetime | None = None, minutes: int = 60, **overrides: Any
) -> dict[str, Any]:
    start = start or datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    body: dict[str, Any] = {
        "calendar": {"id": calendar_id},
        "date_start": iso(start),
        "date_end": iso(start + timedelta(minutes=minutes)),
        "name": "Hearing aid fitting w/Jane",
        "description": "Bring the audiogram.",
        "guests": [
            {
                "id": "cust-1",
                "first_name": "Jane",
                "last_name": "Doe",
                "timezone": "America/Denver",
                "email": "jane@example.com",
            }
        ],
        "meta": {
            "type": "INITIAL",
            "salesforce": {"opportunity_gid": "0069E00000HbsUrQAJ", "customer_gid": "0039E00001"},
            "source": "test",
        },
    }
    body.update(overrides)
    return body
