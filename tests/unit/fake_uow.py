"""A unit of work with in-memory repositories: the service layer's tests without a database.

:class:`FakeUnitOfWork` is a real :class:`~caldav_bridge.store.uow.UnitOfWork` (the same event
dispatch) whose repositories keep rows in dicts and lists; ``commit`` and ``rollback`` only count.
Rows are the ORM classes, transient (never attached to a session).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from caldav_bridge.events.bus import MessageBus
from caldav_bridge.events.model import Event
from caldav_bridge.store.tables import AppointmentRow, AuditRow, CalendarRow, OutboxRow, PersonRow, StatusHistoryRow
from caldav_bridge.store.uow import SessionRepository, UnitOfWork

__all__ = ["FakeUnitOfWork", "appointment", "calendar"]

T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


class FakeAppointments:
    def __init__(self) -> None:
        self.rows: dict[str, AppointmentRow] = {}
        self.history_rows: list[StatusHistoryRow] = []

    def get(self, appointment_id: str, *, for_update: bool = False) -> AppointmentRow | None:
        row = self.rows.get(appointment_id)
        return row if row is not None and row.deleted_at is None else None

    def including_deleted(self, appointment_id: str) -> AppointmentRow | None:
        return self.rows.get(appointment_id)

    def add_history(self, row: StatusHistoryRow) -> None:
        self.history_rows.append(row)


class FakeCalendars:
    def __init__(self) -> None:
        self.rows: dict[str, CalendarRow] = {}

    def get(self, calendar_id: str) -> CalendarRow | None:
        return self.rows.get(calendar_id)


class FakePeople:
    def __init__(self) -> None:
        self.rows: dict[str, PersonRow] = {}

    def existing(self, ids: Iterable[str]) -> set[str]:
        return {i for i in ids if i in self.rows}

    def visible_to(self, calendar_ids: Iterable[str] | None, ids: Iterable[str]) -> set[str]:
        return self.existing(ids)

    def ensure(self, person_id: str, now: datetime) -> PersonRow:
        if person_id not in self.rows:
            self.rows[person_id] = PersonRow(id=person_id, created_at=now, updated_at=now)
        return self.rows[person_id]


class FakeRows:
    def __init__(self) -> None:
        self.rows: list[Any] = []

    def add(self, row: Any) -> None:
        self.rows.append(row)

    def add_all(self, rows: Iterable[Any]) -> None:
        self.rows.extend(rows)


class FakeUnitOfWork(UnitOfWork):
    """In-memory repositories; every event raised is also kept in ``events`` (in the order handled)."""

    def __init__(self, bus: MessageBus | None = None) -> None:
        super().__init__(session_factory=None, bus=bus)  # type: ignore[arg-type]  # no database
        self.appointments = FakeAppointments()  # type: ignore[assignment]
        self.calendars = FakeCalendars()  # type: ignore[assignment]
        self.people = FakePeople()  # type: ignore[assignment]
        self.audit = FakeRows()  # type: ignore[assignment]
        self.outbox = FakeRows()  # type: ignore[assignment]
        self.events: list[Event] = []
        self.commits = 0
        self.rollbacks = 0
        self.bus.on(Event, lambda uow, event: self.events.append(event))

    def __enter__(self) -> FakeUnitOfWork:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def use(self, cls: type[SessionRepository], fake: object) -> None:
        """Let ``uow.repo(cls)`` answer with ``fake`` (an in-memory stand-in for a feature's repository)."""
        self._repos[cls] = fake  # type: ignore[assignment]

    def commit(self) -> None:
        self.commits += 1

    def rollback(self) -> None:
        self.rollbacks += 1

    @property
    def audit_rows(self) -> list[AuditRow]:
        return list(self.audit.rows)  # type: ignore[attr-defined]

    @property
    def outbox_rows(self) -> list[OutboxRow]:
        return list(self.outbox.rows)  # type: ignore[attr-defined]


def calendar(uow: FakeUnitOfWork, calendar_id: str, zone: str = "America/Denver") -> CalendarRow:
    row = CalendarRow(id=calendar_id, name=f"Calendar {calendar_id}", kind="fitter", timezone=zone)
    uow.calendars.rows[calendar_id] = row  # type: ignore[attr-defined]
    return row


def appointment(uow: FakeUnitOfWork, appointment_id: str, calendar_id: str, status: str = "BOOKED") -> AppointmentRow:
    row = AppointmentRow(
        id=appointment_id,
        calendar_id=calendar_id,
        calendar=uow.calendars.get(calendar_id),
        name="Fitting",
        description=None,
        type="FOLLOW_UP",
        status=status,
        date_start=T0,
        date_end=T0.replace(hour=10),
        meta_extra={},
        created_at=T0,
        updated_at=T0,
        deleted_at=None,
        version=1,
        sequence=0,
        guests=[],
    )
    uow.appointments.rows[appointment_id] = row  # type: ignore[attr-defined]
    return row
