"""The import service itself, on SQLite and PostgreSQL: chunks, retries, atomicity, streaming, CalDAV items."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from caldav_bridge.converters import BlueprintOptions
from caldav_bridge.errors import InvalidTransition
from caldav_bridge.model.requests import CalendarDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import appointments, calendars, interchange, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.services.import_queries import ImportQueries
from caldav_bridge.store.dav_tables import DavItemRow
from caldav_bridge.store.tables import AppointmentRow, AuditRow, ExternalRefRow, OutboxRow, StatusHistoryRow
from tests.converters.support import load_fixture

ACTOR = system_actor("cli")
OPTIONS = BlueprintOptions()


@pytest.fixture
def team(runtime: Runtime) -> str:
    """A team calendar: it has no CalDAV collection until something asks for one."""
    draft = CalendarDraft(name="Imports", kind="team", timezone="UTC")
    return calendars.create(runtime.uow(), system_actor(), draft).id


def _items(n: int, prefix: str = "b", **changes: Any) -> list[dict[str, Any]]:
    sample = load_fixture("blueprint.json")
    return [{**sample, "appointment_id": f"{prefix}{i}", "patient_id": i, **changes} for i in range(n)]


def _count(rt: Runtime, table: type) -> int:
    with rt.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(table)) or 0)


def _import(rt: Runtime, items: Any, calendar_id: str, **kwargs: Any) -> interchange.ImportReport:
    return interchange.import_batch(
        rt.uow(), ACTOR, "blueprint", items, options=OPTIONS, calendar_id=calendar_id, **kwargs
    )


def test_small_chunks_keep_order_and_upsert_repeats(runtime: Runtime, team: str) -> None:
    a, b, c = _items(3)
    items = [a, b, {**a, "notes": "second"}, "junk", c, {**a, "notes": "third"}, {**c}]
    report = _import(runtime, items, team, chunk_size=2)
    assert [(r.index, r.status) for r in report.results] == [
        (0, "created"),
        (1, "created"),
        (2, "updated"),
        (3, "error"),
        (4, "created"),
        (5, "updated"),
        (6, "unchanged"),
    ]
    assert len({r.id for r in report.results if r.source_id == "b0"}) == 1
    assert _count(runtime, AppointmentRow) == 3 and _count(runtime, ExternalRefRow) == 3
    assert _count(runtime, OutboxRow) == 5  # 3 creates + 2 updates
    assert _count(runtime, StatusHistoryRow) == 3  # the updates changed neither status nor start
    assert report.summary.as_dict() | {"dry_run": None} == {
        "total": 7,
        "created": 3,
        "updated": 2,
        "unchanged": 1,
        "error": 1,
        "skipped": 0,
        "dry_run": None,
        "atomic": False,
    }


def test_a_chunk_the_database_refuses_is_retried_item_by_item(
    runtime: Runtime, team: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ImportQueries.add_refs

    def refuse_poison(queries: ImportQueries, rows: list[dict[str, Any]]) -> None:
        if any(r["source_id"] == "poison0" for r in rows):  # the external_refs INSERT of its chunk
            raise IntegrityError("INSERT INTO external_refs", {}, Exception("duplicate key (simulated race)"))
        real(queries, rows)

    monkeypatch.setattr(ImportQueries, "add_refs", refuse_poison)
    items = [*_items(2), *_items(1, "poison"), *_items(2, "c")]
    report = _import(runtime, items, team, chunk_size=10)
    assert [r.status for r in report.results] == ["created", "created", "error", "created", "created"]
    (error,) = report.results[2].errors
    assert error.field == "(item)" and "concurrent" in error.message
    assert _count(runtime, AppointmentRow) == 4 and _count(runtime, OutboxRow) == 4
    with runtime.uow() as uow:  # nothing at all of the failed item
        assert uow.session.scalar(select(func.count()).where(AuditRow.detail.like("%poison%"))) == 0


def test_a_late_refusal_of_an_update_rolls_that_item_back(
    runtime: Runtime, team: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _import(runtime, _items(3), team)
    ids = [r.id for r in first.results]
    outbox = _count(runtime, OutboxRow)
    real = appointments.update_in

    def half_way(uow: Any, actor: Any, appointment_id: str, patch: Any, **kwargs: Any) -> Any:
        row = real(uow, actor, appointment_id, patch, **kwargs)  # written (row, history, outbox) ...
        if appointment_id == ids[1]:
            raise InvalidTransition("BOOKED", "simulate a late refusal of")  # ... and then refused
        return row

    monkeypatch.setattr(appointments, "update_in", half_way)
    report = _import(runtime, _items(3, notes="changed"), team)
    assert [r.status for r in report.results] == ["updated", "error", "updated"]
    assert report.results[1].errors[0].field == "status"
    assert _count(runtime, OutboxRow) == outbox + 2
    with runtime.uow() as uow:
        descriptions = [uow.session.get(AppointmentRow, i).description for i in ids]  # type: ignore[union-attr]
    assert descriptions == ["changed", "This is a note.", "changed"]


def test_atomic_rolls_back_earlier_chunks(runtime: Runtime, team: str) -> None:
    items = [*_items(5), {**_items(1, "late")[0], "status": 6}]
    report = _import(runtime, items, team, chunk_size=2, atomic=True)
    assert [r.status for r in report.results] == ["skipped"] * 5 + ["error"]
    assert all(r.id is None for r in report.results)
    assert _count(runtime, AppointmentRow) == 0 and _count(runtime, ExternalRefRow) == 0
    assert _count(runtime, OutboxRow) == 0 and _count(runtime, AuditRow) == 0


@pytest.mark.parametrize("mode", ["atomic", "dry_run"])
def test_one_transaction_reports_progress_per_chunk_before_its_results(runtime: Runtime, team: str, mode: str) -> None:
    """An atomic or dry-run import yields its results only at the end (a rollback changes them); its progress
    comes chunk by chunk all the same (a CLI run of 20,000 items printed nothing for its whole run). An item that
    failed to convert is counted with the chunk after it."""
    items = [*_items(3), {**_items(1, "bad")[0], "status": 6}, *_items(2, "more")]
    calls: list[tuple[int, int]] = []
    stream = interchange.import_stream(
        runtime.uow(),
        ACTOR,
        "blueprint",
        items,
        options=OPTIONS,
        calendar_id=team,
        chunk_size=2,
        progress=lambda done, failed: calls.append((done, failed)),
        **{mode: True},
    )
    first = next(stream)
    assert calls == [(2, 0), (5, 1), (6, 1)] and first.index == 0
    assert len([first, *stream]) == 6 and calls == [(2, 0), (5, 1), (6, 1)]


def test_items_are_read_lazily_and_results_come_per_chunk(runtime: Runtime, team: str) -> None:
    consumed = 0

    def source() -> Iterator[dict[str, Any]]:
        nonlocal consumed
        for item in _items(10):
            consumed += 1
            yield item

    stream = interchange.import_stream(
        runtime.uow(), ACTOR, "blueprint", source(), options=OPTIONS, calendar_id=team, chunk_size=3
    )
    assert consumed == 0  # nothing is read before the results are asked for
    first = next(stream)
    assert first.status == "created" and consumed == 3
    with runtime.uow() as uow:  # and the first chunk is already committed
        assert uow.session.scalar(select(func.count()).select_from(AppointmentRow)) == 3
    assert len(list(stream)) == 9 and consumed == 10


def test_checks_that_need_no_items_fail_at_once(runtime: Runtime, team: str) -> None:
    reader = system_actor("cli")
    with pytest.raises(interchange.UnknownFormat) as caught:
        interchange.import_stream(runtime.uow(), reader, "ical2", iter(()))
    assert caught.value.known == (
        "blueprint",
        "calendly",
        "canonical",
        "ical",
        "ols",
        "onsched",
        "salesforce",
        "timekit",
    )
    with pytest.raises(Exception, match="calendar_id"):
        interchange.import_stream(runtime.uow(), reader, "blueprint", iter(()), calendar_id="nope")


def test_caldav_items_follow_imports_into_calendars_that_have_a_collection(runtime: Runtime, team: str) -> None:
    users.add_user(runtime.uow(), "darth", "fitter", display_name="Darth Vader")  # gets a DAV collection
    report = interchange.import_batch(runtime.uow(), ACTOR, "blueprint", _items(3), options=OPTIONS)
    assert [r.status for r in report.results] == ["created"] * 3  # by the provider's name
    _import(runtime, _items(2, "team"), team)
    with runtime.uow() as uow:
        rendered = set(uow.session.scalars(select(DavItemRow.appointment_id)))
        assert rendered == {r.id for r in report.results}  # the team calendar has no collection yet...
        from caldav_bridge.dav import provisioning

        provisioning.collection_for_calendar(uow, team)  # ... and gets every appointment when it is made
        uow.commit()
    assert _count(runtime, DavItemRow) == 5


def test_an_item_whose_appointment_was_deleted_here_is_not_brought_back(runtime: Runtime, team: str) -> None:
    (created,) = _import(runtime, _items(1), team).results
    assert created.id is not None
    appointments.delete(runtime.uow(), ACTOR, created.id)
    (again,) = _import(runtime, _items(1, notes="changed"), team).results
    assert again.status == "error" and again.errors[0].field == "appointment_id"
    assert "deleted" in again.errors[0].message
    assert _count(runtime, AppointmentRow) == 1 and _count(runtime, ExternalRefRow) == 1


def test_imported_appointments_queue_their_webhook_events(runtime: Runtime, team: str) -> None:
    from caldav_bridge.webhooks import subscriptions as webhooks
    from caldav_bridge.webhooks.model import SubscriptionDraft
    from caldav_bridge.webhooks.tables import WebhookDeliveryRow

    _import(runtime, _items(2, "quiet"), team)  # no subscriber yet: nothing queued
    assert _count(runtime, WebhookDeliveryRow) == 0
    draft = SubscriptionDraft(url="https://example.com/hook", events=["appointment.created", "appointment.updated"])
    webhooks.create(runtime.uow(), system_actor(), draft)
    report = _import(runtime, [*_items(3), {**_items(1, "quiet")[0], "notes": "changed"}], team)
    assert [r.status for r in report.results] == ["created", "created", "created", "updated"]
    with runtime.uow() as uow:
        events = sorted(uow.session.execute(select(WebhookDeliveryRow.event_type, WebhookDeliveryRow.appointment_id)))
    assert sorted(e for e, _ in events) == ["appointment.created"] * 3 + ["appointment.updated"]
    assert {a for e, a in events if e == "appointment.created"} == {r.id for r in report.results[:3]}
