"""A unit of work with in-memory repositories: the service layer's tests without a database.

:class:`FakeUnitOfWork` is a real :class:`~caldav_bridge.store.uow.UnitOfWork` (the same event
dispatch) whose repositories keep rows in dicts and lists; ``commit`` and ``rollback`` only count.
Rows are the ORM classes, transient (never attached to a session).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any

from caldav_bridge.events.bus import MessageBus
from caldav_bridge.events.model import Event
from caldav_bridge.model.appointment import AppointmentStatus
from caldav_bridge.model.queries import AppointmentFilters, ListedKind
from caldav_bridge.model.requests import CalendarKind
from caldav_bridge.scheduling.queries import SchedulingQueries
from caldav_bridge.scheduling.rules import AvailabilityRules, TimeRange
from caldav_bridge.store.read_audit import Reads
from caldav_bridge.store.tables import (
    AppointmentRow,
    AuditRow,
    CalendarRow,
    OutboxRow,
    PersonRow,
    StatusHistoryRow,
    UserRow,
)
from caldav_bridge.store.uow import SessionRepository, UnitOfWork

__all__ = ["FakeScheduling", "FakeUnitOfWork", "FakeUsers", "appointment", "calendar", "user"]

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

    def search(
        self,
        filters: AppointmentFilters,
        limit: int,
        *,
        calendar_ids: Sequence[str] | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[AppointmentRow]:
        """What ``AppointmentRepository.search`` selects, in Python."""
        found = [
            row
            for row in self.rows.values()
            if row.deleted_at is None
            and (calendar_ids is None or row.calendar_id in calendar_ids)
            and _matches(row, filters)
            and (after is None or (row.date_start, row.id) > after)
        ]
        return sorted(found, key=lambda r: (r.date_start, r.id))[:limit]

    def search_plain(
        self,
        filters: AppointmentFilters,
        limit: int,
        *,
        calendar_ids: Sequence[str] | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[_Plain]:
        """What ``AppointmentRepository.search_plain`` gives: the rows of :meth:`search`, as plain rows."""
        return [_Plain(r) for r in self.search(filters, limit, calendar_ids=calendar_ids, after=after)]

    def get_plain(self, appointment_id: str) -> _Plain | None:
        row = self.get(appointment_id)
        return None if row is None else _Plain(row)

    def add_history(self, row: StatusHistoryRow) -> None:
        self.history_rows.append(row)


class _Plain:
    """A row as ``store.plain_rows.PlainRow`` stands for one (``as_row``)."""

    def __init__(self, row: AppointmentRow) -> None:
        self._row = row
        self.calendar_id = row.calendar_id

    def as_row(self) -> AppointmentRow:
        return self._row


def _matches(row: AppointmentRow, f: AppointmentFilters) -> bool:
    equal = (
        (row.sf_opportunity_gid, f.opportunity_gid),
        (row.sf_customer_gid, f.customer_gid),
        (row.sf_appointment_gid, f.appointment_gid),
        (row.type, f.type),
        (row.status, f.status),
    )
    return (
        all(wanted is None or value == wanted for value, wanted in equal)
        and (f.guest_id is None or any(g.person_id == f.guest_id for g in row.guests))
        and (f.start is None or row.date_end > f.start)
        and (f.end is None or row.date_start < f.end)
        and (f.updated_since is None or row.updated_at >= f.updated_since)
        and (f.kind is ListedKind.ALL or (row.meta_extra or {}).get("kind", "appointment") == f.kind.value)
    )


class FakeCalendars:
    def __init__(self) -> None:
        self.rows: dict[str, CalendarRow] = {}

    def get(self, calendar_id: str) -> CalendarRow | None:
        return self.rows.get(calendar_id)


class FakeUsers:
    def __init__(self) -> None:
        self.rows: dict[str, UserRow] = {}

    def get(self, user_id: str) -> UserRow | None:
        return self.rows.get(user_id)

    def by_username(self, username: str) -> UserRow | None:
        return next((u for u in self.rows.values() if u.username == username), None)


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


class FakeScheduling:
    """``uow.repo(SchedulingQueries)`` in memory: rules, exceptions and round-robin times set by the test; busy
    time is the fake unit of work's live, not cancelled appointments (as the real query reads the table)."""

    def __init__(self, appointments: FakeAppointments, calendars: FakeCalendars) -> None:
        self.appointments = appointments
        self.calendars = calendars
        self.rules: dict[str, AvailabilityRules] = {}
        self.exception_days: dict[str, dict[date, list[TimeRange]]] = {}
        self.assigned: dict[tuple[str, str], datetime] = {}  # (team id, member id) -> last assigned

    def rules_of(self, calendar: CalendarRow) -> AvailabilityRules | None:
        for calendar_id in (calendar.id, calendar.team_id):
            if calendar_id and calendar_id in self.rules:
                return self.rules[calendar_id]
        return None

    def exceptions_of(self, calendar: CalendarRow) -> dict[date, list[TimeRange]]:
        result: dict[date, list[TimeRange]] = {}
        for calendar_id in (calendar.team_id, calendar.id):
            result.update(self.exception_days.get(calendar_id or "", {}))
        return result

    def members_of(self, team_id: str) -> list[CalendarRow]:
        members = [c for c in self.calendars.rows.values() if c.team_id == team_id]
        return sorted(members, key=lambda c: (c.name, c.id))

    def busy_intervals(
        self,
        calendar_ids: Sequence[str],
        start: datetime,
        end: datetime,
        now: datetime,
        *,
        exclude: Sequence[str] = (),
    ) -> dict[str, list[tuple[datetime, datetime]]]:
        result: dict[str, list[tuple[datetime, datetime]]] = {c: [] for c in calendar_ids}
        for row in self.appointments.rows.values():
            if (
                row.calendar_id in result
                and row.deleted_at is None
                and row.status != AppointmentStatus.CANCELLED.value
                and row.id not in exclude
                and row.date_start < end
                and row.date_end > start
            ):
                result[row.calendar_id].append((row.date_start, row.date_end))
        return result

    def last_assigned(self, team_id: str, calendar_ids: Sequence[str]) -> dict[str, datetime]:
        return {c: at for (team, c), at in self.assigned.items() if team == team_id and c in calendar_ids}

    def tech_setup_teams(self) -> list[CalendarRow]:
        team_ids = {c.team_id for c in self.calendars.rows.values() if c.kind == CalendarKind.TECH_SETUP_MEMBER}
        return [c for c in self.calendars.rows.values() if c.id in team_ids]


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
        appointments, calendars = FakeAppointments(), FakeCalendars()
        self.appointments = appointments  # type: ignore[assignment]
        self.calendars = calendars  # type: ignore[assignment]
        self.people = FakePeople()  # type: ignore[assignment]
        self.users = FakeUsers()  # type: ignore[assignment]
        self.audit = FakeRows()  # type: ignore[assignment]
        self.outbox = FakeRows()  # type: ignore[assignment]
        self.scheduling = FakeScheduling(appointments, calendars)
        self.use(SchedulingQueries, self.scheduling)
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

    def savepoint(self) -> AbstractContextManager[Any]:
        return nullcontext()

    def flush(self) -> None:
        return None

    def changed(self, row: object) -> bool:
        """Every row counts as changed: the fakes' rows live in no session that could tell (the real unit of work's
        answer is tested over HTTP, tests/e2e/test_api_appointments.py)."""
        return True

    def audit_reads(self, reads: Reads) -> None:
        self.audit.add_all(AuditRow(**r) for r in reads.rows())

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


def user(uow: FakeUnitOfWork, user_id: str, username: str, role: str = "fitter", *, active: bool = True) -> UserRow:
    row = UserRow(id=user_id, username=username, role=role, active=active)
    uow.users.rows[user_id] = row  # type: ignore[attr-defined]
    return row


def calendar(
    uow: FakeUnitOfWork,
    calendar_id: str,
    zone: str = "America/Denver",
    *,
    kind: str = "fitter",
    team_id: str | None = None,
    name: str | None = None,
    owner_user_id: str | None = None,
) -> CalendarRow:
    row = CalendarRow(
        id=calendar_id,
        name=name or f"Calendar {calendar_id}",
        kind=kind,
        timezone=zone,
        team_id=team_id,
        owner_user_id=owner_user_id,
    )
    uow.calendars.rows[calendar_id] = row  # type: ignore[attr-defined]
    return row


def appointment(
    uow: FakeUnitOfWork,
    appointment_id: str,
    calendar_id: str,
    status: str = "BOOKED",
    *,
    start: datetime = T0,
    end: datetime | None = None,
) -> AppointmentRow:
    row = AppointmentRow(
        id=appointment_id,
        calendar_id=calendar_id,
        calendar=uow.calendars.get(calendar_id),
        name="Fitting",
        description=None,
        type="FOLLOW_UP",
        status=status,
        date_start=start,
        date_end=end or start + timedelta(hours=1),
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
