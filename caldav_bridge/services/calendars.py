"""Calendar use cases."""

from __future__ import annotations

from caldav_bridge.clock import utcnow
from caldav_bridge.errors import FieldError, Forbidden, NotFound, ValidationFailed
from caldav_bridge.events.model import CalendarRenamed
from caldav_bridge.model.appointment import MAX_NAME
from caldav_bridge.model.calendar import Calendar
from caldav_bridge.model.requests import CalendarDraft, CalendarKind, CalendarPatch
from caldav_bridge.services.actor import Actor
from caldav_bridge.services.mapping import calendar_from_row
from caldav_bridge.store.tables import CalendarRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["create", "get", "list_calendars", "rename", "rename_in"]


def create(uow: UnitOfWork, actor: Actor, draft: CalendarDraft) -> Calendar:
    """Create a calendar; only an actor with the admin scope may."""
    actor.require("admin")
    with uow:
        owner_id = None
        if draft.owner_username:
            owner = uow.users.by_username(draft.owner_username)
            if owner is None:
                raise ValidationFailed([FieldError("owner_username", f"unknown user {draft.owner_username!r}")])
            owner_id = owner.id
        if draft.team_id and draft.kind == CalendarKind.TEAM:
            raise ValidationFailed([FieldError("team_id", "a team calendar belongs to no team")])
        if draft.team_id:
            team = uow.calendars.get(draft.team_id)
            if team is None or team.kind != CalendarKind.TEAM:
                raise ValidationFailed([FieldError("team_id", f"{draft.team_id!r} is not a team calendar")])
        now = utcnow()
        row = CalendarRow(
            name=draft.name,
            kind=draft.kind.value,
            timezone=draft.timezone,
            owner_user_id=owner_id,
            team_id=draft.team_id,
            created_at=now,
            updated_at=now,
        )
        uow.calendars.add(row)
        uow.commit()
        return calendar_from_row(row)


def get(uow: UnitOfWork, actor: Actor, calendar_id: str) -> Calendar:
    actor.require("read")
    with uow:
        row = uow.calendars.get(calendar_id)
        if row is None or not actor.reaches(row.id):
            raise NotFound("calendar", calendar_id)
        return calendar_from_row(row)


def list_calendars(uow: UnitOfWork, actor: Actor) -> list[Calendar]:
    actor.require("read")
    with uow:
        return [calendar_from_row(r) for r in uow.calendars.search(actor.visible(None))]


def rename_in(uow: UnitOfWork, actor: Actor, calendar_id: str, name: str) -> Calendar:
    """Rename a calendar inside the caller's open unit of work (the caller commits).

    The name is trimmed; an empty one or one longer than the model allows is refused (``ValidationFailed`` on
    ``name``), as is a team calendar's rename by anyone but an admin (``Forbidden``): a team's name is the
    dispatchers' to choose, not a member's. Nothing is written when refused.
    """
    actor.require("write")
    row = uow.calendars.get(calendar_id)
    if row is None or not actor.reaches(row.id):
        raise NotFound("calendar", calendar_id)
    clean = name.strip()
    if not clean:
        raise ValidationFailed([FieldError("name", "a calendar's name cannot be empty")])
    if len(clean) > MAX_NAME:
        raise ValidationFailed([FieldError("name", f"a calendar's name is at most {MAX_NAME} characters")])
    if row.kind == CalendarKind.TEAM and not actor.has_scope("admin"):
        raise Forbidden("a team calendar is renamed by an admin, not by its members")
    if row.name != clean:
        old = row.name
        row.name = clean
        row.updated_at = utcnow()
        uow.flush()
        uow.add_event(CalendarRenamed(actor, row.id, old, clean))
    return calendar_from_row(row)


def rename(uow: UnitOfWork, actor: Actor, calendar_id: str, draft: CalendarPatch) -> Calendar:
    """Rename a calendar in a transaction of its own (REST, CLI): :func:`rename_in`'s rules."""
    with uow:
        calendar = rename_in(uow, actor, calendar_id, draft.name)
        uow.commit()
        return calendar
