"""Timestamps as the brief writes them: ISO 8601, UTC, milliseconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = ["UtcTimestamp", "format_timestamp", "parse_timestamp", "to_utc_ms"]


def to_utc_ms(value: datetime) -> datetime:
    """``value`` in UTC, truncated to whole milliseconds (the precision the model carries)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a time zone (an offset or 'Z') is required")
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before the first representable instant
        raise ValueError("out of range: the time in UTC must fall within the years 1 to 9999") from None
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def format_timestamp(value: datetime) -> str:
    """``2021-05-21T07:46:31.000Z`` (years 1000 to 9999)."""
    if value.tzinfo is not UTC:
        value = to_utc_ms(value)
    # isoformat truncates to milliseconds as to_utc_ms does, and in UTC it ends "+00:00"
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO 8601 timestamp that carries a zone; a naive one is an error."""
    return to_utc_ms(datetime.fromisoformat(text))


def _reject_naive_strings(value: Any) -> Any:
    """A string parsed as ISO 8601 with a zone; a number refused (pydantic would read it as Unix seconds or
    milliseconds, whichever it guesses: a client's epoch millis and seconds must not both mean a time)."""
    if isinstance(value, str):
        try:
            return parse_timestamp(value)
        except ValueError as exc:
            raise ValueError(f"expected an ISO 8601 timestamp with a time zone: {exc}") from None
    if isinstance(value, int | float):
        raise ValueError("expected an ISO 8601 timestamp with a time zone, not a number")
    return value


UtcTimestamp = Annotated[
    datetime,
    BeforeValidator(_reject_naive_strings),
    AfterValidator(to_utc_ms),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2021-05-21T07:46:31.000Z"]}),
]
