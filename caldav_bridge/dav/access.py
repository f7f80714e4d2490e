"""Who may reach which DAV path: the rules behind the Radicale rights plugin.

- everyone reads and writes below their own principal (``<username>/...``), where their
  appointment calendar lives and where they may create calendars of their own;
- dispatchers, admins and service users read everything;
- tech-setup members read their team's calendar (``_calendars/<team calendar id>``);
- nobody else sees anything (unknown users, inactive users, other people's calendars);
- an appointment calendar (and the principal holding one) carries Radicale's "may not delete"
  permission, so a DELETE of it is refused by Radicale itself with a plain 403 (the store refuses it
  too, but Radicale reports an exception from the store as a 500 with a traceback in the log).
"""

from __future__ import annotations

from dataclasses import dataclass

from caldav_bridge.dav.provisioning import SHARED_ROOT
from caldav_bridge.dav.repository import DavRows
from caldav_bridge.services.actor import WIDE_ROLES
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["DavAccess", "access_in", "dav_access", "rights_for"]


@dataclass(frozen=True)
class DavAccess:
    username: str
    role: str | None
    #: Shared (team) calendars the user may read.
    team_calendar_ids: frozenset[str]
    #: DAV paths of the user's own appointment calendars (no leading or trailing slash).
    appointment_paths: frozenset[str] = frozenset()


def dav_access(uow: UnitOfWork, username: str) -> DavAccess:
    """What ``username`` may reach, read in a transaction of its own."""
    with uow:
        return access_in(uow, username)


def access_in(uow: UnitOfWork, username: str) -> DavAccess:
    """What ``username`` may reach, read in ``uow``'s open transaction."""
    user = uow.users.by_username(username)
    if user is None or not user.active:
        return DavAccess(username, None, frozenset())
    rows = uow.repo(DavRows)
    return DavAccess(username, user.role, rows.team_ids_owned_by(user.id), rows.calendar_paths_owned_by(user.id))


def rights_for(access: DavAccess | None, user: str, path: str) -> str:
    """Radicale permissions of ``user`` on the sanitized ``path`` (no leading or trailing slash).

    ``access`` is ``None`` for users the service does not know (Radicale's own test users): they
    get Radicale's ``owner_only`` rules.
    """
    if not user:
        return ""
    if not path:
        return "R"
    parts = path.split("/")
    depth = len(parts)
    if parts[0] == user:
        # "d" forbids deleting a calendar; Radicale reads it as "D" on a plain folder (the principal)
        if depth == 1:
            return "RWD" if access is not None and access.appointment_paths else "RW"
        return "rwd" if access is not None and path in access.appointment_paths else "rw"
    if access is None or access.role is None:
        return ""
    if access.role in WIDE_ROLES:
        return "R" if depth == 1 else "r"
    if parts[0] == SHARED_ROOT and access.team_calendar_ids:
        if depth == 1:
            return "R"
        if parts[1] in access.team_calendar_ids:
            return "r"
    return ""
