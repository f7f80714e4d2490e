"""DAV provisioning, access and the appointment → CalDAV handlers on the fake unit of work (no database).

``uow.repo(DavRows)`` and ``uow.dav_items`` are in-memory stand-ins here; the same code runs against SQLite
and PostgreSQL in tests/caldav (test_races.py for the races these fakes act out).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from caldav_bridge.dav import item_sync, provisioning
from caldav_bridge.dav.access import access_in
from caldav_bridge.dav.repository import DavRows
from caldav_bridge.events.model import AppointmentChanged, AppointmentDeleted, CalendarRenamed
from caldav_bridge.services.actor import CALDAV_CHANNEL, system_actor
from caldav_bridge.store.dav_tables import DavCollectionRow, DavItemRow
from caldav_bridge.store.tables import AppointmentRow, CalendarRow
from tests.unit.fake_uow import T0, FakeUnitOfWork, appointment, calendar, user

U1, U2 = "20000000-0000-4000-8000-000000000001", "20000000-0000-4000-8000-000000000002"
CAL1, CAL2 = "10000000-0000-4000-8000-000000000001", "10000000-0000-4000-8000-000000000002"
TEAM = "30000000-0000-4000-8000-000000000001"
A1, A2 = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
API = system_actor("api", "dispatcher")


class FakeDavRows:
    """``uow.repo(DavRows)`` over dicts: collections by path; what was locked, logged and inserted."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow
        self.collections: dict[str, DavCollectionRow] = {}
        #: Paths another transaction inserts just before this one does (the unique path is then taken).
        self.taken_meanwhile: set[str] = set()
        self.locked: list[str] = []
        self.logged: list[tuple[int, list[tuple[str, bool]]]] = []

    def collection_of_calendar(self, calendar_id: str, *, fresh: bool = False) -> DavCollectionRow | None:
        return next((c for c in self.collections.values() if c.calendar_id == calendar_id), None)

    def lock_calendar(self, calendar_id: str) -> CalendarRow | None:
        self.locked.append(calendar_id)
        return self.uow.calendars.get(calendar_id)

    def path_taken(self, path: str) -> bool:
        return path in self.collections

    def insert_collection(self, row: DavCollectionRow) -> bool:
        if row.path in self.taken_meanwhile:
            self.taken_meanwhile.discard(row.path)
            self._store(DavCollectionRow(path=row.path, parent_path=row.parent_path, tag="", props={}))
            return False
        if row.path in self.collections:
            return False
        self._store(row)
        return True

    def _store(self, row: DavCollectionRow) -> None:
        row.id = len(self.collections) + 1
        self.collections[row.path] = row

    def calendars_without_collection(self, *, owner_username: str | None) -> list[str]:
        linked = {c.calendar_id for c in self.collections.values()}
        owner = self.uow.users.by_username(owner_username) if owner_username is not None else None
        wanted = owner.id if owner is not None else None
        return [
            c.id
            for c in self.uow.calendars.rows.values()  # type: ignore[attr-defined]
            if c.id not in linked and c.owner_user_id == wanted and (owner is not None or owner_username is None)
        ]

    def live_appointments_of(self, calendar_id: str) -> list[AppointmentRow]:
        rows = self.uow.appointments.rows.values()  # type: ignore[attr-defined]
        return [r for r in rows if r.calendar_id == calendar_id and r.deleted_at is None]

    def log_changes(self, collection_id: int, hrefs: Iterable[tuple[str, bool]], now: datetime) -> int:
        self.logged.append((collection_id, list(hrefs)))
        return len(self.logged)

    def bump(self, collection_id: int, hrefs: Iterable[tuple[str, bool]], now: datetime) -> None:
        self.log_changes(collection_id, hrefs, now)

    def insert_items(self, items: Sequence[tuple[Any, ...]]) -> None:
        raise AssertionError("not expected here")

    def team_ids_owned_by(self, user_id: str) -> frozenset[str]:
        calendars = self.uow.calendars.rows.values()  # type: ignore[attr-defined]
        return frozenset(c.team_id for c in calendars if c.owner_user_id == user_id and c.team_id)

    def calendar_paths_owned_by(self, user_id: str) -> frozenset[str]:
        owned = {c.id for c in self.uow.calendars.rows.values() if c.owner_user_id == user_id}  # type: ignore[attr-defined]
        return frozenset(c.path for c in self.collections.values() if c.calendar_id in owned)


class FakeDavItems:
    def __init__(self) -> None:
        self.items: list[DavItemRow] = []

    def collections_of(self, calendar_ids: Sequence[str]) -> dict[str, DavCollectionRow]:
        raise AssertionError("not expected here")

    def item_of(self, collection_id: int, appointment_id: str) -> DavItemRow | None:
        found = (i for i in self.items if i.collection_id == collection_id and i.appointment_id == appointment_id)
        return next(found, None)

    def add(self, item: DavItemRow) -> None:
        self.items.append(item)

    def remove(self, item: DavItemRow) -> None:
        self.items.remove(item)


def _uow() -> tuple[FakeUnitOfWork, FakeDavRows, FakeDavItems]:
    uow = FakeUnitOfWork()
    rows, items = FakeDavRows(uow), FakeDavItems()
    uow.use(DavRows, rows)
    uow.dav_items = items  # type: ignore[assignment]
    return uow, rows, items


def _changed(appointment_id: str, calendar_id: str, actor: Any = API, cls: type = AppointmentChanged) -> Any:
    return cls(actor, appointment_id, calendar_id, "update", "BOOKED", "BOOKED", T0, T0, T0, T0)


def test_a_calendar_s_collection_is_made_on_first_use_holding_its_live_appointments() -> None:
    uow, rows, items = _uow()
    user(uow, U1, "alice")
    calendar(uow, CAL1, owner_user_id=U1, name="Alice")
    appointment(uow, A1, CAL1)
    appointment(uow, A2, CAL1).deleted_at = T0

    made = provisioning.collection_for_calendar(uow, CAL1)

    assert made is not None and made.path == "alice/appointments" and made.calendar_id == CAL1
    assert made.props["D:displayname"] == "Alice" and made.tag == "VCALENDAR"
    assert rows.collections["alice"].tag == ""  # the principal's folder, made with it
    assert [(i.href, i.appointment_id, i.collection_id) for i in items.items] == [(f"{A1}.ics", A1, made.id)]
    assert "BEGIN:VEVENT" in items.items[0].text and rows.locked == [CAL1]
    assert provisioning.collection_for_calendar(uow, CAL1) is made
    assert rows.locked == [CAL1]  # found: no second lock, nothing new
    assert len(rows.collections) == 2


def test_an_unknown_calendar_gets_no_collection() -> None:
    uow, rows, _ = _uow()
    assert provisioning.collection_for_calendar(uow, CAL1) is None
    assert rows.collections == {} and rows.locked == [CAL1]


def test_a_second_calendar_of_an_owner_and_a_team_calendar_take_their_id_paths() -> None:
    uow, rows, _ = _uow()
    user(uow, U1, "alice")
    calendar(uow, CAL1, owner_user_id=U1)
    calendar(uow, CAL2, owner_user_id=U1)
    calendar(uow, TEAM, kind="team")
    paths = [provisioning.collection_for_calendar(uow, c).path for c in (CAL1, CAL2, TEAM)]  # type: ignore[union-attr]
    assert paths == ["alice/appointments", f"alice/{CAL2}", f"{provisioning.SHARED_ROOT}/{TEAM}"]
    assert rows.collections[provisioning.SHARED_ROOT].tag == ""


def test_a_path_another_transaction_took_meanwhile_makes_the_calendar_take_its_id_path() -> None:
    uow, rows, _ = _uow()
    user(uow, U1, "alice")
    calendar(uow, CAL1, owner_user_id=U1)
    rows.taken_meanwhile = {"alice/appointments"}
    made = provisioning.collection_for_calendar(uow, CAL1)
    assert made is not None and made.path == f"alice/{CAL1}"


def test_access_reads_the_user_their_teams_and_their_calendar_paths() -> None:
    uow, _, _ = _uow()
    user(uow, U1, "alice")
    user(uow, U2, "bob", active=False)
    calendar(uow, CAL1, owner_user_id=U1, team_id=TEAM)
    calendar(uow, CAL2, owner_user_id=U2)
    provisioning.collection_for_calendar(uow, CAL1)

    alice = access_in(uow, "alice")
    assert (alice.role, alice.team_calendar_ids, alice.appointment_paths) == (
        "fitter",
        frozenset({TEAM}),
        frozenset({"alice/appointments"}),
    )
    assert access_in(uow, "bob").role is None  # inactive: sees nothing
    assert access_in(uow, "nobody").role is None


def test_a_changed_appointment_is_rendered_into_its_item_and_logged_once() -> None:
    uow, rows, items = _uow()
    calendar(uow, TEAM, kind="team")
    row = appointment(uow, A1, TEAM)
    collection = provisioning.collection_for_calendar(uow, TEAM)
    assert collection is not None and len(items.items) == 1
    before = items.items[0].text

    row.name = "Fitting, moved indoors"
    item_sync.on_appointment_changed(uow, _changed(A1, TEAM))
    assert items.items[0].text != before and "moved indoors" in items.items[0].text
    assert rows.logged == [(collection.id, [(f"{A1}.ics", False)])]

    item_sync.on_appointment_changed(uow, _changed(A1, TEAM))  # nothing changed: nothing logged
    assert len(rows.logged) == 1


def test_a_deleted_appointment_loses_its_item_and_a_caldav_change_is_left_to_the_store() -> None:
    uow, rows, items = _uow()
    calendar(uow, TEAM, kind="team")
    appointment(uow, A1, TEAM)
    collection = provisioning.collection_for_calendar(uow, TEAM)
    assert collection is not None

    item_sync.on_appointment_changed(uow, _changed(A1, TEAM, system_actor(CALDAV_CHANNEL), AppointmentDeleted))
    assert len(items.items) == 1 and rows.logged == []  # the DAV store wrote that item itself

    item_sync.on_appointment_changed(uow, _changed(A1, TEAM, cls=AppointmentDeleted))
    assert items.items == [] and rows.logged == [(collection.id, [(f"{A1}.ics", True)])]


def test_a_renamed_calendar_s_collection_takes_the_name_and_a_new_revision() -> None:
    uow, _, _ = _uow()
    calendar(uow, TEAM, kind="team", name="Old")
    collection = provisioning.collection_for_calendar(uow, TEAM)
    assert collection is not None
    revision = collection.revision

    item_sync.on_calendar_renamed(uow, CalendarRenamed(API, TEAM, "Old", "New"))
    assert collection.props["D:displayname"] == "New" and collection.revision == revision + 1
