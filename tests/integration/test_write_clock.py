"""The write clocks live on the runtime's session factory, not on SQLAlchemy's global Session class."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from caldav_bridge.model.feeds import FeedTokenDraft
from caldav_bridge.model.requests import AppointmentDraft, CancelRequest
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import appointments, feed_tokens
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.tables import AppointmentRow, FeedTokenRow
from tests.conftest import People
from tests.support.factories import appointment_body


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
