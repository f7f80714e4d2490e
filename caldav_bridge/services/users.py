"""Users, their app passwords and API tokens, and turning a token into an :class:`Actor`."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from caldav_bridge.clock import utcnow
from caldav_bridge.credentials import hash_password, new_api_token, new_password, token_digest, verify_password
from caldav_bridge.dav.provisioning import calendar_created
from caldav_bridge.errors import Conflict, FieldError, NotFound, Unauthorized, ValidationFailed
from caldav_bridge.model.appointment import check_zone
from caldav_bridge.services.actor import ALL_ROLES, WIDE_ROLES, Actor, Channel, UncheckedActor
from caldav_bridge.store.tables import ApiTokenRow, CalendarRow, UserRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = [
    "SCOPES",
    "IssuedToken",
    "TokenCache",
    "TokenInfo",
    "UserInfo",
    "actor_for_password",
    "actor_for_token",
    "actor_for_user",
    "add_user",
    "is_known",
    "issue_token",
    "list_tokens",
    "list_users",
    "revoke_token",
    "set_password",
    "unchecked_actor",
]

SCOPES = ("read", "write", "admin")
#: Roles whose users get a calendar of their own when they are created, and its kind.
PERSONAL_CALENDAR_KINDS = {"fitter": "fitter", "consultant": "consultant", "tech_setup": "tech_setup_member"}


@dataclass(frozen=True)
class UserInfo:
    id: str
    username: str
    display_name: str
    email: str | None
    role: str
    active: bool


@dataclass(frozen=True)
class IssuedToken:
    """A newly issued token: ``secret`` is shown once and never stored."""

    id: str
    name: str
    username: str
    scopes: tuple[str, ...]
    secret: str


@dataclass(frozen=True)
class TokenInfo:
    """An API token as listed: never its secret (only a hash is stored)."""

    id: str
    name: str
    username: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


#: An address as a mail server takes it: something@domain.tld, no spaces (deliverability is not checked).
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


def add_user(
    uow: UnitOfWork,
    username: str,
    role: str,
    *,
    display_name: str | None = None,
    email: str | None = None,
    password: str | None = None,
    timezone: str = "UTC",
) -> tuple[UserInfo, str]:
    """Create a user; returns it and its app password (generated unless given).

    Fitters, consultants and tech-setup members get their own calendar in ``timezone`` at once.
    """
    errors = []
    if not username or len(username) > 64 or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        errors.append(FieldError("username", "1-64 letters, digits, '.', '-' or '_'"))
    if role not in ALL_ROLES:
        errors.append(FieldError("role", f"one of {', '.join(ALL_ROLES)}"))
    if email is not None and (len(email) > 254 or not _EMAIL.match(email)):
        errors.append(FieldError("email", f"{email!r} is not an e-mail address (name@example.com)"))
    try:
        check_zone(timezone)
    except ValueError as exc:
        errors.append(FieldError("timezone", str(exc)))
    if errors:
        raise ValidationFailed(errors)
    password = password or new_password()
    with uow:
        if uow.users.by_username(username):
            raise Conflict(f"user {username!r} already exists")
        now = utcnow()
        row = UserRow(
            username=username,
            display_name=display_name or username,
            email=email,
            role=role,
            password_hash=hash_password(password),
            active=True,
            created_at=now,
            updated_at=now,
        )
        uow.users.add(row)
        uow.flush()
        if role in PERSONAL_CALENDAR_KINDS:
            calendar = CalendarRow(
                name=row.display_name,
                kind=PERSONAL_CALENDAR_KINDS[role],
                timezone=timezone,
                owner_user_id=row.id,
                created_at=now,
                updated_at=now,
            )
            uow.calendars.add(calendar)
            uow.flush()
            # Its CalDAV collection (<username>/appointments) exists from the start.
            calendar_created(uow, calendar)
        uow.commit()
        return _info(row), password


def list_users(uow: UnitOfWork) -> list[UserInfo]:
    with uow:
        return [_info(r) for r in uow.users.search()]


def set_password(uow: UnitOfWork, username: str, password: str | None = None) -> str:
    """Set (or generate) a user's app password; returns it."""
    password = password or new_password()
    if len(password) < 8:
        raise ValidationFailed([FieldError("password", "at least 8 characters")])
    with uow:
        row = _user(uow, username)
        row.password_hash = hash_password(password)
        row.updated_at = utcnow()
        uow.commit()
    return password


def issue_token(uow: UnitOfWork, username: str, scopes: tuple[str, ...], name: str = "api") -> IssuedToken:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValidationFailed([FieldError("scopes", f"one or more of {', '.join(SCOPES)}")])
    secret = new_api_token()
    with uow:
        user = _user(uow, username)
        row = ApiTokenRow(
            user_id=user.id,
            name=name[:64],
            token_hash=token_digest(secret),
            scopes=" ".join(scopes),
            created_at=utcnow(),
        )
        uow.users.add_token(row)
        uow.commit()
        return IssuedToken(row.id, row.name, username, scopes, secret)


def list_tokens(uow: UnitOfWork, username: str | None = None) -> list[TokenInfo]:
    """API tokens (of one user, or everyone's), oldest first; revoked ones included, marked."""
    with uow:
        users = [_user(uow, username)] if username else uow.users.search()
        return [
            TokenInfo(
                t.id,
                t.name,
                user.username,
                tuple(t.scopes.split()),
                t.created_at,
                t.last_used_at,
                t.revoked_at,
            )
            for user in users
            for t in uow.users.tokens_of(user.id)
        ]


def revoke_token(uow: UnitOfWork, token_id: str) -> None:
    with uow:
        row = uow.users.get_token(token_id)
        if row is None:
            raise NotFound("token", token_id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        uow.commit()


#: How often a token's ``last_used_at`` is written (at most once per this interval per token).
LAST_USED_EVERY = timedelta(minutes=1)


@dataclass
class _Resolved:
    generation: int
    actor: Actor
    last_used_at: datetime | None


@dataclass
class TokenCache:
    """Resolved bearer tokens of one process, trusted while the database's authorisation clock stands still.

    The clock (``store/auth_clock.py``) is moved by triggers on every revocation and every change of a
    token, user or calendar that changes what a token stands for, by any process; each request reads it
    (one primary-key row) and a moved clock drops every entry, so a revocation is seen at once everywhere.
    """

    size: int = 4096
    _entries: OrderedDict[str, _Resolved] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, digest: str, generation: int) -> _Resolved | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None or entry.generation != generation:
                return None
            self._entries.move_to_end(digest)
            return entry

    def peek(self, digest: str) -> _Resolved | None:
        """The entry for ``digest`` whatever the clock reads now (for :func:`unchecked_actor`)."""
        with self._lock:
            return self._entries.get(digest)

    def put(self, digest: str, entry: _Resolved) -> None:
        with self._lock:
            self._entries[digest] = entry
            self._entries.move_to_end(digest)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def actor_for_token(
    uow: UnitOfWork, secret: str, channel: Channel, request_id: str | None = None, cache: TokenCache | None = None
) -> Actor:
    """The actor a bearer token stands for; :class:`Unauthorized` for unknown or revoked tokens.

    With a ``cache``, a token resolved before costs one read of the authorisation clock (one statement, no
    transaction: it never waits for a writer); ``last_used_at`` is written at most once a minute per token.
    """
    digest = token_digest(secret)
    entry = cache.get(digest, uow.auth_generation()) if cache is not None else None
    if entry is None:
        with uow.reading():  # the clock read again in the transaction the token is resolved in
            generation = uow.users.auth_generation()
            row = uow.users.token_by_hash(digest)
            if row is None or row.revoked_at is not None or not row.user.active:
                raise Unauthorized("unknown, revoked or expired token")
            actor = _actor(uow, row.user, frozenset(row.scopes.split()), channel, None, token_id=row.id)
            entry = _Resolved(generation, actor, row.last_used_at)
            if cache is not None:
                cache.put(digest, entry)
    now = utcnow()
    if entry.last_used_at is None or now - entry.last_used_at > LAST_USED_EVERY:
        entry.last_used_at = now  # bounded write rate: at most once a minute per token (and process)
        _touch(uow, entry.actor.token_id, now)
    return replace(entry.actor, channel=channel, request_id=request_id)


def unchecked_actor(secret: str, channel: Channel, request_id: str | None, cache: TokenCache) -> UncheckedActor | None:
    """The actor a bearer token stood for when ``cache`` resolved it, for a read that checks the authorisation clock
    in its own statement (:class:`UncheckedActor`); None when the token is not in the cache or its ``last_used_at``
    is due to be written (:func:`actor_for_token` then does both). No statement is sent."""
    entry = cache.peek(token_digest(secret))
    if entry is None or entry.last_used_at is None or utcnow() - entry.last_used_at > LAST_USED_EVERY:
        return None
    return UncheckedActor(replace(entry.actor, channel=channel, request_id=request_id), entry.generation)


def _touch(uow: UnitOfWork, token_id: str | None, now: datetime) -> None:
    with uow:
        row = uow.users.get_token(token_id) if token_id else None
        if row is not None:
            row.last_used_at = now
            uow.commit()


def is_known(uow: UnitOfWork, username: str) -> bool:
    """Whether ``username`` names a user (active or not); for logs that must not echo anything else."""
    with uow:
        return uow.users.by_username(username) is not None


def actor_for_password(uow: UnitOfWork, username: str, password: str, channel: Channel) -> Actor | None:
    """The actor for a username and app password, or ``None`` if they do not match."""
    with uow:
        row = uow.users.by_username(username)
        if row is None or not row.active or not verify_password(password, row.password_hash):
            return None
        return _actor(uow, row, frozenset({"write"}), channel, None)


def actor_for_user(uow: UnitOfWork, username: str, channel: Channel) -> Actor:
    with uow:
        return _actor(uow, _user(uow, username), frozenset({"admin"}), channel, None)


def _actor(
    uow: UnitOfWork,
    user: UserRow,
    scopes: frozenset[str],
    channel: Channel,
    request_id: str | None,
    token_id: str | None = None,
) -> Actor:
    calendar_ids: frozenset[str] | None = None
    read_only: frozenset[str] = frozenset()
    if user.role not in WIDE_ROLES:
        own = frozenset(uow.calendars.ids_owned_by(user.id))
        read_only = frozenset(c.team_id for c in uow.calendars.search(list(own)) if c.team_id) - own
        calendar_ids = own | read_only
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        scopes=scopes,
        channel=channel,
        calendar_ids=calendar_ids,
        request_id=request_id,
        token_id=token_id,
        read_only_ids=read_only,
    )


def _user(uow: UnitOfWork, username: str) -> UserRow:
    row = uow.users.by_username(username)
    if row is None:
        raise NotFound("user", username)
    return row


def _info(row: UserRow) -> UserInfo:
    return UserInfo(row.id, row.username, row.display_name, row.email, row.role, row.active)
