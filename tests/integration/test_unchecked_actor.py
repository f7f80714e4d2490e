"""A cached token's actor checked by the read's own statement (``services.actor.UncheckedActor``).

The REST reads answered before Flask send no statement of their own for a cached token: the appointment (or the
page) and the authorisation clock come in one statement, and the read compares the clock with the one the token
was resolved at before it checks a scope, audits or returns anything. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, text

from caldav_bridge.errors import Forbidden
from caldav_bridge.model.queries import AppointmentFilters
from caldav_bridge.model.requests import AppointmentDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import appointments, users
from caldav_bridge.services.actor import ClockMoved, UncheckedActor, system_actor
from caldav_bridge.store import auth_clock
from tests.conftest import People
from tests.support.audit import audit_row_count
from tests.support.factories import appointment_body

T0 = datetime(2031, 5, 5, 8, 0, tzinfo=UTC)


def _appointment(runtime: Runtime, calendar_id: str) -> str:
    body = appointment_body(calendar_id, start=T0)
    return str(appointments.create(runtime.uow(), system_actor("api"), AppointmentDraft.model_validate(body)).row.id)


def _unchecked(runtime: Runtime, token: str) -> UncheckedActor:
    cache = users.TokenCache()
    users.actor_for_token(runtime.uow(), token, "api", "req-1", cache)  # resolved (and last_used written) now
    found = users.unchecked_actor(token, "api", "req-2", cache)
    assert found is not None and found.generation == auth_clock.current_generation(runtime.engine)
    assert found.actor.request_id == "req-2"
    return found


def test_a_current_clock_lets_the_read_through_a_moved_one_stops_it_before_the_audit(
    runtime: Runtime, people: People
) -> None:
    assert people.fitter.calendar_id
    appointment_id = _appointment(runtime, people.fitter.calendar_id)
    actor = _unchecked(runtime, people.fitter.token)
    page_filters = AppointmentFilters()

    before = audit_row_count(runtime.engine)
    assert appointments.get_encoded(runtime.uow(), actor, appointment_id).json.startswith('{"calendar"')
    listed = appointments.list_encoded(runtime.uow(), actor, page_filters, limit=10)
    assert len(listed.items) == 1
    assert audit_row_count(runtime.engine) == before + 2

    stale = replace(actor, generation=actor.generation - 1)  # the clock moved since the token was resolved
    with pytest.raises(ClockMoved):
        appointments.get_encoded(runtime.uow(), stale, appointment_id)
    with pytest.raises(ClockMoved):
        appointments.list_encoded(runtime.uow(), stale, page_filters, limit=10)
    with pytest.raises(ClockMoved):  # not a 404: the stale actor decides nothing
        appointments.get_encoded(runtime.uow(), stale, "no-such-appointment")
    with pytest.raises(ClockMoved):  # not a 422 for a calendar the stale actor may not reach any more
        filtered = AppointmentFilters(calendar_id=people.other_fitter.calendar_id)
        appointments.list_encoded(runtime.uow(), stale, filtered, limit=10)
    assert audit_row_count(runtime.engine) == before + 2  # nothing read was audited, nothing was answered


def test_a_revocation_moves_the_clock_the_unchecked_read_sees(runtime: Runtime, people: People) -> None:
    assert people.fitter.calendar_id
    appointment_id = _appointment(runtime, people.fitter.calendar_id)
    actor = _unchecked(runtime, people.fitter.token)
    with runtime.engine.begin() as conn:  # as another process would
        conn.execute(text("UPDATE api_tokens SET revoked_at = :now WHERE user_id = :u"), {"now": T0, "u": _id(conn)})
    with pytest.raises(ClockMoved):
        appointments.get_encoded(runtime.uow(), actor, appointment_id)


def _id(conn: Connection) -> str:
    return str(conn.execute(text("SELECT id FROM users WHERE username = 'fitter.denver'")).scalar_one())


def test_no_unchecked_actor_without_a_cached_token_or_when_last_used_is_due(
    runtime: Runtime, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = users.TokenCache()
    assert users.unchecked_actor(people.fitter.token, "api", None, cache) is None  # never resolved here
    users.actor_for_token(runtime.uow(), people.fitter.token, "api", None, cache)
    assert users.unchecked_actor(people.fitter.token, "api", None, cache) is not None
    later = datetime.now(UTC) + users.LAST_USED_EVERY + timedelta(seconds=1)
    monkeypatch.setattr(users, "utcnow", lambda: later)
    assert users.unchecked_actor(people.fitter.token, "api", None, cache) is None  # actor_for_token writes it


def test_an_unchecked_actor_without_the_read_scope_is_refused_after_its_check(runtime: Runtime, people: People) -> None:
    assert people.fitter.calendar_id
    appointment_id = _appointment(runtime, people.fitter.calendar_id)
    actor = _unchecked(runtime, people.fitter.token)
    no_scope = replace(actor, actor=replace(actor.actor, scopes=frozenset()))
    before = audit_row_count(runtime.engine)
    with pytest.raises(Forbidden, match="scope"):
        appointments.get_encoded(runtime.uow(), no_scope, appointment_id)
    assert audit_row_count(runtime.engine) == before
