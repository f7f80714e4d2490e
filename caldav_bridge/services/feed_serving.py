"""Serving a calendar's iCal feed: token → window of appointments → deterministic bytes, 304 when unchanged.

One call, :func:`fetch_feed`, does what a feed request needs, in one transaction:

1. the per-token rate limit (before the database is touched);
2. the token, looked up by the SHA-256 of its secret (unknown or revoked → :class:`NotFound`);
3. a light query of the window's (id, version) pairs, which alone decide the bytes: the ETag is
   their digest (plus the calendar and the rendering options), so a 304 costs no rendering;
4. otherwise the body: whole feeds and single VEVENTs are cached by keys derived from the data;
5. the fetch recorded (``feed_fetches``, and ``audit_log``: one row per fetch, plus one per appointment
   shown when the token's privacy is ``full``).

A repeated request is answered from the token's last answer, held in memory (:class:`Answer`: ETag,
Last-Modified, the bytes), before any rendering or database work: a 304 when ``If-None-Match`` matches
its ETag, else a 200 with its bytes. The answer holds while the window's minute is the same, no domain
event has marked one of its calendars changed since (``infra/feed_changes.py``: in every process of
this host, a memory read), no token was revoked through this runtime, and for at most
:data:`WRITES_TTL` seconds (writes that raise no event, processes on other hosts).

Otherwise the 304 path touches no database when its caches are warm (``docs/feeds.md``, "Speed"):

* a resolved token (and a team's member calendars) is kept for :data:`TOKEN_TTL` seconds; a revocation
  or rotation through this runtime drops them all at once (its ``write_clocks.token_revocations``), one
  made by another instance is seen by this one within :data:`TOKEN_TTL` seconds (as is a renamed calendar);
* the calendars' row count and version sum are re-read when an appointment is written through this
  runtime's sessions (its ``write_clocks.appointments``, ``store/write_clock.py``), and at least every
  :data:`WRITES_TTL` seconds (writes by other processes are seen within that bound);
* the fetch is recorded through the context's :class:`FetchLog` (a bounded buffer written every second
  by a background thread, flushed at shutdown) instead of an INSERT and a COMMIT per request.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib.metadata import version
from zoneinfo import ZoneInfo

from caldav_bridge.clock import utcnow
from caldav_bridge.converters.disclosure import lists_cancelled, member_labels
from caldav_bridge.converters.ical import (
    RENDER_VERSION,
    CalendarInfo,
    EventOptions,
    timezone_range,
    vcalendar,
    vtimezones,
)
from caldav_bridge.converters.ical_series import feed_event_bytes, series_zones
from caldav_bridge.credentials import token_digest
from caldav_bridge.errors import DomainError
from caldav_bridge.infra.feed_cache import FeedBody, FeedCache, LruCache
from caldav_bridge.infra.feed_changes import FeedChanges
from caldav_bridge.infra.fetch_log import Fetch, FetchLog
from caldav_bridge.infra.rate_limit import RateLimiter
from caldav_bridge.model.feeds import Privacy
from caldav_bridge.model.requests import CalendarKind
from caldav_bridge.services.feed_tokens import Resolved, resolve
from caldav_bridge.services.mapping import appointment_from_row
from caldav_bridge.store.feed_repository import FeedDrift, FeedItem
from caldav_bridge.store.tables import AuditRow, FeedFetchRow, FeedTokenRow
from caldav_bridge.store.uow import UnitOfWork
from caldav_bridge.store.write_clock import WriteClocks

__all__ = [
    "Answer",
    "Client",
    "Conditions",
    "FeedConfig",
    "FeedContext",
    "FeedResponse",
    "RateLimited",
    "Window",
    "calendar_ids_of",
    "check_rate",
    "fetch_feed",
    "held_answer",
    "member_names_of",
    "record_fetch",
    "record_refusal",
    "render_feed",
    "window_of",
]

_ICALENDAR_VERSION = version("icalendar")
#: Seconds a resolved token is trusted without asking the database (revocations in this process: at once).
TOKEN_TTL = 5.0
#: Seconds the calendars' write count is trusted without re-reading it (writes in this process: at once).
WRITES_TTL = 1.0


class RateLimited(DomainError):
    """Too many requests for one feed token; ``retry_after`` in whole seconds."""

    title = "Too many requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests for this feed; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class FeedConfig:
    """The settings a feed depends on (``feed_*`` and ``cockpit_url_template``)."""

    back: timedelta = timedelta(days=30)
    ahead: timedelta = timedelta(days=180)
    cancelled_grace: timedelta = timedelta(days=14)
    refresh: timedelta = timedelta(hours=1)
    url_template: str = ""

    @classmethod
    def from_settings(cls, settings: object) -> FeedConfig:
        s = settings
        return cls(
            back=timedelta(days=s.feed_window_back_days),  # type: ignore[attr-defined]
            ahead=timedelta(days=s.feed_window_ahead_days),  # type: ignore[attr-defined]
            cancelled_grace=timedelta(days=s.feed_cancelled_grace_days),  # type: ignore[attr-defined]
            refresh=timedelta(minutes=s.feed_refresh_minutes),  # type: ignore[attr-defined]
            url_template=s.cockpit_url_template,  # type: ignore[attr-defined]
        )


@dataclass
class FeedContext:
    """What lives as long as the process: settings, caches, the rate limiter."""

    config: FeedConfig
    cache: FeedCache
    limiter: RateLimiter
    #: Where fetches are recorded off the request path; ``None``: in the request's transaction.
    fetch_log: FetchLog | None = field(default=None)
    #: The runtime's write clocks; ``None``: cached counts and tokens are trusted for their time to live alone.
    clocks: WriteClocks | None = None
    #: The calendars marked changed by the write path (every process of this host); ``None``: no held answers.
    changes: FeedChanges | None = None
    #: Each token's last answer, by the digest of its secret (see :class:`Answer`); as many as whole feeds are
    #: cached (256), since each may hold its bytes: the feeds' memory stays bounded, at most twice as before.
    answers: LruCache[str, Answer] = field(default_factory=lambda: LruCache(256))

    @classmethod
    def create(
        cls,
        config: FeedConfig,
        rate_per_minute: int,
        uow_factory: Callable[[], UnitOfWork] | None = None,
        clocks: WriteClocks | None = None,
        changes: FeedChanges | None = None,
    ) -> FeedContext:
        fetch_log = FetchLog(uow_factory) if uow_factory is not None else None
        return cls(config, FeedCache(), RateLimiter(rate_per_minute), fetch_log, clocks, changes)

    def appointment_writes(self) -> int:
        return self.clocks.appointments.generation() if self.clocks else 0

    def token_revocations(self) -> int:
        return self.clocks.token_revocations.generation() if self.clocks else 0


@dataclass(frozen=True)
class Client:
    """Who fetches (as recorded): user agent and client address."""

    user_agent: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Conditions:
    """A conditional request: ``If-None-Match`` (raw header) and ``If-Modified-Since``."""

    if_none_match: str | None = None
    if_modified_since: datetime | None = None


@dataclass(frozen=True)
class FeedResponse:
    status: int  # 200, or 304 when the client's copy is current
    etag: str  # quoted, strong
    last_modified: datetime
    body: FeedBody | None
    events: int
    token_name: str


@dataclass
class Answer:
    """A token's last answer, held to answer the next request without rendering or the database."""

    expires: float  # on the monotonic clock
    window_start: datetime
    revocations: int
    calendar_ids: tuple[str, ...]
    stamp: tuple[int, ...]  # the calendars' slots in FeedChanges when the answer was computed
    resolved: Resolved
    etag: str
    last_modified: datetime
    events: int
    shown: list[str]  # appointment ids a 200 shows with patient data (audited per fetch)
    body: FeedBody | None = None

    def holds(self, ctx: FeedContext, window_start: datetime) -> bool:
        return (
            self.expires > time.monotonic()
            and self.window_start == window_start
            and self.revocations == ctx.token_revocations()
            and ctx.changes is not None
            and ctx.changes.stamp(self.calendar_ids) == self.stamp
        )


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    cancelled_since: datetime

    def listed_cancelled_since(self, privacy: Privacy) -> datetime | None:
        """Cancelled appointments are listed if cancelled after this (``None``: not at all), at ``privacy``."""
        return self.cancelled_since if lists_cancelled(privacy) else None


def window_of(config: FeedConfig, now: datetime) -> Window:
    """The window at ``now``, moved in whole minutes (so that it changes at most once a minute)."""
    minute = now.replace(second=0, microsecond=0)
    return Window(minute - config.back, minute + config.ahead, minute - config.cancelled_grace)


def check_rate(limiter: RateLimiter, secret: str) -> bool:
    """Raise :class:`RateLimited` if this secret is over its rate; ``True`` if the refusal is worth recording."""
    decision = limiter.check(token_digest(secret))
    if not decision.allowed:
        exc = RateLimited(max(1, int(decision.retry_after + 0.999)))
        exc.first_refusal = decision.first_refusal  # type: ignore[attr-defined]
        raise exc
    return False


def fetch_feed(
    uow: UnitOfWork,
    ctx: FeedContext,
    secret: str,
    client: Client,
    conditions: Conditions = Conditions(),
    *,
    now: datetime | None = None,
) -> FeedResponse:
    """The feed behind ``secret`` (or a 304 verdict), with the fetch recorded.

    Raises :class:`NotFound` for an unknown or revoked secret and :class:`RateLimited` past the
    token's rate (the first refusal in a row is recorded, repeats are not).
    """
    try:
        check_rate(ctx.limiter, secret)
    except RateLimited as exc:
        if getattr(exc, "first_refusal", False):
            record_refusal(uow, secret, client, ctx.fetch_log)
        raise
    now = now or utcnow()
    window = window_of(ctx.config, now)
    held = _held(ctx, secret, conditions, window)
    if held is not None:
        return _answer_held(ctx, held, client, conditions, now)
    with contextlib.ExitStack() as stack:
        entered: list[UnitOfWork] = []

        def db() -> UnitOfWork:
            """The unit of work, begun only when a cache misses (a warm 304 needs no database)."""
            if not entered:
                entered.append(stack.enter_context(uow))
            return uow

        resolved, calendar_ids, members = _target(ctx, secret, db)
        stamp = ctx.changes.stamp(calendar_ids) if ctx.changes is not None else ()  # before reading the rows
        # What the window holds changes only with a write (which changes the row count or the version
        # sum) or as the window moves, once a minute: so it is read at most once a minute per write.
        cancelled_since = window.listed_cancelled_since(resolved.privacy)
        key = (tuple(calendar_ids), *_writes(ctx, calendar_ids, db, stamp), window.start, cancelled_since)
        cached = ctx.cache.windows.get(key)
        if cached is None:
            listed = db().feeds.items(calendar_ids, window.start, window.end, cancelled_since)
            drift = db().feeds.drift(calendar_ids, window.start, window.end, window.cancelled_since)
            cached = [listed, _items_digest(listed), drift]
            ctx.cache.windows.put(key, cached)
        items, items_digest, drift = cached
        options = _options(ctx.config, resolved)
        labels = member_labels(members, resolved.privacy)
        etag = _etag(resolved, options, ctx.config, items_digest + _labels_digest(labels))
        last_modified = _last_modified(ctx.config, resolved, drift, now)
        shown = [i.id for i in items] if resolved.privacy is Privacy.FULL else []
        answer = Answer(
            time.monotonic() + WRITES_TTL,
            window.start,
            ctx.token_revocations(),
            tuple(calendar_ids),
            stamp,
            resolved,
            etag,
            last_modified,
            len(items),
            shown,
        )
        if _not_modified(conditions, etag, last_modified):
            _record(ctx, db, resolved, client, 304, now)
            _hold(ctx, secret, answer)
            return FeedResponse(304, etag, last_modified, None, len(items), resolved.token_name)
        body = ctx.cache.feeds.get(etag)
        if body is None:
            body = FeedBody.of(render_feed(db(), ctx.cache, resolved, options, ctx.config, items, labels))
            ctx.cache.feeds.put(etag, body)
        answer.body = body
        _record(ctx, db, resolved, client, 200, now, appointment_ids=shown)
        _hold(ctx, secret, answer)
        return FeedResponse(200, etag, last_modified, body, len(items), resolved.token_name)


def held_answer(
    ctx: FeedContext, secret: str, if_none_match: str | None, client: Client, *, now: datetime | None = None
) -> FeedResponse | None:
    """The answer from the token's held answer, with the fetch recorded: a 304 when ``If-None-Match`` names its
    ETag, else a 200 with its bytes; ``None`` when no held answer decides it (none, no longer holding, a 200 due
    whose bytes are not held, over the rate): :func:`fetch_feed` answers.

    For the HTTP edge to answer a poll before the web framework does anything else."""
    if ctx.changes is None or ctx.fetch_log is None:
        return None
    answer = ctx.answers.get(token_digest(secret))
    now = now or utcnow()
    if answer is None or not answer.holds(ctx, window_of(ctx.config, now).start):
        return None
    conditions = Conditions(if_none_match)
    if answer.body is None and not _not_modified(conditions, answer.etag, answer.last_modified):
        return None
    if not ctx.limiter.try_take(token_digest(secret)):
        return None  # over the rate: the full path answers the 429 (and records the first refusal)
    return _answer_held(ctx, answer, client, conditions, now)


def _held(ctx: FeedContext, secret: str, conditions: Conditions, window: Window) -> Answer | None:
    """The token's held answer, if it still holds and can answer ``conditions`` (a 304 or its bytes)."""
    if ctx.changes is None or ctx.fetch_log is None or conditions.if_modified_since is not None:
        return None
    answer = ctx.answers.get(token_digest(secret))
    if answer is None or not answer.holds(ctx, window.start):
        return None
    if answer.body is None and not _not_modified(conditions, answer.etag, answer.last_modified):
        return None  # a 200 is due, and the held answer was a 304 without the bytes
    return answer


def _answer_held(
    ctx: FeedContext, answer: Answer, client: Client, conditions: Conditions, now: datetime
) -> FeedResponse:
    assert ctx.fetch_log is not None
    resolved = answer.resolved
    if _not_modified(conditions, answer.etag, answer.last_modified):
        ctx.fetch_log.add(fetch_of(resolved, client, 304, now))
        return FeedResponse(304, answer.etag, answer.last_modified, None, answer.events, resolved.token_name)
    ctx.fetch_log.add(fetch_of(resolved, client, 200, now, appointment_ids=answer.shown))
    return FeedResponse(200, answer.etag, answer.last_modified, answer.body, answer.events, resolved.token_name)


def _hold(ctx: FeedContext, secret: str, answer: Answer) -> None:
    if ctx.changes is not None and ctx.fetch_log is not None:
        ctx.answers.put(token_digest(secret), answer)


def _target(ctx: FeedContext, secret: str, db: Callable[[], UnitOfWork]) -> tuple[Resolved, list[str], dict[str, str]]:
    """The token behind ``secret``, its calendars and (for a team) its members' names: from the cache (at most
    :data:`TOKEN_TTL` old, and never across a revocation or rotation made in this process), else from the
    database."""
    digest = token_digest(secret)
    generation = ctx.token_revocations()  # read before the database, so a revocation racing us drops the entry
    entry = ctx.cache.tokens.get(digest)
    if entry is not None and entry[0] > time.monotonic() and entry[1] == generation:
        return entry[2], entry[3], entry[4]
    resolved, _row = resolve(db(), secret)
    calendar_ids = calendar_ids_of(db(), resolved)
    members = member_names_of(db(), resolved)
    ctx.cache.tokens.put(digest, (time.monotonic() + TOKEN_TTL, generation, resolved, calendar_ids, members))
    return resolved, calendar_ids, members


def _writes(
    ctx: FeedContext, calendar_ids: list[str], db: Callable[[], UnitOfWork], stamp: tuple[int, ...] = ()
) -> tuple[int, int]:
    """The calendars' row count and version sum, re-read after any appointment write in this process, any
    change event for these calendars in a process of this host (``stamp``), and at least every
    :data:`WRITES_TTL` seconds."""
    generation = (ctx.appointment_writes(), stamp)
    key = tuple(calendar_ids)
    entry = ctx.cache.writes.get(key)
    if entry is not None and entry[0] > time.monotonic() and entry[1] == generation:
        return entry[2]
    writes = db().feeds.writes(calendar_ids)
    ctx.cache.writes.put(key, (time.monotonic() + WRITES_TTL, generation, writes))
    return writes


def _record(
    ctx: FeedContext,
    db: Callable[[], UnitOfWork],
    resolved: Resolved,
    client: Client,
    status: int,
    now: datetime,
    *,
    appointment_ids: list[str] | None = None,
) -> None:
    """Record the fetch: into the fetch log's buffer, or (without one) in this transaction, committed."""
    if ctx.fetch_log is not None:
        ctx.fetch_log.add(fetch_of(resolved, client, status, now, appointment_ids=appointment_ids))
        return
    uow = db()
    token = uow.feeds.get_token(resolved.token_id)
    assert token is not None
    record_fetch(uow, token, resolved, client, status, now, appointment_ids=appointment_ids)
    uow.commit()


def fetch_of(
    resolved: Resolved,
    client: Client,
    status: int,
    now: datetime,
    *,
    appointment_ids: list[str] | None = None,
    what: str = "feed",
) -> Fetch:
    """A fetch as :class:`FetchLog` records it (the same rows :func:`record_fetch` writes)."""
    actor = f"feed:{resolved.token_name}"[:64]
    audit = tuple(
        {
            "at": now,
            "actor": actor,
            "channel": "feed",
            "action": "read",
            "appointment_id": i,
            "calendar_id": resolved.calendar_id,
            "detail": f"{what} token {resolved.token_id}",
        }
        for i in appointment_ids or []
    )
    return Fetch(
        at=now,
        token_id=resolved.token_id,
        calendar_id=resolved.calendar_id,
        user_agent=client.user_agent[:255] if client.user_agent else None,
        client_addr=client.address[:64] if client.address else None,
        status=status,
        audit=audit,
    )


def render_feed(
    uow: UnitOfWork,
    cache: FeedCache,
    resolved: Resolved,
    options: EventOptions,
    config: FeedConfig,
    items: list[FeedItem],
    labels: dict[str, str] | None = None,
) -> bytes:
    """The VCALENDAR of ``items`` (inside the caller's ``with uow``), reusing cached VEVENTs; ``labels``: a team
    calendar's member labels by calendar id (:func:`~caldav_bridge.converters.disclosure.member_labels`)."""
    key = options.key()
    labels = labels or {}
    blobs: dict[str, bytes] = {}
    for item in items:
        cached = cache.events.get((item.id, item.version, key, labels.get(item.calendar_id)))
        if cached is not None:
            blobs[item.id] = cached
    missing = [i.id for i in items if i.id not in blobs]
    for row in uow.feeds.appointments(missing):
        member = labels.get(row.calendar_id)
        blob = feed_event_bytes(appointment_from_row(row), row.sequence, options, member=member)
        cache.events.put((row.id, row.version, key, member), blob)
        blobs[row.id] = blob
    zone = ZoneInfo(resolved.timezone)
    timezones = []
    if items:
        first, last = timezone_range(
            (i.date_start.astimezone(zone).date() for i in items), (i.date_end.astimezone(zone).date() for i in items)
        )
        timezones = vtimezones([resolved.timezone, *series_zones(blobs.values())], first, last)
    info = CalendarInfo(
        uid=resolved.calendar_id,
        name=resolved.calendar_name,
        description=f"Appointments of {resolved.calendar_name} ({_privacy_note(resolved.privacy)})",
        timezone=resolved.timezone,
        refresh=config.refresh,
    )
    return vcalendar(info, (blobs[i.id] for i in items if i.id in blobs), timezones)


def record_fetch(
    uow: UnitOfWork,
    token: FeedTokenRow,
    resolved: Resolved,
    client: Client,
    status: int,
    now: datetime,
    *,
    count: int = 0,
    appointment_ids: list[str] | None = None,
    what: str = "feed",
) -> None:
    """Record one fetch in ``feed_fetches`` (the audit log of fetches: token, calendar, user agent, client
    address, status), and one ``audit_log`` read row per appointment shown with patient data."""
    uow.feeds.add_fetch(
        FeedFetchRow(
            at=now,
            token_id=token.id,
            calendar_id=resolved.calendar_id,
            user_agent=client.user_agent[:255] if client.user_agent else None,
            client_addr=client.address[:64] if client.address else None,
            status=status,
        )
    )
    actor = f"feed:{resolved.token_name}"[:64]
    audit = [
        AuditRow(
            at=now,
            actor=actor,
            channel="feed",
            action="read",
            appointment_id=i,
            calendar_id=resolved.calendar_id,
            detail=f"{what} token {token.id}",
        )
        for i in appointment_ids or []
    ]
    if audit:
        uow.audit.add_all(audit)
    if token.last_used_at is None or (now - token.last_used_at) > timedelta(minutes=1):
        token.last_used_at = now


def record_refusal(uow: UnitOfWork, secret: str, client: Client, fetch_log: FetchLog | None = None) -> None:
    now = utcnow()
    with uow:
        try:
            resolved, token = resolve(uow, secret)
        except DomainError:
            return
        if fetch_log is not None:
            fetch_log.add(fetch_of(resolved, client, 429, now))
            return
        record_fetch(uow, token, resolved, client, 429, now)
        uow.commit()


def calendar_ids_of(uow: UnitOfWork, resolved: Resolved) -> list[str]:
    """The calendar itself; for a team, its members' calendars too."""
    ids = [resolved.calendar_id]
    if resolved.calendar_kind == CalendarKind.TEAM:
        ids += uow.feeds.member_calendar_ids(resolved.calendar_id)
    return ids


def member_names_of(uow: UnitOfWork, resolved: Resolved) -> dict[str, str]:
    """For a team, each member calendar's person (calendar id → name); empty for any other calendar."""
    if resolved.calendar_kind != CalendarKind.TEAM:
        return {}
    return uow.feeds.member_names(resolved.calendar_id)


def _labels_digest(labels: dict[str, str]) -> str:
    """What the member labels add to a feed's ETag (nothing for a calendar that is no team)."""
    if not labels:
        return ""
    return hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()


def _options(config: FeedConfig, resolved: Resolved) -> EventOptions:
    return EventOptions(
        privacy=resolved.privacy,
        timezone=resolved.timezone,
        alarm_minutes=resolved.alarm_minutes,
        url_template="" if resolved.privacy is Privacy.BUSY else config.url_template,
    )


def _items_digest(items: list[FeedItem]) -> str:
    digest = hashlib.sha256()
    for item in items:
        digest.update(f"\x1e{item.id}:{item.version}".encode())
    return digest.hexdigest()


def _etag(resolved: Resolved, options: EventOptions, config: FeedConfig, items_digest: str) -> str:
    """Strong: a digest of everything the bytes depend on (the window's ids and versions, the calendar,
    the rendering options and versions), so equal ETags mean equal bytes."""
    head = (
        RENDER_VERSION,
        _ICALENDAR_VERSION,
        options.key(),
        resolved.calendar_id,
        resolved.calendar_name,
        resolved.timezone,
        str(config.refresh),
        items_digest,
    )
    digest = hashlib.sha256("\x1f".join(head).encode()).hexdigest()
    return f'"{digest[:32]}"'


def _last_modified(config: FeedConfig, resolved: Resolved, drift: FeedDrift, now: datetime) -> datetime:
    """A time no earlier than the last change of this feed's bytes (whole seconds, never after now)."""
    moments = [resolved.calendar_updated_at]
    if resolved.token_created_at is not None:
        moments.append(resolved.token_created_at)
    if drift.changed:
        moments.append(drift.changed)
    if drift.ended:
        moments.append(drift.ended + config.back)
    if drift.started:
        moments.append(drift.started - config.ahead)
    if drift.cancelled:
        moments.append(drift.cancelled + config.cancelled_grace)
    latest = min(max(moments), now)
    # rounded up: a change later in the same second must not look older than a copy from that second
    return latest.replace(microsecond=0) + (timedelta(seconds=1) if latest.microsecond else timedelta(0))


def _not_modified(conditions: Conditions, etag: str, last_modified: datetime) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; else If-Modified-Since."""
    if conditions.if_none_match is not None:
        tags = [t.strip() for t in conditions.if_none_match.split(",")]
        bare = etag.strip('"')
        return any(t == "*" or t.removeprefix("W/").strip('"').removesuffix("-gzip") == bare for t in tags)
    if conditions.if_modified_since is not None:
        return last_modified <= conditions.if_modified_since
    return False


def _privacy_note(privacy: Privacy) -> str:
    return {
        Privacy.BUSY: "busy times only",
        Privacy.MINIMAL: "type, place and customer initials",
        Privacy.FULL: "full detail",
    }[privacy]
