"""The write clocks live on the runtime's session factory, not on SQLAlchemy's global Session class."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, update
from sqlalchemy.orm import Session

from caldav_bridge.model.feeds import FeedTokenDraft
from caldav_bridge.model.requests import AppointmentDraft, CancelRequest
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import appointments, feed_tokens
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.bulk_insert import insert_many
from caldav_bridge.store.tables import AppointmentRow, AuditRow, FeedTokenRow
from tests.conftest import People
from tests.support.factories import appointment_body

#: Every column of an appointment, as services.creates writes them.
_COLUMNS = (
    *("id", "calendar_id", "name", "description", "type", "status", "date_start", "date_end"),
    *("sf_appointment_gid", "sf_opportunity_gid", "sf_customer_gid", "meta_extra"),
    *("created_at", "updated_at", "deleted_at", "version", "sequence"),
)


def _table(row_class: type[Any]) -> Table:
    return cast(Table, row_class.__table__)


def test_appointment_writes_move_only_their_runtimes_clock(runtime: Runtime, people: People) -> None:
    other = Runtime.from_settings(runtime.settings)  # another runtime on the same database: its own clocks
    clock, elsewhere = runtime.write_clocks.appointments, other.write_clocks.appointments
    try:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        assert people.fitter.calendar_id
        draft = AppointmentDraft.model_validate(appointment_body(people.fitter.calendar_id, start=start))
        made = appointments.create(runtime.uow(), system_actor("api"), draft).appointment
        before, before_elsewhere = clock.generation(), elsewhere.generation()
        appointments.cancel(runtime.uow(), system_actor("api"), str(made.id), CancelRequest(reason="test"))
        after_create = clock.generation()
        assert after_create >= before + 2  # at the flush and at the commit
        assert elsewhere.generation() == before_elsewhere
        with Session(runtime.engine) as session:  # a session outside the runtime's factory is not watched
            session.execute(update(AppointmentRow).where(AppointmentRow.id == str(made.id)).values(name="x"))
            session.commit()
        assert clock.generation() == after_create
        with runtime.uow() as uow:  # a statement on the table through the runtime's sessions is
            uow.session.execute(update(AppointmentRow).where(AppointmentRow.id == str(made.id)).values(name="y"))
            uow.commit()
        assert clock.generation() >= after_create + 2
        written = clock.generation()
        with runtime.uow() as uow:  # left without commit: moves at the statement (a reader then re-checks)
            uow.session.execute(update(AppointmentRow).where(AppointmentRow.id == str(made.id)).values(name="z"))
        moved = clock.generation()
        assert moved > written
        with runtime.uow() as uow:  # reads do not move it
            uow.appointments.get(str(made.id))
        assert clock.generation() == moved
    finally:
        other.close()


def test_revocations_and_rotations_move_the_token_clock_issuing_and_use_do_not(
    runtime: Runtime, people: People
) -> None:
    clock = runtime.write_clocks.token_revocations
    actor = system_actor("api")
    cal = people.fitter.calendar_id
    assert cal
    start = clock.generation()
    issued = feed_tokens.issue(runtime.uow(), actor, cal, FeedTokenDraft(name="G"), "https://x.example")
    with runtime.uow() as uow:  # what the fetch log writes for a fetch: last_used_at
        uow.session.execute(update(FeedTokenRow).values(last_used_at=datetime.now(UTC)))
        uow.commit()
    assert clock.generation() == start
    rotated = feed_tokens.rotate(runtime.uow(), actor, cal, issued.token.id, "https://x.example")
    after_rotation = clock.generation()
    assert after_rotation > start
    feed_tokens.revoke(runtime.uow(), actor, cal, rotated.token.id)
    assert clock.generation() > after_rotation


def test_creates_written_through_the_driver_move_the_clock(runtime: Runtime, people: People) -> None:
    """Every create goes through ``store.bulk_insert.insert_many`` (a driver-level executemany the ORM events
    do not see): the clock still moves at the insert and at the commit, and only the writing runtime's."""
    other = Runtime.from_settings(runtime.settings)
    clock, elsewhere = runtime.write_clocks.appointments, other.write_clocks.appointments
    try:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
        assert people.fitter.calendar_id
        draft = AppointmentDraft.model_validate(appointment_body(people.fitter.calendar_id, start=start))
        before, before_elsewhere = clock.generation(), elsewhere.generation()
        appointments.create(runtime.uow(), system_actor("api"), draft)
        assert clock.generation() >= before + 2  # at the insert and at the commit
        assert elsewhere.generation() == before_elsewhere
        written = clock.generation()
        with runtime.uow() as uow:  # left without commit: moved at the insert (a reader then re-checks)
            now = datetime.now(UTC)
            values: tuple[Any, ...] = (
                str(uuid.uuid4()),
                people.fitter.calendar_id,
                "x",
                None,
                "INITIAL",
                "BOOKED",
                start,
                start,
            )
            values += (None, None, None, {}, now, now, None, 1, 0)
            insert_many(uow.session, _table(AppointmentRow), _COLUMNS, [values])
            assert clock.generation() == written + 1
        written = clock.generation()
        with runtime.uow() as uow:  # a driver-level insert into another table does not move it
            audit = (datetime.now(UTC), "test", "api", "probe")
            insert_many(uow.session, _table(AuditRow), ("at", "actor", "channel", "action"), [audit])
            uow.commit()
        assert clock.generation() == written
    finally:
        other.close()
