"""The REST list's and single read's JSON as the database encodes it (``store/plain_reads.encoded_rows``,
``encoded_row``; SQLite and PostgreSQL) is
byte for byte the JSON the API wrote before, ``mapping.canonical_text`` of the plain rows: any text (past ASCII,
astral, control characters, DEL, quotes; no NUL, which the API refuses), extras of any JSON shape in meta and guests,
timestamps with any microseconds, ids in any case. Their ETags (``mapping.etag_of``, which takes in the calendar's
name) are the plain rows' too, for a calendar of any name."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update
from sqlalchemy.exc import StatementError

from caldav_bridge.model.queries import AppointmentFilters, ListedKind
from caldav_bridge.runtime import Runtime
from caldav_bridge.services.mapping import canonical_text, etag_of
from caldav_bridge.store import auth_clock, plain_reads
from caldav_bridge.store.plain_rows import PlainRow
from caldav_bridge.store.tables import AppointmentGuestRow, AppointmentRow, CalendarRow, PersonRow
from tests.conftest import People

ALL = AppointmentFilters(kind=ListedKind.ALL)
#: Any character but NUL, which the API refuses (PostgreSQL cannot store it in text).
chars = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(chars, max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(chars, max_size=4), inner, max_size=3),
    max_leaves=6,
)
text = st.text(chars, max_size=12)
maybe_text = st.none() | text
when = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC))
guest = st.fixed_dictionaries(
    {
        "person_id": st.none() | st.sampled_from(["c-1", 'C\u00fc "2"', "\U0001f50a\x7f"]),
        "first_name": maybe_text,
        "last_name": maybe_text,
        "timezone": st.sampled_from([None, "Europe/Berlin", "UTC"]),
        "extra": st.dictionaries(st.text(chars, min_size=1, max_size=10), json_value, max_size=3),
    }
)
appointment = st.fixed_dictionaries(
    {
        "id": st.builds(uuid.uuid4).map(str) | st.builds(uuid.uuid4).map(lambda u: str(u).upper()),
        "name": text,
        "description": maybe_text,
        "type": st.sampled_from(["INITIAL", "FOLLOW_UP", "TECH_SETUP"]),
        "status": st.sampled_from(["INITIAL", "BOOKED", "CANCELLED"]),
        "date_start": when,
        "created_at": when,
        "updated_at": when,
        "sf_appointment_gid": maybe_text,
        "sf_opportunity_gid": maybe_text,
        "sf_customer_gid": maybe_text,
        "meta_extra": st.dictionaries(st.text(chars, min_size=1, max_size=10), json_value, max_size=4),
        "guests": st.lists(guest, max_size=3),
    }
)


def _people(runtime: Runtime) -> None:
    now = datetime.now(UTC)
    with runtime.uow() as uow:
        for person_id in ["c-1", 'C\u00fc "2"', "\U0001f50a\x7f"]:
            uow.session.merge(PersonRow(id=person_id, created_at=now, updated_at=now))
        uow.commit()


def _insert(runtime: Runtime, calendar_id: str, values: dict[str, Any]) -> None:
    values = dict(values)
    guests = [AppointmentGuestRow(position=i, **g) for i, g in enumerate(values.pop("guests"))]
    row = AppointmentRow(calendar_id=calendar_id, date_end=values["date_start"] + timedelta(minutes=30), **values)
    row.guests = guests
    with runtime.uow() as uow:
        uow.session.add(row)
        uow.commit()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    appointments=st.lists(appointment, min_size=1, max_size=4, unique_by=lambda a: str(a["id"]).lower()),
    #: any name; one with the separators of the encoded reads' text (and its extras' markers) among them
    calendar_name=st.text(chars, min_size=1, max_size=12) | st.just('H\u00f6r "\x1c\x1d\x1e\x1f" \U0001f50a'),
)
def test_the_encoded_json_is_what_the_api_wrote_from_plain_rows(
    runtime: Runtime, people: People, appointments: list[dict[str, Any]], calendar_name: str
) -> None:
    with runtime.uow() as uow:
        uow.session.execute(delete(AppointmentRow))
        uow.session.execute(update(CalendarRow).values(name=calendar_name))
        uow.commit()
    _people(runtime)
    for values in appointments:
        _insert(runtime, people.fitter.calendar_id or "", values)

    with runtime.uow().reading() as uow:
        plain = uow.appointments.search_plain(ALL, 10)
    _encoded_as_written(runtime, plain)  # from the copies every write stores (store/encoded_copies.py)
    with runtime.engine.begin() as connection:
        connection.execute(update(AppointmentRow).values(encoded_version=None))
    _encoded_as_written(runtime, plain)  # encoded now, by the database, where no copy is current


def _encoded_as_written(runtime: Runtime, plain: list[PlainRow]) -> None:
    with runtime.uow().reading() as uow:
        encoded, clock = uow.appointments.search_encoded(ALL, 10, lambda r: canonical_text(r.as_row()))
        assert clock == auth_clock.generation(uow.session)

    assert [e.id for e in encoded] == [p.id for p in plain]
    assert [e.json for e in encoded] == [canonical_text(p.as_row()) for p in plain]
    assert all(e.json.isascii() for e in encoded)
    assert [(e.calendar_id, e.date_start, e.version, etag_of(e)) for e in encoded] == [
        (p.calendar_id, p.date_start, p.version, etag_of(p.as_row())) for p in plain
    ]
    for p in plain:  # the single read: the same text, in one statement of its own (a driver connection)
        with runtime.uow().reading() as uow:
            one, clock = uow.appointments.get_encoded(p.id, lambda r: canonical_text(r.as_row()))
        assert one is not None and clock == auth_clock.current_generation(runtime.engine)
        assert (one.id, one.version, one.json, etag_of(one)) == (
            p.id,
            p.version,
            canonical_text(p.as_row()),
            etag_of(p.as_row()),
        )


def test_the_json_past_ascii_is_escaped_as_json_dumps_escapes_it() -> None:
    for value in ["é", "\x7f", "\U0001f50a", "a\u2028b", "plain"]:
        raw = json.dumps(value, ensure_ascii=False)
        assert plain_reads.ascii_json(raw) == json.dumps(value)


def test_the_store_refuses_numbers_json_cannot_hold(runtime: Runtime, people: People) -> None:
    """``NaN``/``Infinity`` are not JSON: a write holding one fails (both databases), and nothing of it is stored,
    rather than leaving a row whose JSON every later read of SQLite's JSON functions fails on."""
    values = {"id": str(uuid.uuid4()), "name": "x", "description": None, "type": "INITIAL", "status": "BOOKED"}
    now = datetime(2030, 1, 1, tzinfo=UTC)
    for bad in (float("nan"), float("inf")):
        row = AppointmentRow(
            calendar_id=people.fitter.calendar_id,
            date_start=now,
            date_end=now,
            created_at=now,
            updated_at=now,
            meta_extra={"loudness": bad},
            **values,
        )
        with runtime.uow() as uow, pytest.raises((StatementError, ValueError), match="Out of range float values"):
            uow.session.add(row)
            uow.commit()
    with runtime.uow() as uow:
        assert uow.session.get(AppointmentRow, values["id"]) is None
