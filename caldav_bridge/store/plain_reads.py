"""Appointments read as plain data (:class:`PlainRow`), not ORM objects: what the read paths map to JSON.

A page is two queries: the appointments with their calendar's name and zone, then all their guests; one
appointment is one query (its guests outer-joined, a result row per guest), built once. The columns are read as the
driver gives them (``type_coerce`` to a type without result processing, JSON columns as text on both databases)
and converted here with C-level calls: ``datetime.fromisoformat`` for SQLite's text timestamps (PostgreSQL's driver
hands over aware datetimes), json's C scanner for the JSON text. No identity map, no instrumentation, no lazy
loads, no per-value SQLAlchemy processors. ``tests/integration/test_api_reads.py`` holds the JSON
built from these byte-equal to the models' dump of the ORM rows.
"""

from __future__ import annotations

import json
import json.scanner
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    Engine,
    Integer,
    Select,
    String,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from caldav_bridge.store import auth_clock, driver
from caldav_bridge.store.engine import READ_ONLY
from caldav_bridge.store.page_filters import Filtered
from caldav_bridge.store.plain_rows import PlainGuest, PlainRow
from caldav_bridge.store.tables import AppointmentGuestRow, AppointmentRow, CalendarRow
from caldav_bridge.store.types import UtcDateTime

__all__ = [
    "PAGE",
    "EncodedRow",
    "NamedCalendar",
    "PlainCalendar",
    "StoredCopy",
    "ascii_json",
    "encoded_row",
    "encoded_rows",
    "encoded_select",
    "final_copy",
    "page_select",
    "plain_row",
    "plain_rows",
    "stored_copy",
]

_APPOINTMENT = AppointmentRow.__table__
_GUESTS = AppointmentGuestRow.__table__
_CALENDARS = CalendarRow.__table__
_COLUMNS = [_APPOINTMENT.c[f.name] for f in fields(PlainRow) if f.name in _APPOINTMENT.c]
_NAMES = tuple(c.key for c in _COLUMNS)
_WIDTH = len(_NAMES)
_GUEST_COLUMNS = (
    _GUESTS.c.position,
    _GUESTS.c.person_id,
    _GUESTS.c.first_name,
    _GUESTS.c.last_name,
    _GUESTS.c.timezone,
    _GUESTS.c.extra,
)
_RAW = String()  # no result processor on either dialect: values come as the driver gives them


def _raw(column: Any) -> Any:
    """``column`` as the driver gives it; a JSON column as its text on both databases (PostgreSQL's driver would
    decode it with ``json.loads`` over bytes, three times the cost of :func:`_document`)."""
    if isinstance(column.type, JSON):
        return type_coerce(cast(column, Text), _RAW)
    return type_coerce(column, _RAW)


def _utc(value: datetime | str | None) -> datetime | None:
    """What :class:`UtcDateTime` gives for a stored value (SQLite: naive UTC text; PostgreSQL: aware)."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


#: The C scanner ``json.loads`` ends in, without its three Python frames per call (127 calls in a page of 50).
_scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def _document(value: Any) -> dict[str, Any]:
    """A JSON column's value as a dict (SQLite: JSON text; PostgreSQL: decoded), ``{}`` for none."""
    if isinstance(value, str):
        if value == "{}" or value == "null":
            return {}
        try:
            found, end = _scan(value, 0)
        except StopIteration:
            found, end = None, -1
        value = found if end == len(value) else json.loads(value)  # anything unusual: the full parser decides
    return value or {}


def _converter(column: Any) -> Callable[[Any], Any] | None:
    if isinstance(column.type, UtcDateTime):
        return _utc
    if isinstance(column.type, JSON):
        return _document
    return None


#: (position in the appointment columns, converter) of every column whose raw value needs converting.
_CONVERTED = tuple((i, f) for i, f in ((i, _converter(c)) for i, c in enumerate(_COLUMNS)) if f is not None)


class PlainCalendar:
    __slots__ = ("id", "name", "timezone")

    def __init__(self, calendar_id: str, name: str, timezone: str) -> None:
        self.id, self.name, self.timezone = calendar_id, name, timezone


#: The appointment's columns as the driver gives them, then its calendar's name and zone.
_ROW_COLUMNS = (*(_raw(c) for c in _COLUMNS), _CALENDARS.c.name, _CALENDARS.c.timezone)
_GUEST_OF = _GUESTS.c.appointment_id
#: A page's guests (PostgreSQL: SQLite reads them inside the page's one statement): every guest of the
#: appointments whose ids are bound as ``ids``, one array parameter (``= ANY``), in (appointment, position) order.
#: One parameter, not one per id: psycopg caches a statement's conversion only up to 50 parameters, and a page of
#: 50 (51 ids) was converted anew on every request (~0.2 ms).
_PAGE_GUESTS = (
    select(_GUEST_OF, *(_raw(c) for c in _GUEST_COLUMNS))
    .where(any_(bindparam("ids", type_=ARRAY(String))) == _GUEST_OF)
    .order_by(_GUEST_OF, _GUESTS.c.position)
)
#: One live appointment (bound as ``id``) with its calendar and, outer-joined, its guests: one statement, built once.
_ONE = (
    select(*_ROW_COLUMNS, *(_raw(c) for c in _GUEST_COLUMNS))
    .join_from(_APPOINTMENT, _CALENDARS, _CALENDARS.c.id == _APPOINTMENT.c.calendar_id)
    .outerjoin(_GUESTS, _APPOINTMENT.c.id == _GUEST_OF)
    .where(_APPOINTMENT.c.id == bindparam("id"), _APPOINTMENT.c.deleted_at.is_(None))
    .order_by(_GUESTS.c.position)
)


#: What a page of appointments selects (``AppointmentRepository`` adds the filters, order and limit): the
#: appointment's columns as the driver gives them and its calendar's name and zone. Built once.
PAGE: Select[Any] = select(*_ROW_COLUMNS).join_from(
    AppointmentRow, CalendarRow, CalendarRow.id == AppointmentRow.calendar_id
)


def _sqlite_value(column: Any) -> Any:
    """``column`` inside a SQLite ``json_array``: a JSON column as its JSON (not a string of it)."""
    return func.json(column) if isinstance(column.type, JSON) else column


#: SQLite: a guest as a JSON array (the columns of :data:`_GUEST_COLUMNS`), and an appointment's guests as one
#: JSON array of those (in no particular order: :func:`_document_rows` sorts them by position).
_SQLITE_GUESTS = func.json(
    literal_column("'['")
    .concat(
        func.coalesce(
            select(func.group_concat(func.json_array(*(_sqlite_value(c) for c in _GUEST_COLUMNS)), ","))
            .where(_APPOINTMENT.c.id == _GUEST_OF)
            .scalar_subquery(),
            literal_column("''"),
        )
    )
    .concat(literal_column("']'"))
)
#: SQLite: an appointment as one JSON array: its columns, its calendar's name and zone, its guests.
_SQLITE_ROW = func.json_array(
    *(_sqlite_value(c) for c in _COLUMNS), _CALENDARS.c.name, _CALENDARS.c.timezone, _SQLITE_GUESTS
).label("j")
_SQLITE_PAGE: Select[Any] = select(_SQLITE_ROW).join_from(
    AppointmentRow, CalendarRow, CalendarRow.id == AppointmentRow.calendar_id
)
#: SQLite: the rows of a statement selecting ``j`` (:data:`_SQLITE_ROW`) as one JSON array of them.
_SQLITE_DOCUMENT = (
    literal_column("'['").concat(func.group_concat(literal_column("j"), ",")).concat(literal_column("']'"))
)


def _as_document(stmt: Select[Any]) -> Select[Any]:
    return select(_SQLITE_DOCUMENT).select_from(stmt.subquery())


_SQLITE_ONE_DRIVER = driver.DriverStatement(
    _as_document(_SQLITE_PAGE.where(_APPOINTMENT.c.id == bindparam("id"), _APPOINTMENT.c.deleted_at.is_(None)))
)
_ONE_DRIVER = driver.DriverStatement(_ONE)


# ------------------------------------------------------------ the canonical JSON, encoded by the database
#
# ``mapping.canonical_json`` as one SQL expression over an appointment's row, written as SQL text (constant: no
# input reaches it) by concatenation: SQLite's ``json_quote`` and PostgreSQL's ``to_json`` write a string as
# ``json.dumps(..., ensure_ascii=False)`` does (what is past ASCII, and DEL, is escaped afterwards,
# :func:`ascii_json`), and no JSON is parsed again on the way. The one difference is the extras (meta's, a guest's
# keys the model does not name): SQLite re-renders them compact (``json_remove``); PostgreSQL's JSONB writes its own
# spacing and numbers, so there they come between two markers, as JSONB writes them, and Python re-encodes them
# (:func:`_extras`; most rows have none).


@dataclass(frozen=True, slots=True)
class _Dialect:
    """How one database writes an appointment's canonical JSON: SQL text for each kind of value."""

    #: A column's value as JSON (``null`` for NULL).
    quote: Callable[[str], str]
    #: A stored UTC timestamp as ``format_timestamp`` writes it, quoted (``"2021-05-21T07:46:31.000Z"``).
    timestamp: Callable[[str], str]
    #: The end of an object: the keys of the JSON column (first argument) that are not named (second), in their
    #: stored order, as ``mapping._with_extra`` adds them, then ``}``.
    end: Callable[[str, tuple[str, ...]], str]
    #: A list of the guest objects (SQL of one over ``appointment_guests``) of ``appointments``, in position order.
    guests: Callable[[str], str]
    #: What a read needs of an appointment besides its JSON (audit, cursor, ETag), as a JSON array: id, calendar,
    #: start (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC), version, the calendar's name.
    head: str
    #: The function of a character by its code, and the rows ``j`` of a subquery as one text (in no particular
    #: order where the database cannot order an aggregate: SQLite 3.40).
    char: str
    records: str


def _sqlite_quote(column: str) -> str:
    return f"json_quote({column})"


def _sqlite_timestamp(column: str) -> str:
    """SQLAlchemy stores ``YYYY-MM-DD HH:MM:SS.ffffff``: sliced (milliseconds truncated, as Python does); any other
    stored form through ``strftime``."""
    return (
        f"(CASE WHEN length({column}) = 26 THEN '\"' || substr({column}, 1, 10) || 'T' || substr({column}, 12, 12)"
        f" || 'Z\"' ELSE json_quote(strftime('%Y-%m-%dT%H:%M:%fZ', {column})) END)"
    )


def _sqlite_end(extra: str, named: tuple[str, ...]) -> str:
    """Re-rendered compact by ``json_remove``, computed once per row in a subquery."""
    paths = ", ".join(f"'$.{key}'" for key in named)
    rest = (
        f"(SELECT CASE WHEN r = '{{}}' THEN '}}' ELSE ',' || substr(r, 2) END"  # noqa: S608 (constant SQL)
        f" FROM (SELECT json_remove({extra}, {paths}) AS r))"
    )
    return f"(CASE WHEN {extra} IS NULL OR {extra} = '{{}}' THEN '}}' ELSE {rest} END)"


def _sqlite_guests(guest: str) -> str:
    """An ordered correlated subquery, concatenated (SQLite 3.40 has no ORDER BY inside an aggregate)."""
    return (
        f"('[' || coalesce((SELECT group_concat(g, ',') FROM (SELECT {guest} AS g FROM appointment_guests"  # noqa: S608
        f" WHERE {_GUEST_OF_ROW} ORDER BY appointment_guests.position)), '') || ']')"
    )


def _postgres_quote(column: str) -> str:
    return f"coalesce(to_json({column})::text, 'null')"


def _postgres_timestamp(column: str) -> str:
    """``to_char`` truncates to milliseconds (``MS``), as Python does."""
    return f"('\"' || to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') || '\"')"


#: PostgreSQL: the extras, as JSONB writes them, between these two (control characters: JSON escapes them).
_EXTRAS_START, _EXTRAS_END = "\x1c", "\x1d"


def _postgres_end(extra: str, named: tuple[str, ...]) -> str:
    """The JSONB object without the named keys (in JSONB's order: the order the plain rows read it in), between
    the markers, or nothing where none are left (or the column holds no object)."""
    keys = ", ".join(f"'{key}'" for key in named)
    rest = f"nullif(({extra} - ARRAY[{keys}])::text, '{{}}')"
    return (
        f"coalesce(CASE WHEN jsonb_typeof({extra}) = 'object'"
        f" THEN chr({ord(_EXTRAS_START)}) || {rest} || chr({ord(_EXTRAS_END)}) END, '') || '}}'"
    )


def _postgres_guests(guest: str) -> str:
    guests = f"SELECT string_agg({guest}, ',' ORDER BY appointment_guests.position)"
    return f"('[' || coalesce(({guests} FROM appointment_guests WHERE {_GUEST_OF_ROW}), '') || ']')"


_GUEST_OF_ROW = "appointment_guests.appointment_id = appointments.id"
#: Separators of :func:`encoded_rows`'s text: between appointments, and between an appointment's head and its
#: JSON. Control characters: JSON escapes them inside strings, so neither occurs in the JSON.
_RECORDS, _FIELDS = "\x1e", "\x1f"
_SQLITE = _Dialect(
    _sqlite_quote,
    _sqlite_timestamp,
    _sqlite_end,
    _sqlite_guests,
    "json_array(appointments.id, appointments.calendar_id, appointments.date_start, appointments.version,"
    " calendars.name)",
    "char",
    f"group_concat(j, char({ord(_RECORDS)}))",
)
_POSTGRES = _Dialect(
    _postgres_quote,
    _postgres_timestamp,
    _postgres_end,
    _postgres_guests,
    "json_build_array(appointments.id, appointments.calendar_id,"
    " to_char(appointments.date_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), appointments.version,"
    " calendars.name)::text",
    "chr",
    f"string_agg(j, chr({ord(_RECORDS)}) ORDER BY s, i)",
)


def _object_sql(
    sql: _Dialect, pairs: list[tuple[str, str]], extra: str | None = None, named: tuple[str, ...] = ()
) -> str:
    """A JSON object of ``pairs`` (key, SQL of its JSON value), followed by the keys of the JSON column ``extra``
    that are not ``named`` (:attr:`_Dialect.end`)."""
    body = " || ',' || ".join(f"'{json.dumps(key)}:' || {value}" for key, value in pairs)
    return f"'{{' || {body} || " + ("'}'" if extra is None else sql.end(extra, named))


def _quoted(sql: _Dialect, table: str, *columns: str) -> list[tuple[str, str]]:
    return [(column, sql.quote(f"{table}.{column}")) for column in columns]


def _guests_sql(sql: _Dialect) -> str:
    guest = _object_sql(
        sql,
        [("id", sql.quote("appointment_guests.person_id")), *_quoted(sql, "appointment_guests", *_GUEST_KEYS[1:])],
        "appointment_guests.extra",
        _GUEST_KEYS,
    )
    return sql.guests(guest)


_GUEST_KEYS = ("id", "first_name", "last_name", "timezone")


def _canonical_rest_sql(sql: _Dialect) -> str:
    """The canonical JSON after its first key (``calendar``, the one part another table's row can change): its
    other keys and the closing ``}``. What :func:`stored_copy_sql` keeps per appointment."""
    salesforce = [
        (f"{key}_gid", sql.quote(f"appointments.sf_{key}_gid")) for key in ("appointment", "opportunity", "customer")
    ]
    meta = _object_sql(
        sql,
        [("salesforce", _object_sql(sql, salesforce)), ("type", sql.quote("appointments.type"))],
        "appointments.meta_extra",
        ("salesforce", "type"),
    )
    pairs = [
        ("created_at", sql.timestamp("appointments.created_at")),
        ("date_end", sql.timestamp("appointments.date_end")),
        ("date_start", sql.timestamp("appointments.date_start")),
        *_quoted(sql, "appointments", "description"),
        ("guests", _guests_sql(sql)),
        ("id", sql.quote("appointments.id")),
        ("meta", meta),
        *_quoted(sql, "appointments", "name", "status"),
        ("updated_at", sql.timestamp("appointments.updated_at")),
    ]
    return " || ',' || ".join(f"'{json.dumps(key)}:' || {value}" for key, value in pairs) + " || '}'"


@dataclass(frozen=True, slots=True)
class StoredCopy:
    """How an appointment's stored copy of its canonical JSON is written (``encoded_rest``, ``store/encoded_copies``)
    and when a read may use it: written at the row's current ``version`` by this very SQL (``format``: a checksum
    of it, so a release that changes the encoding stops trusting every copy written before)."""

    rest: str
    format: int


#: What :func:`final_copy` makes of the SQL's text; a change to it changes every copy's ``format`` with it.
_FINAL_COPY = "extras re-encoded, past-ASCII escaped: 1"


def _stored_copy(sql: _Dialect) -> StoredCopy:
    rest = _canonical_rest_sql(sql)
    return StoredCopy(rest, zlib.crc32(f"{rest}\n{_FINAL_COPY}".encode()) & 0x7FFFFFFF)


def final_copy(text: str) -> str | None:
    """A stored copy as the SQL wrote it (``StoredCopy.rest``), as a read answers it: the marked extras re-encoded
    (PostgreSQL, :func:`_extras`) and what is past ASCII escaped (:func:`ascii_json`), so that reads of a current
    copy do neither; None when the text is final as it is (most copies)."""
    final = ascii_json(_MARKED_EXTRAS.sub(_extras, text) if _EXTRAS_START in text else text)
    return None if final == text else final


def _canonical_sql(sql: _Dialect, copy: StoredCopy) -> str:
    """The canonical JSON: its calendar (read now: a calendar's name changes no appointment's row), then the stored
    copy of the rest where it was written at the row's version in this format, else the rest encoded now."""
    calendar = _object_sql(sql, [("id", sql.quote("appointments.calendar_id")), *_quoted(sql, "calendars", "name")])
    current = f"appointments.encoded_version = appointments.version AND appointments.encoded_format = {copy.format}"
    rest = f"(CASE WHEN {current} THEN appointments.encoded_rest ELSE {copy.rest} END)"
    return f"'{{\"calendar\":' || {calendar} || ',' || {rest}"


def _encoded_select(sql: _Dialect, copy: StoredCopy) -> Select[Any]:
    """An appointment's :attr:`_Dialect.head`, then its canonical JSON, as one text ``j`` (with its start and id as
    ``s`` and ``i``, the order of PostgreSQL's aggregate)."""
    text = f"{sql.head} || {sql.char}({ord(_FIELDS)}) || {_canonical_sql(sql, copy)}"
    return select(
        literal_column(text).label("j"), _APPOINTMENT.c.date_start.label("s"), _APPOINTMENT.c.id.label("i")
    ).join_from(AppointmentRow, CalendarRow, CalendarRow.id == AppointmentRow.calendar_id)


#: Per database: what a page selects (the caller adds the filters), and its rows as one text.
_DIALECTS = {"sqlite": _SQLITE, "postgresql": _POSTGRES}
_STORED_COPIES = {name: _stored_copy(sql) for name, sql in _DIALECTS.items()}
_ENCODED: dict[str, tuple[Select[Any], Any]] = {
    name: (_encoded_select(sql, _STORED_COPIES[name]), literal_column(sql.records)) for name, sql in _DIALECTS.items()
}


def stored_copy(dialect_name: str) -> StoredCopy:
    """How appointments' stored copies are written and trusted on this database (``sqlite``, ``postgresql``)."""
    return _STORED_COPIES["postgresql" if dialect_name == "postgresql" else "sqlite"]


#: The authorisation clock, read in the same statement as the appointments (:func:`encoded_row`, :func:`encoded_rows`).
_CLOCK = auth_clock.generation_column()
#: A page's length, bound as ``limit`` (:func:`encoded_rows`, :func:`plain_rows`).
_LIMIT = bindparam("limit", type_=Integer)
#: One live appointment as :func:`encoded_row` reads it (its text, NULL if there is none), and the clock.
_ENCODED_ONE = {
    name: driver.DriverStatement(
        select(
            select(record)
            .select_from(
                base.where(_APPOINTMENT.c.id == bindparam("id"), _APPOINTMENT.c.deleted_at.is_(None)).subquery()
            )
            .scalar_subquery(),
            _CLOCK,
        )
    )
    for name, (base, record) in _ENCODED.items()
}


@dataclass(frozen=True, slots=True)
class NamedCalendar:
    """An encoded row's calendar: what its ETag shows of it (``mapping.etag_of``)."""

    id: str
    name: str


@dataclass(slots=True)
class EncodedRow:
    """A read appointment as a list answers it: its canonical JSON as ASCII text (``mapping.canonical_json`` dumped
    as the API dumps JSON), with the columns the read itself needs (audit, cursor, ETag)."""

    id: str
    calendar: NamedCalendar
    #: The start as the database's text gives it (UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``; SQLite orders by it):
    #: parsed only when asked (:attr:`date_start`: a page's cursor needs its last row's).
    start_text: str
    version: int
    json: str

    @property
    def calendar_id(self) -> str:
        return self.calendar.id

    @property
    def date_start(self) -> datetime:
        return _utc(self.start_text)  # type: ignore[return-value]


#: What Flask's ``ensure_ascii`` escapes that the databases write as it is: DEL and everything past ASCII.
_NOT_ASCII = re.compile(r"[\x7f-\U0010ffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def ascii_json(text: str) -> str:
    """``text`` (JSON) with every character past ASCII, and DEL, escaped as ``json.dumps`` escapes them."""
    return text if text.isascii() and "\x7f" not in text else _NOT_ASCII.sub(_escape, text)


def _no_default(value: Any) -> Any:
    raise TypeError(f"not JSON: {type(value).__name__}")  # never: what is encoded was decoded from JSON


#: The C encoder ``json.dumps(..., separators=(",", ":"))`` ends in (ASCII), without the encoder object and the
#: two Python frames per call (76 calls in a page of 50 whose appointments and guests carry extras).
_compact_chunks = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _no_default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
)
_MARKED_EXTRAS = re.compile(f"{_EXTRAS_START}([^{_EXTRAS_END}]*){_EXTRAS_END}")


def _extras(match: re.Match[str]) -> str:
    """Marked extras (a JSONB object's text) as the plain rows' encoding writes them after the named keys."""
    return "," + "".join(_compact_chunks(_scan(match.group(1), 0)[0], 0))[1:-1]


#: An appointment id as ``str(uuid.UUID(...))`` writes it (the canonical JSON's ``id``).
_CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch


def encoded_select(session: Session) -> Select[Any]:
    """What :func:`encoded_rows` selects on the session's database, for the caller's filters."""
    return _ENCODED[session.get_bind().dialect.name][0]


def encoded_rows(
    session: Session, page: Filtered, limit: int, encode: Callable[[PlainRow], str]
) -> tuple[list[EncodedRow], int]:
    """The first ``limit`` appointments ``page`` (:func:`encoded_select` filtered) selects in (date_start, id)
    order, each with its canonical JSON encoded by the database, all in one statement answering one text, and the
    authorisation clock (``store/auth_clock.py``) as that statement saw it. A row whose id is not in canonical
    form (the JSON would differ) is read as a plain row and encoded by ``encode``.

    As the first read of a read-only session, sent on the driver's own connection (``store/driver.py``), the
    statement compiled once for the page's shape."""
    statement = _encoded_page(page.statement, session.get_bind().dialect.name)
    text, clock = _rows(session, statement, {**page.values, "limit": limit})[0]
    rows = _encoded_records(session, text, encode)
    if session.get_bind().dialect.name == "sqlite":  # the text's order is SQLite's; the page's the start's text, id
        rows.sort(key=_text_order)
    return rows, int(clock)


@lru_cache(maxsize=512)
def _encoded_page(filtered: Select[Any], dialect: str) -> driver.DriverStatement:
    """A filtered :func:`encoded_select`'s first ``limit`` rows as one text, and the clock (one per page shape)."""
    first = filtered.order_by(_APPOINTMENT.c.date_start, _APPOINTMENT.c.id).limit(_LIMIT)
    return driver.DriverStatement(select(_ENCODED[dialect][1], _CLOCK).select_from(first.subquery()))


def encoded_row(
    session: Session, appointment_id: str, encode: Callable[[PlainRow], str]
) -> tuple[EncodedRow | None, int]:
    """The live appointment ``appointment_id`` as :func:`encoded_rows` encodes it, or None, and the authorisation
    clock as the same statement saw it (one statement; as the first read of a read-only session on a driver
    connection, ``store/driver.py``)."""
    statement = _ENCODED_ONE[session.get_bind().dialect.name]
    text, clock = _rows(session, statement, {"id": appointment_id})[0]
    found = _encoded_records(session, text, encode)
    return (found[0] if found else None), int(clock)


def _encoded_records(session: Session, text: str | None, encode: Callable[[PlainRow], str]) -> list[EncodedRow]:
    if not text:
        return []
    if _EXTRAS_START in text:
        text = _MARKED_EXTRAS.sub(_extras, text)
    text = ascii_json(text)  # the whole text at once: escaping inside the heads' JSON changes none of their values
    rows = []
    calendars: dict[tuple[str, str], NamedCalendar] = {}
    for record in text.split(_RECORDS):
        head, encoded = record.split(_FIELDS, 1)
        appointment_id, calendar_id, start, version, calendar_name = _scan(head, 0)[0]
        if _CANONICAL_ID(appointment_id) is None:
            plain = plain_row(session, appointment_id)
            encoded = encode(plain) if plain is not None else encoded
        calendar = calendars.get((calendar_id, calendar_name))
        if calendar is None:
            calendar = calendars[calendar_id, calendar_name] = NamedCalendar(calendar_id, calendar_name)
        rows.append(EncodedRow(appointment_id, calendar, start, version, encoded))
    return rows


def page_select(session: Session) -> Select[Any]:
    """What a page of appointments selects on the session's database, for the caller's filters (then
    :func:`plain_rows`): :data:`PAGE`, or on SQLite each appointment as one JSON array (:data:`_SQLITE_PAGE`)."""
    return _SQLITE_PAGE if session.get_bind().dialect.name == "sqlite" else PAGE


def plain_rows(session: Session, page: Filtered, limit: int) -> list[PlainRow]:
    """The first ``limit`` appointments ``page`` (:func:`page_select` filtered) selects in (date_start, id)
    order, with their guests: on SQLite one statement answering one JSON document (:func:`_sqlite_page`; as the
    first read of a read-only session on a driver connection), elsewhere two queries (the rows, then all their
    guests)."""
    values = {**page.values, "limit": limit}
    if session.get_bind().dialect.name == "sqlite":
        rows = _document_rows(_value(session, _sqlite_page(page.statement), values))
        rows.sort(key=_page_order)  # the document's order is SQLite's choice; the page's is (date_start, id)
        return rows
    stmt = page.statement.order_by(_APPOINTMENT.c.date_start, _APPOINTMENT.c.id).limit(_LIMIT)
    connection = session.connection()  # Core execution: no ORM statement handling
    calendars: dict[str, PlainCalendar] = {}
    rows = [_plain_row(record, calendars) for record in connection.execute(stmt, values).all()]
    if rows:
        by_id = {row.id: row for row in rows}
        for appointment_id, *guest in connection.execute(_PAGE_GUESTS, {"ids": list(by_id)}).all():
            by_id[appointment_id].guests.append(_plain_guest(guest))
    return rows


def plain_row(session: Session, appointment_id: str) -> PlainRow | None:
    """The live appointment ``appointment_id`` with its guests (one query), or None.

    As the first read of a read-only session, sent on the driver's own connection (``store/driver.py``): one
    statement is its own snapshot, so no transaction is begun for it (~0.15 ms less a read on SQLite, ~0.5 ms on
    PostgreSQL)."""
    if session.get_bind().dialect.name == "sqlite":
        found = _document_rows(_value(session, _SQLITE_ONE_DRIVER, {"id": appointment_id}))
        return found[0] if found else None
    records = _rows(session, _ONE_DRIVER, {"id": appointment_id})
    row: PlainRow | None = None
    for record in records:
        if row is None:
            row = _plain_row(record, {})
        if record[_WIDTH + 2] is not None:  # a guest's position: the outer join found one
            row.guests.append(_plain_guest(record[_WIDTH + 2 :]))
    return row


def _first_read_of_a_reader(session: Session) -> Engine | None:
    """The session's engine if the read about to run is the first of a read-only session (no transaction begun
    yet): one statement then is its own snapshot and needs no transaction around it (the session may never begin
    one). None otherwise: the read runs in the session's transaction."""
    bind = session.get_bind()
    if isinstance(bind, Engine) and session.info.get(READ_ONLY) and not session.in_transaction():
        return bind
    return None


def _value(session: Session, statement: driver.DriverStatement, values: dict[str, Any]) -> Any:
    """The first column of ``statement``'s first row (None if none): on a driver connection, one statement and its
    own snapshot, when it is the first read of a read-only session; else in the session's transaction."""
    engine = _first_read_of_a_reader(session)
    if engine is not None:
        return driver.read_value(engine, statement, values)
    return session.connection().execute(statement.statement, values).scalar()


def _rows(session: Session, statement: driver.DriverStatement, values: dict[str, Any]) -> list[Any]:
    """Every row ``statement`` answers, sent as :func:`_value` sends it."""
    engine = _first_read_of_a_reader(session)
    if engine is not None:
        return driver.read_rows(engine, statement, values)
    return list(session.connection().execute(statement.statement, values).all())


@lru_cache(maxsize=512)
def _sqlite_page(filtered: Select[Any]) -> driver.DriverStatement:
    """SQLite: a filtered :data:`_SQLITE_PAGE`'s first ``limit`` rows as one JSON document (one per page shape).

    pysqlite releases the GIL for every row it steps; with a server's threads waiting for it, every release
    is a thread switch (a page of 50 and its 75 guests as rows cost ~100 switches a request under load). One
    row holding the whole page as JSON is one step, and json's C scanner reads it back."""
    first = filtered.order_by(_APPOINTMENT.c.date_start, _APPOINTMENT.c.id).limit(_LIMIT)
    return driver.DriverStatement(_as_document(first))


def _document_rows(text: str | None) -> list[PlainRow]:
    if not text:
        return []
    calendars: dict[str, PlainCalendar] = {}
    rows = []
    for record in _scan(text, 0)[0]:
        row = _plain_row(record, calendars)
        guests = record[_WIDTH + 2]
        guests.sort(key=_first)
        row.guests.extend(_plain_guest(guest) for guest in guests)
        rows.append(row)
    return rows


def _first(values: list[Any]) -> Any:
    return values[0]


def _page_order(row: PlainRow) -> tuple[datetime, str]:
    return row.date_start, row.id


def _text_order(row: EncodedRow) -> tuple[str, str]:
    return row.start_text, row.id


def _plain_row(record: Any, calendars: dict[str, PlainCalendar]) -> PlainRow:
    values = list(record[:_WIDTH])
    for i, convert in _CONVERTED:
        values[i] = convert(values[i])
    data = dict(zip(_NAMES, values, strict=True))
    calendar_id = data["calendar_id"]
    calendar = calendars.get(calendar_id)
    if calendar is None:
        calendar = calendars[calendar_id] = PlainCalendar(calendar_id, record[_WIDTH], record[_WIDTH + 1])
    return PlainRow(calendar=calendar, guests=[], **data)


def _plain_guest(values: Any) -> PlainGuest:
    position, person_id, first, last, zone, extra = values
    return PlainGuest(position, person_id, first, last, zone, _document(extra))
