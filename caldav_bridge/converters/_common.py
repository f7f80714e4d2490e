"""Helpers the format modules share: reading JSON with per-field errors, times, code tables."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from caldav_bridge.converters.base import ConvertedAppointment
from caldav_bridge.converters.errors import ConversionError
from caldav_bridge.errors import FieldError
from caldav_bridge.model.appointment import Appointment
from caldav_bridge.model.timestamps import to_utc_ms
from caldav_bridge.services.validation import field_errors

__all__ = [
    "Reader",
    "build",
    "configure_hint",
    "format_iso",
    "freeze_table",
    "iso_z",
    "join_path",
    "json_copy",
    "meta_place",
    "non_finite_numbers",
    "parse_aware",
    "pick_code",
    "place_text",
    "remembered",
    "render_zone",
]

K = TypeVar("K")
V = TypeVar("V")
E = TypeVar("E", bound=StrEnum)

#: JSON kinds as the messages name them.
_KINDS: dict[str, str] = {
    "string": "a string",
    "integer": "an integer",
    "boolean": "true or false",
    "object": "an object",
    "array": "an array",
    "id": "a string or an integer",
}

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SHORT_OFFSET = re.compile(r"([+-])(\d):(\d{2})$")  # OnSched's documented "-5:00"


def join_path(prefix: str, key: str | int) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _matches(value: object, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, Mapping)
    if kind == "array":
        return isinstance(value, list)
    if kind == "id":
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    raise ValueError(f"unknown kind {kind!r}")


class Reader:
    """Reads one item, collecting every problem as a :class:`FieldError` named in the source format."""

    def __init__(self, format_name: str, payload: object) -> None:
        self.format = format_name
        self.errors: list[FieldError] = []
        if not isinstance(payload, Mapping):
            raise ConversionError(format_name, [FieldError("(item)", f"expected an object, got {_json_kind(payload)}")])
        self.root: Mapping[str, Any] = payload
        self.errors.extend(non_finite_numbers(payload))
        self.check()

    def error(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def get(self, obj: Mapping[str, Any], key: str, kind: str, *, prefix: str = "", required: bool = False) -> Any:
        """``obj[key]`` if it is of ``kind``; ``None`` (and an error if it was required or mistyped) otherwise.

        A JSON ``null`` counts as missing.
        """
        path = join_path(prefix, key)
        value = obj.get(key)
        if value is None:
            if required:
                self.error(path, "is required")
            return None
        if not _matches(value, kind):
            self.error(path, f"expected {_KINDS[kind]}, got {_json_kind(value)}")
            return None
        return value

    def text(self, obj: Mapping[str, Any], key: str, *, prefix: str = "", required: bool = False) -> str | None:
        value: str | None = self.get(obj, key, "string", prefix=prefix, required=required)
        return value

    def source_id(self, obj: Mapping[str, Any], key: str) -> str | None:
        """The item's required string id; an empty one is missing (it could not tell items apart)."""
        value = self.text(obj, key, required=True)
        if value == "":
            self.error(key, "is required")
            return None
        return value

    def ident(self, obj: Mapping[str, Any], key: str, *, prefix: str = "", required: bool = False) -> str | int | None:
        """An id that systems send as a string or a number; an empty string counts as missing."""
        value: str | int | None = self.get(obj, key, "id", prefix=prefix, required=required)
        if value == "":
            if required:
                self.error(join_path(prefix, key), "is required")
            return None
        return value

    def integer_code(self, obj: Mapping[str, Any], key: str, *, required: bool = False) -> int | None:
        """An integer code, also accepted as a string of digits (``"7"``)."""
        value = self.get(obj, key, "id", required=required)
        if isinstance(value, str):
            if not value.strip().lstrip("-").isdigit():
                self.error(key, "expected an integer code")
                return None
            return int(value)
        return value

    def obj(
        self, obj: Mapping[str, Any] | None, key: str, *, prefix: str = "", required: bool = False
    ) -> Mapping[str, Any] | None:
        """A nested object; ``None`` if missing or wrong, and also (silently) if its parent ``obj`` was."""
        if obj is None:
            return None
        value: Mapping[str, Any] | None = self.get(obj, key, "object", prefix=prefix, required=required)
        return value

    def array(self, obj: Mapping[str, Any], key: str, *, prefix: str = "", required: bool = False) -> list[Any]:
        value: list[Any] | None = self.get(obj, key, "array", prefix=prefix, required=required)
        return value or []

    def time(self, obj: Mapping[str, Any], key: str, *, prefix: str = "", required: bool = False) -> datetime | None:
        """An ISO 8601 timestamp that carries a zone."""
        text = self.text(obj, key, prefix=prefix, required=required)
        if text is None:
            return None
        try:
            return parse_aware(text)
        except ValueError as exc:
            self.error(join_path(prefix, key), str(exc))
            return None

    def interval(self, start: datetime | None, end: datetime | None, end_field: str) -> None:
        if start is not None and end is not None and end == start:
            self.error(
                end_field,
                f"equals the start ({iso_z(start)}): an appointment must last some time, and a zero-length "
                "event cannot hold a slot; send the real end",
            )
        elif start is not None and end is not None and end < start:
            self.error(end_field, "must be after the start")

    def lookup(self, table: Mapping[K, V], key: K | None, field: str, what: str) -> V | None:
        """``table[key]``, or an error naming the field and the unmapped code (never a default)."""
        if key is None:
            return None
        try:
            return table[key]
        except KeyError:
            self.error(field, f"{what} {_short(key)} is not mapped; add it to the converter's table")
            return None

    def check(self) -> None:
        if self.errors:
            raise ConversionError(self.format, self.errors)


#: At most this many non-finite numbers of one item are named (one is enough to refuse it).
_MAX_NON_FINITE = 20


def non_finite_numbers(payload: object) -> list[FieldError]:
    """An error naming each number of ``payload`` (decoded JSON, at any depth) that is NaN or infinite.

    JSON has no such numbers, but lenient readers make them of ``NaN``, ``Infinity`` and ``1e400``; kept, they
    would be stored as null (or refused by the store's JSON serializer). So an item holding one is refused,
    naming the field, whether or not the format reads that field. Iterative: a payload of any depth is walked.
    """
    if not _holds_non_finite(payload):
        return []
    errors: list[FieldError] = []
    stack: list[tuple[str, object]] = [("", payload)]
    while stack and len(errors) < _MAX_NON_FINITE:
        path, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            what = "NaN is not a number" if math.isnan(value) else "the number is out of range (infinite)"
            errors.append(FieldError(path or "(item)", f"{what}: JSON cannot hold it; send a finite number or null"))
        elif isinstance(value, Mapping):
            stack.extend((join_path(path, str(k)), v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((join_path(path, i), v) for i, v in reversed(list(enumerate(value))))
    return errors


def _holds_non_finite(payload: object) -> bool:
    """Whether ``payload`` holds a NaN or infinite number anywhere: the walk of :func:`non_finite_numbers` without
    the paths, which it builds only for an item that has one (every item is checked; almost none has one)."""
    stack = [payload]
    while stack:
        value = stack.pop()
        if isinstance(value, float):
            if not math.isfinite(value):
                return True
        elif isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_aware(text: str) -> datetime:
    """An ISO 8601 timestamp with a zone, in UTC at millisecond precision.

    Raises ``ValueError`` with a message for a caller to show: a date alone, a time without a zone
    and text that is not a timestamp are each told apart.
    """
    if _DATE_ONLY.fullmatch(text.strip()):
        raise ValueError(f"{_short(text)} is a date without a time of day or zone; expected a timestamp with an offset")
    try:
        value = datetime.fromisoformat(_SHORT_OFFSET.sub(r"\g<1>0\g<2>:\g<3>", text.strip()))
    except ValueError:
        raise ValueError(f"{_short(text)} is not an ISO 8601 timestamp") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{_short(text)} has no time zone; add an offset or 'Z'")
    return to_utc_ms(value)


def format_iso(value: datetime, zone: str | None = None) -> str:
    """``2021-05-21T09:30:00+02:00``: in ``zone`` (UTC if none), seconds unless there are milliseconds."""
    local = value.astimezone(ZoneInfo(zone) if zone else UTC)
    return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")


def iso_z(value: datetime) -> str:
    """``2019-08-24T14:15:22Z``, or ``…22.678Z`` when there are milliseconds (Calendly's two spellings)."""
    value = to_utc_ms(value)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{value.microsecond // 1000:03d}Z" if value.microsecond else f"{text}Z"


def freeze_table(table: Mapping[K, Any], enum: type[E], what: str) -> Mapping[K, E]:
    """A read-only copy of a configured table, its values checked against ``enum``.

    Tables come from configuration files, so the values may be plain strings (``"FOLLOW_UP"``).
    """
    frozen: dict[K, E] = {}
    for key, value in table.items():
        try:
            frozen[key] = enum(value)
        except ValueError:
            raise ValueError(f"{what}: {value!r} (for {key!r}) is not one of {', '.join(enum)}") from None
    return MappingProxyType(frozen)


def pick_code(table: Mapping[K, V], wanted: V, remembered: object = None) -> K | None:
    """The code to write for ``wanted``: the remembered one while it still means ``wanted``, else the
    first code the table maps to it, else ``None``."""
    candidates = [code for code, value in table.items() if value == wanted]
    # Compared, not looked up: a remembered value comes from meta, which callers can edit (even to a list).
    return next((code for code in candidates if code == remembered), candidates[0] if candidates else None)


def remembered(appointment: Appointment, format_name: str) -> Mapping[str, Any]:
    """What an earlier import from ``format_name`` kept under ``meta.<format_name>``."""
    value = (appointment.meta.model_extra or {}).get(format_name)
    return value if isinstance(value, Mapping) else {}


def meta_place(appointment: Appointment) -> str | None:
    """``meta.location`` as a place's text (a string, or an object's ``name`` or ``address``), None if blank: what
    formats with a place field of their own (Calendly, Timekit) write there."""
    value = (appointment.meta.model_extra or {}).get("location")
    if isinstance(value, Mapping):
        value = value.get("name") or value.get("address")
    return place_text(value)


def place_text(value: object) -> str | None:
    """``value`` if it is a text that is not blank (kept as written), else None."""
    return value if isinstance(value, str) and value.strip() else None


def render_zone(appointment: Appointment) -> str | None:
    """The zone to write local times in: the first guest's, else none (UTC)."""
    return appointment.guests[0].timezone if appointment.guests else None


def build(
    format_name: str,
    fields: dict[str, Any],
    source_fields: Mapping[str, str],
) -> ConvertedAppointment:
    """Validate the canonical fields; report a model error under the source field it came from.

    ``source_fields`` maps canonical paths to source paths; ``*`` stands for a list index on both sides
    (``{"guests.*.timezone": "customers.*.timezone"}``).
    """
    try:
        return ConvertedAppointment.model_validate({"format": format_name, **fields})
    except ValidationError as exc:
        errors = [FieldError(_source_path(e.field, source_fields), e.message) for e in field_errors(exc)]
        raise ConversionError(format_name, errors) from None


def _source_path(path: str, source_fields: Mapping[str, str]) -> str:
    parts = path.split(".")
    for canonical, source in source_fields.items():
        pattern = canonical.split(".")
        if len(parts) < len(pattern):
            continue
        index: str | None = None
        for want, got in zip(pattern, parts, strict=False):
            if want == "*" and got.isdigit():
                index = got
            elif want != got:
                break
        else:
            mapped = source.replace("*", index or "0")
            rest = parts[len(pattern) :]
            return ".".join([mapped, *rest]) if rest else mapped
    return path


def json_copy(value: Any) -> Any:
    """A copy of decoded JSON that shares no mutable part with the caller's payload."""
    if isinstance(value, Mapping):
        return {str(k): json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


def configure_hint(code: str, canonical_type: str, setting: str) -> str:
    """The error for a type with no code in a format's table, saying how to configure one."""
    return (
        f"no {code} is configured for {canonical_type}: add one to the {setting} table, e.g. "
        f"APPOINTMENTS_{setting.upper()}='<code>={canonical_type};…' in the environment or "
        f"[appointments.{setting}] in the settings file (docs/converters.md; the demo's are in config/demo.toml)"
    )
