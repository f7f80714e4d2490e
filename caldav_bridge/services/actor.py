"""Who is acting, through which channel, and what they may reach."""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field, replace

from caldav_bridge.errors import Forbidden

__all__ = [
    "ALL_ROLES",
    "CALDAV_CHANNEL",
    "MIRROR_CHANNEL",
    "SCHEDULING_CHANNEL",
    "WIDE_ROLES",
    "Actor",
    "Channel",
    "ClockMoved",
    "Role",
    "Scope",
    "UncheckedActor",
    "consequence_actor",
    "request_id_from",
    "system_actor",
]

Channel = str  # "api", "ols", "caldav", "feed", "cli", "sync", "scheduling", "demo"
#: Changes over CalDAV: the DAV store writes the changed appointment's item itself.
CALDAV_CHANNEL: Channel = "caldav"
#: Changes mirrored in from Salesforce: never queued back to it (no echo).
MIRROR_CHANNEL: Channel = "sync"
#: Consequences of another change (a TECH_SETUP call cancelled with its INITIAL, an expired hold).
SCHEDULING_CHANNEL: Channel = "scheduling"
Role = str
Scope = str

ALL_ROLES: tuple[Role, ...] = ("fitter", "consultant", "tech_setup", "dispatcher", "admin", "service")
#: Roles whose tokens reach every calendar.
WIDE_ROLES = frozenset({"dispatcher", "admin", "service"})
#: A request id a client may choose (``X-Request-ID``): it goes into the audit (a column of 64) and the logs.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: Each scope includes the ones after it.
_SCOPE_RANK = {"read": 1, "write": 2, "admin": 3}


@dataclass(frozen=True)
class Actor:
    """The caller of a service.

    ``calendar_ids`` is ``None`` when the actor reaches every calendar, else the set it reaches; of those,
    ``read_only_ids`` are the ones it reads but may not change (a member's team calendar).
    """

    user_id: str | None
    username: str
    role: Role
    scopes: frozenset[Scope]
    channel: Channel
    calendar_ids: frozenset[str] | None = None
    request_id: str | None = None
    token_id: str | None = field(default=None, compare=False)
    read_only_ids: frozenset[str] = frozenset()

    def has_scope(self, scope: Scope) -> bool:
        need = _SCOPE_RANK[scope]
        return any(_SCOPE_RANK.get(s, 0) >= need for s in self.scopes)

    def require(self, scope: Scope) -> None:
        if not self.has_scope(scope):
            raise Forbidden(f"this token lacks the {scope!r} scope")

    def reaches(self, calendar_id: str) -> bool:
        return self.calendar_ids is None or calendar_id in self.calendar_ids

    def require_change(self, calendar_id: str) -> None:
        """:class:`Forbidden` for a calendar the actor reaches only to read (check that it reaches it first)."""
        if calendar_id in self.read_only_ids:
            raise Forbidden("a team calendar is read-only for its members: a dispatcher or an admin changes it")

    def visible(self, calendar_ids: Collection[str] | None) -> list[str] | None:
        """Narrow an optional requested set of calendars to what the actor reaches."""
        if self.calendar_ids is None:
            return None if calendar_ids is None else list(calendar_ids)
        if calendar_ids is None:
            return sorted(self.calendar_ids)
        return [c for c in calendar_ids if c in self.calendar_ids]


@dataclass(frozen=True)
class UncheckedActor:
    """A bearer token's actor from a process's cache (``users.TokenCache``), resolved when the authorisation clock
    (``store/auth_clock.py``) read ``generation`` and not checked against it since.

    Only a read that reads the clock in the same statement as its data takes one (``appointments.get_encoded``,
    ``list_encoded``): it compares the two before it checks a scope, audits or returns anything, and raises
    :class:`ClockMoved` if they differ; the caller then resolves the token again (``users.actor_for_token``) and
    reads again. A revocation is thus seen by the very read that follows it, with one statement fewer a read
    while the clock stands still (the usual case)."""

    actor: Actor
    generation: int

    @property
    def username(self) -> str:
        return self.actor.username

    def checked(self, clock: int | None) -> Actor:
        """The actor, if the clock a read saw (``clock``) is the one it was resolved at; else :class:`ClockMoved`."""
        if clock != self.generation:
            raise ClockMoved()
        return self.actor


class ClockMoved(Exception):
    """The authorisation clock moved since an :class:`UncheckedActor` was resolved: resolve the token again."""


def consequence_actor(actor: Actor) -> Actor:
    """The actor of a consequence of ``actor``'s change: the same person, every calendar, the ``scheduling``
    channel (so every channel's handlers treat the consequence as a change of its own)."""
    return replace(actor, calendar_ids=None, read_only_ids=frozenset(), channel=SCHEDULING_CHANNEL)


def system_actor(channel: Channel = "cli", username: str = "system") -> Actor:
    """An actor with every scope over every calendar (admin commands, jobs, demo seeding)."""
    return Actor(user_id=None, username=username, role="service", scopes=frozenset({"admin"}), channel=channel)


def request_id_from(header: str | None) -> str:
    """The client's ``X-Request-ID`` when it is a safe token (letters, digits, ``._-``, at most 64), else a new one:
    what every edge (REST, CalDAV) puts in its actors' audit rows and its log lines."""
    return header if header and _SAFE_REQUEST_ID.match(header) else uuid.uuid4().hex
