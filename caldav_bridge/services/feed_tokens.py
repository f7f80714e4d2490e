"""Feed tokens: issue, list, rotate, revoke; resolve a secret; the URLs of a feed.

A feed token is a capability: whoever has the URL reads the feed (Google's fetcher cannot send
credentials). So each token carries 192 random bits, only its SHA-256 is stored, the secret is shown
once, and every consumer ("Google", "Salesforce") gets its own token, revocable on its own.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from caldav_bridge.clock import utcnow
from caldav_bridge.credentials import token_digest
from caldav_bridge.errors import FieldError, Forbidden, NotFound, ValidationFailed
from caldav_bridge.model.feeds import (
    FULL_PRIVACY_WARNING,
    FeedFetch,
    FeedToken,
    FeedTokenDraft,
    FeedUrls,
    FitterFeedUrls,
    IssuedFeedToken,
    Privacy,
)
from caldav_bridge.model.requests import CalendarKind
from caldav_bridge.services.actor import Actor
from caldav_bridge.store.tables import AuditRow, CalendarRow, FeedTokenRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = [
    "MAX_FETCHES",
    "Resolved",
    "feed_urls",
    "fitter_feed_urls",
    "issue",
    "issue_with_secret",
    "list_fetches",
    "list_tokens",
    "new_feed_secret",
    "resolve",
    "revoke",
    "rotate",
]

MAX_FETCHES = 500
_SECRET_BYTES = 24  # 192 bits, 32 URL-safe characters


@dataclass(frozen=True)
class Resolved:
    """What a feed secret stands for."""

    token_id: str
    token_name: str
    privacy: Privacy
    alarm_minutes: int | None
    calendar_id: str
    calendar_name: str
    calendar_kind: str
    timezone: str
    calendar_updated_at: datetime
    token_created_at: datetime | None = None


def new_feed_secret() -> str:
    return secrets.token_urlsafe(_SECRET_BYTES)


def feed_urls(base_url: str, secret: str) -> FeedUrls:
    """The feed (http or https, as ``base_url`` is), webcal, Google subscribe and calendar page URLs."""
    base = base_url.rstrip("/")
    url = f"{base}/feeds/{secret}.ics"
    webcal = "webcal://" + url.split("://", 1)[1]
    return FeedUrls(
        url=url,
        webcal=webcal,
        google="https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=""),
        page=f"{base}/calendar/{secret}",
    )


# --------------------------------------------------------------------------- management


def list_tokens(uow: UnitOfWork, actor: Actor, calendar_id: str) -> list[FeedToken]:
    actor.require("read")
    with uow:
        _calendar(uow, actor, calendar_id)
        return [_token(r) for r in uow.feeds.tokens_of(calendar_id)]


def issue(uow: UnitOfWork, actor: Actor, calendar_id: str, draft: FeedTokenDraft, base_url: str) -> IssuedFeedToken:
    """A new token for ``calendar_id``; its secret and URLs are in the result only."""
    return issue_with_secret(uow, actor, calendar_id, draft, base_url, new_feed_secret())


def issue_with_secret(
    uow: UnitOfWork, actor: Actor, calendar_id: str, draft: FeedTokenDraft, base_url: str, secret: str
) -> IssuedFeedToken:
    """:func:`issue` with a given secret (demo seeding derives its secrets); at least 128 bits."""
    actor.require("write")
    if len(secret) < 22:
        raise ValidationFailed([FieldError("secret", "a feed secret carries at least 128 bits")])
    with uow:
        calendar = _calendar(uow, actor, calendar_id)
        actor.require_change(calendar.id)
        _check_privacy_choice(actor, calendar, draft.privacy)
        row = _new_row(calendar_id, draft, secret)
        uow.feeds.add_token(row)
        uow.flush()
        _audit(uow, actor, "feed_issue", row)
        uow.commit()
        return _issued(row, secret, base_url)


def rotate(uow: UnitOfWork, actor: Actor, calendar_id: str | None, token_id: str, base_url: str) -> IssuedFeedToken:
    """Revoke a token and issue its successor (same name, privacy and alarm) in one transaction.

    ``calendar_id`` ``None`` finds the token by id alone (CLI).
    """
    actor.require("write")
    with uow:
        old = _token_row(uow, actor, calendar_id, token_id)
        actor.require_change(old.calendar_id)
        now = utcnow()
        if old.revoked_at is None:
            old.revoked_at = now
        draft = FeedTokenDraft(name=old.name, privacy=Privacy(old.privacy), alarm_minutes=old.alarm_minutes)
        secret = new_feed_secret()
        row = _new_row(old.calendar_id, draft, secret)
        uow.feeds.add_token(row)
        uow.flush()
        _audit(uow, actor, "feed_rotate", row, f"replaces {old.id}")
        uow.commit()
        return _issued(row, secret, base_url)


def revoke(uow: UnitOfWork, actor: Actor, calendar_id: str | None, token_id: str) -> FeedToken:
    """Revoke a token (idempotent); ``calendar_id`` ``None`` finds it by id alone (CLI)."""
    actor.require("write")
    with uow:
        row = _token_row(uow, actor, calendar_id, token_id)
        actor.require_change(row.calendar_id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            _audit(uow, actor, "feed_revoke", row)
        uow.commit()
        return _token(row)


def list_fetches(uow: UnitOfWork, actor: Actor, calendar_id: str, limit: int = 100) -> list[FeedFetch]:
    """The most recent fetches of a calendar's feeds and calendar page, newest first."""
    actor.require("read")
    limit = max(1, min(limit, MAX_FETCHES))
    with uow:
        _calendar(uow, actor, calendar_id)
        return [FeedFetch.model_validate(r, from_attributes=True) for r in uow.feeds.fetches_of(calendar_id, limit)]


def fitter_feed_urls(
    uow: UnitOfWork,
    actor: Actor,
    base_url: str,
    *,
    consumer: str = "Salesforce",
    privacy: Privacy = Privacy.BUSY,
    reissue: bool = False,
) -> list[FitterFeedUrls]:
    """For each fitter, the feed URLs to store for ``consumer`` (the Salesforce User record).

    Secrets are stored hashed, so URLs can be shown only when a token is issued: a fitter without an
    active ``consumer`` token gets one now; one who has it gets its id and no URLs, unless
    ``reissue`` rotates it (the old URLs stop working).
    """
    actor.require("write")
    with uow:
        fitters = [
            (c, u)
            for c in uow.calendars.search(actor.visible(None))
            if c.kind == CalendarKind.FITTER and c.owner_user_id
            for u in [uow.users.get(c.owner_user_id)]
            if u is not None
        ]
        plan = []
        for calendar, user in fitters:
            active = [t for t in uow.feeds.tokens_of(calendar.id) if t.name == consumer and t.revoked_at is None]
            plan.append((calendar, user.username, active[-1] if active else None))
    results = []
    for calendar, username, existing in sorted(plan, key=lambda p: p[1]):
        if existing is not None and not reissue:
            results.append(
                FitterFeedUrls(
                    username=username,
                    calendar_id=calendar.id,
                    calendar_name=calendar.name,
                    token_id=existing.id,
                    issued=False,
                    privacy=Privacy(existing.privacy),
                    urls=None,
                )
            )
            continue
        if existing is not None:
            issued = rotate(uow, actor, calendar.id, existing.id, base_url)
        else:
            draft = FeedTokenDraft(name=consumer, privacy=privacy)
            issued = issue(uow, actor, calendar.id, draft, base_url)
        results.append(
            FitterFeedUrls(
                username=username,
                calendar_id=calendar.id,
                calendar_name=calendar.name,
                token_id=issued.token.id,
                issued=True,
                privacy=issued.token.privacy,
                urls=issued.urls,
            )
        )
    return results


# --------------------------------------------------------------------------- resolving


def resolve(uow: UnitOfWork, secret: str) -> tuple[Resolved, FeedTokenRow]:
    """The token and calendar behind ``secret`` (inside the caller's ``with uow``).

    Unknown and revoked secrets are both :class:`NotFound`, and say nothing about which.
    """
    found = uow.feeds.token_and_calendar(token_digest(secret)) if _plausible(secret) else None
    if found is None or found[0].revoked_at is not None:
        raise NotFound("feed", "(token)")
    row, calendar = found
    return (
        Resolved(
            token_id=row.id,
            token_name=row.name,
            privacy=Privacy(row.privacy),
            alarm_minutes=row.alarm_minutes,
            calendar_id=calendar.id,
            calendar_name=calendar.name,
            calendar_kind=calendar.kind,
            timezone=calendar.timezone,
            calendar_updated_at=calendar.updated_at,
            token_created_at=row.created_at,
        ),
        row,
    )


def _plausible(secret: str) -> bool:
    return 16 <= len(secret) <= 128 and all(c.isalnum() or c in "-_" for c in secret)


# --------------------------------------------------------------------------- helpers


def _calendar(uow: UnitOfWork, actor: Actor, calendar_id: str) -> CalendarRow:
    row = uow.calendars.get(calendar_id)
    if row is None or not actor.reaches(row.id):
        raise NotFound("calendar", calendar_id)
    return row


def _check_privacy_choice(actor: Actor, calendar: CalendarRow, privacy: Privacy) -> None:
    """A new feed shows ``busy`` unless the calendar's owner or an admin chooses more (the choice is
    audited with the issue: ``feed_issue`` names the token's privacy and the actor)."""
    if privacy is Privacy.BUSY or actor.has_scope("admin"):
        return
    if actor.user_id is None or actor.user_id != calendar.owner_user_id:
        raise Forbidden(
            f"only the calendar's owner or an admin may issue a feed showing more than busy (asked: {privacy.value})"
        )


def _token_row(uow: UnitOfWork, actor: Actor, calendar_id: str | None, token_id: str) -> FeedTokenRow:
    row = uow.feeds.get_token(token_id)
    if (
        row is None
        or (calendar_id is not None and row.calendar_id != calendar_id)
        or not actor.reaches(row.calendar_id)
    ):
        raise NotFound("feed token", token_id)
    return row


def _new_row(calendar_id: str, draft: FeedTokenDraft, secret: str) -> FeedTokenRow:
    return FeedTokenRow(
        calendar_id=calendar_id,
        name=draft.name,
        token_hash=token_digest(secret),
        privacy=draft.privacy.value,
        alarm_minutes=draft.alarm_minutes,
        created_at=utcnow(),
    )


def _issued(row: FeedTokenRow, secret: str, base_url: str) -> IssuedFeedToken:
    warning = FULL_PRIVACY_WARNING if row.privacy == Privacy.FULL else None
    return IssuedFeedToken(token=_token(row), secret=secret, urls=feed_urls(base_url, secret), warning=warning)


def _token(row: FeedTokenRow) -> FeedToken:
    return FeedToken.model_validate(row, from_attributes=True)


def _audit(uow: UnitOfWork, actor: Actor, action: str, row: FeedTokenRow, extra: str = "") -> None:
    detail = f"token {row.id} ({row.name}, {row.privacy})" + (f" {extra}" if extra else "")
    uow.audit.add_all(
        [
            AuditRow(
                at=utcnow(),
                actor=actor.username,
                channel=actor.channel,
                action=action,
                calendar_id=row.calendar_id,
                request_id=actor.request_id,
                detail=detail,
            )
        ]
    )
