"""Each appointment's stored copy of its canonical JSON (``store/encoded_copies.py``), on SQLite and PostgreSQL:
every kind of write stores it at the row's new version, a read uses it exactly when it was written at the row's
version in the current encoding, and encodes the row anew otherwise (a copy can be missing or old, never wrong)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, select, text, update

from caldav_bridge.jobs.catalog import write_encoded_copies
from caldav_bridge.model.queries import AppointmentFilters, ListedKind
from caldav_bridge.runtime import Runtime
from caldav_bridge.services.mapping import canonical_text
from caldav_bridge.store.plain_reads import stored_copy
from caldav_bridge.store.repositories import APPOINTMENT_COLUMNS, GUEST_COLUMNS
from caldav_bridge.store.tables import AppointmentGuestRow, AppointmentRow, CalendarRow
from tests.conftest import People

ALL = AppointmentFilters(kind=ListedKind.ALL)
START = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)
TABLE = cast(Table, AppointmentRow.__table__)
A = TABLE.c


def _new(runtime: Runtime, calendar_id: str, name: str = "Fitting") -> str:
    row = AppointmentRow(
        calendar_id=calendar_id,
        name=name,
        description=None,
        type="INITIAL",
        status="BOOKED",
        date_start=START,
        date_end=START + timedelta(minutes=45),
        created_at=START,
        updated_at=START,
        meta_extra={"source": "test"},
    )
    row.guests = [AppointmentGuestRow(position=0, person_id=None, first_name="Jane", last_name="Doe", extra={})]
    with runtime.uow() as uow:
        uow.session.add(row)
        uow.commit()
    return row.id


def _copy(runtime: Runtime, appointment_id: str) -> tuple[Any, ...]:
    with runtime.uow() as uow:
        found = uow.session.execute(
            select(A.encoded_rest, A.encoded_version, A.encoded_format, A.version).where(A.id == appointment_id)
        ).one()
    return tuple(found)


def _fresh(runtime: Runtime, appointment_id: str) -> str:
    """The canonical JSON the API writes from the row as it is now (Python, from an ORM load)."""
    with runtime.uow() as uow:
        row = uow.appointments.get(appointment_id)
        assert row is not None
        return canonical_text(row)


def _read(runtime: Runtime, appointment_id: str) -> tuple[str, str]:
    """(the list's text, the single read's text) of the appointment."""
    encode = lambda r: canonical_text(r.as_row())  # noqa: E731
    with runtime.uow().reading() as uow:
        listed = {e.id: e.json for e in uow.appointments.search_encoded(ALL, 50, encode)[0]}
    with runtime.uow().reading() as uow:
        one, _clock = uow.appointments.get_encoded(appointment_id, encode)
    assert one is not None
    return listed[appointment_id], one.json


def _agreed(runtime: Runtime, appointment_id: str) -> str:
    """The appointment's JSON as the list and the single read answer it, both checked equal to the row's now."""
    listed, one = _read(runtime, appointment_id)
    assert listed == one == _fresh(runtime, appointment_id)
    return listed


def _current(runtime: Runtime, appointment_id: str) -> bool:
    rest, version, fmt, row_version = _copy(runtime, appointment_id)
    dialect = runtime.engine.dialect.name
    return rest is not None and version == row_version and fmt == stored_copy(dialect).format


def test_a_write_stores_the_copy_and_reads_use_it(runtime: Runtime, people: People) -> None:
    appointment_id = _new(runtime, people.fitter.calendar_id or "")
    assert _current(runtime, appointment_id)
    fresh = _fresh(runtime, appointment_id)
    assert _read(runtime, appointment_id) == (fresh, fresh)

    # the reads take the copy as it is: a copy edited behind the service's back shows (so it is what they read)
    with runtime.engine.begin() as connection:
        connection.execute(
            text("UPDATE appointments SET encoded_rest = replace(encoded_rest, 'Fitting', 'COPY') WHERE id = :id"),
            {"id": appointment_id},
        )
    listed, one = _read(runtime, appointment_id)
    assert '"name":"COPY"' in listed and '"name":"COPY"' in one


def test_the_copy_is_stored_as_reads_answer_it(runtime: Runtime, people: People) -> None:
    """Extras (PostgreSQL writes them as JSONB does, between markers) and text past ASCII are stored re-encoded and
    escaped, as the reads answer them: a read of a current copy has nothing left to re-encode."""
    appointment_id = _new(runtime, people.fitter.calendar_id or "", name="Hörgerät — Anpassung \U0001f50a")
    with runtime.engine.begin() as connection:
        connection.execute(
            update(TABLE).where(A.id == appointment_id).values(meta_extra={"source": "test", "nested": {"a": [1, 2.5]}})
        )
    with runtime.uow() as uow:
        uow.appointments.write_encoded([appointment_id])
        uow.commit()
    rest = _copy(runtime, appointment_id)[0]
    assert rest.isascii() and "\x1c" not in rest and "\x1d" not in rest, rest
    assert '"nested":{"a":[1,2.5]}' in rest and "\\u00f6" in rest and "\\ud83d\\udd0a" in rest
    fresh = _fresh(runtime, appointment_id)
    assert _read(runtime, appointment_id) == (fresh, fresh)


def test_changes_through_the_orm_rewrite_the_copy(runtime: Runtime, people: People) -> None:
    appointment_id = _new(runtime, people.fitter.calendar_id or "")
    with runtime.uow() as uow:
        row = uow.appointments.get(appointment_id)
        assert row is not None
        row.name = "Renamed"
        uow.commit()
    assert _current(runtime, appointment_id)
    _agreed(runtime, appointment_id)
    assert '"name":"Renamed"' in _fresh(runtime, appointment_id)

    # guests alone: the copy follows them
    with runtime.uow() as uow:
        row = uow.appointments.get(appointment_id)
        assert row is not None
        row.guests = [AppointmentGuestRow(position=0, person_id=None, first_name="Ann", last_name="Roe", extra={})]
        uow.commit()
    assert _current(runtime, appointment_id)
    listed = _agreed(runtime, appointment_id)
    assert '"first_name":"Ann"' in listed and "Jane" not in listed


def test_a_copy_older_than_the_row_or_in_another_encoding_is_not_used(runtime: Runtime, people: People) -> None:
    appointment_id = _new(runtime, people.fitter.calendar_id or "")
    # a change past the service's sessions: a new version, the copy left as it was
    with runtime.engine.begin() as connection:
        connection.execute(
            update(TABLE).where(A.id == appointment_id).values(name="Changed elsewhere", version=A.version + 1)
        )
    assert not _current(runtime, appointment_id)
    listed = _agreed(runtime, appointment_id)
    assert '"name":"Changed elsewhere"' in listed

    # a copy at the row's version but written by another encoding (another release)
    with runtime.engine.begin() as connection:
        connection.execute(
            update(TABLE)
            .where(A.id == appointment_id)
            .values(encoded_rest='"name":"stale"}', encoded_version=A.version, encoded_format=A.encoded_format + 1)
        )
    listed = _agreed(runtime, appointment_id)


def test_a_calendar_renamed_shows_in_every_read(runtime: Runtime, people: People) -> None:
    calendar_id = people.fitter.calendar_id or ""
    appointment_id = _new(runtime, calendar_id)
    with runtime.uow() as uow:
        calendar = uow.session.get(CalendarRow, calendar_id)
        assert calendar is not None
        calendar.name = 'Fitter "Denver" \u00e9'
        uow.commit()
    assert _current(runtime, appointment_id)  # the appointment's row did not change
    listed = _agreed(runtime, appointment_id)
    assert '"name":"Fitter \\"Denver\\" \\u00e9"}' in listed


def test_many_row_inserts_and_core_updates_write_their_copies(runtime: Runtime, people: People) -> None:
    calendar_id = people.fitter.calendar_id or ""
    appointment_id = str(uuid.uuid4())
    values: dict[str, Any] = {
        "id": appointment_id,
        "calendar_id": calendar_id,
        "name": "Imported",
        "description": "d",
        "type": "INITIAL",
        "status": "BOOKED",
        "date_start": START,
        "date_end": START + timedelta(hours=1),
        "sf_appointment_gid": None,
        "sf_opportunity_gid": None,
        "sf_customer_gid": None,
        "meta_extra": {},
        "created_at": START,
        "updated_at": START,
        "deleted_at": None,
        "version": 1,
        "sequence": 0,
    }
    guest = {"appointment_id": appointment_id, "position": 0, "person_id": None}
    guest |= {"first_name": "Bo", "last_name": "Li", "timezone": None, "extra": {}}
    with runtime.uow() as uow:
        uow.appointments.insert_new(
            [tuple(values[c] for c in APPOINTMENT_COLUMNS)], [tuple(guest[c] for c in GUEST_COLUMNS)]
        )
        uow.commit()
    assert _current(runtime, appointment_id)
    _agreed(runtime, appointment_id)

    with runtime.uow() as uow:
        uow.appointments.record_sf_appointment_gid(appointment_id, "a0X000000000001")
        uow.commit()
    assert _current(runtime, appointment_id)
    listed = _agreed(runtime, appointment_id)
    assert '"appointment_gid":"a0X000000000001"' in listed


def test_a_rolled_back_change_leaves_the_copy_as_it_was(runtime: Runtime, people: People) -> None:
    appointment_id = _new(runtime, people.fitter.calendar_id or "")
    before = _copy(runtime, appointment_id)
    with runtime.uow() as uow:
        row = uow.appointments.get(appointment_id)
        assert row is not None
        row.name = "Never"
        uow.flush()
        uow.rollback()
    assert _copy(runtime, appointment_id) == before
    with runtime.uow() as uow:  # the same runtime's next write has nothing left over from the rollback
        row = uow.appointments.get(appointment_id)
        assert row is not None
        row.description = "after"
        uow.commit()
    assert _current(runtime, appointment_id)
    assert '"name":"Fitting"' in _read(runtime, appointment_id)[0]


def test_a_savepoint_rolled_back_keeps_what_the_transaction_changed_before_it(runtime: Runtime, people: People) -> None:
    """An import rolls back one item's savepoint and commits the others: the items written before it keep their
    copies current (a guest-only change included)."""
    appointment_id = _new(runtime, people.fitter.calendar_id or "")
    with runtime.uow() as uow:
        row = uow.appointments.get(appointment_id)
        assert row is not None
        row.guests = [AppointmentGuestRow(position=0, person_id=None, first_name="Eve", last_name="Poe", extra={})]
        uow.flush()
        with uow.savepoint() as savepoint:
            row.name = "Rolled back"
            uow.flush()
            savepoint.rollback()
        uow.commit()
    assert _current(runtime, appointment_id)
    listed = _agreed(runtime, appointment_id)
    assert '"first_name":"Eve"' in listed and "Rolled back" not in listed


def test_the_job_writes_the_copies_missing_or_old(runtime: Runtime, people: People) -> None:
    calendar_id = people.fitter.calendar_id or ""
    ids = [_new(runtime, calendar_id, f"Fitting {i}") for i in range(3)]
    with runtime.engine.begin() as connection:  # rows from before the copies existed, and one changed elsewhere
        connection.execute(update(TABLE).where(A.id.in_(ids[:2])).values(encoded_rest=None, encoded_version=None))
        connection.execute(update(TABLE).where(A.id == ids[2]).values(version=A.version + 1))
    assert not any(_current(runtime, i) for i in ids)

    assert write_encoded_copies(runtime) == 3
    assert all(_current(runtime, i) for i in ids)
    assert write_encoded_copies(runtime) == 0
    for appointment_id in ids:
        _agreed(runtime, appointment_id)
