"""Booking links: issue, list, revoke (staff, write scope); resolve a secret (the pages).

A link is a capability like a feed token: 192 random bits, only the SHA-256 stored
(:func:`caldav_bridge.credentials.token_digest`, the digest feed tokens use), the secret shown once.
"""

from __future__ import annotations

from datetime import datetime

from caldav_bridge.clock import utcnow
from caldav_bridge.credentials import token_digest
from caldav_bridge.errors import FieldError, NotFound, ValidationFailed
from caldav_bridge.model.requests import CalendarKind
from caldav_bridge.selfbooking.keys import link_secret
from caldav_bridge.selfbooking.model import BookingLink, IssuedBookingLink, LinkDraft, LinkSalesforce, is_active
from caldav_bridge.selfbooking.repository import SelfBookingRows
from caldav_bridge.selfbooking.tables import BookingLinkRow
from caldav_bridge.services.actor import Actor
from caldav_bridge.services.feed_tokens import new_feed_secret
from caldav_bridge.store.tables import AuditRow, new_id
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["book_url", "issue", "list_links", "resolve", "revoke"]


def book_url(base_url: str, secret: str) -> str:
    return f"{base_url.rstrip('/')}/book/{secret}"


def issue(
    uow: UnitOfWork,
    actor: Actor,
    draft: LinkDraft,
    base_url: str,
    *,
    secret: str | None = None,
    key: bytes | None = None,
) -> IssuedBookingLink:
    """A new link; its secret and URL are in the result only. With the service ``key``, a personal link's
    secret is derived from it (:func:`~caldav_bridge.selfbooking.keys.link_secret`), so its URL can be written
    to Salesforce later; only the hash is stored either way."""
    actor.require("write")
    link_id = new_id()
    if secret is None:
        secret = link_secret(key, link_id) if key is not None and draft.kind == "personal" else new_feed_secret()
    now = utcnow()
    with uow:
        team = uow.calendars.get(draft.team_id)
        if team is None or team.kind != CalendarKind.TEAM:
            raise ValidationFailed([FieldError("team_id", f"{draft.team_id!r} is not a team calendar")])
        if draft.expires_at is not None and draft.expires_at <= now:
            raise ValidationFailed([FieldError("expires_at", "must be in the future")])
        row = BookingLinkRow(
            id=link_id,
            token_hash=token_digest(secret),
            kind=draft.kind,
            team_id=team.id,
            purpose=draft.purpose,
            name=draft.name,
            sf_opportunity_gid=draft.salesforce.opportunity_gid,
            sf_customer_gid=draft.salesforce.customer_gid,
            expires_at=draft.expires_at,
            created_by=actor.username,
            created_at=now,
        )
        uow.repo(SelfBookingRows).add_link(row)
        _audit(uow, actor, "link-issue", row, now)
        uow.commit()
        return IssuedBookingLink(link=_link(row, 0, now), secret=secret, url=book_url(base_url, secret))


def list_links(uow: UnitOfWork, actor: Actor, *, team_id: str | None = None) -> list[BookingLink]:
    actor.require("read")
    now = utcnow()
    with uow:
        repo = uow.repo(SelfBookingRows)
        rows = repo.links(team_id)
        counts = repo.bookings_per_link()
        return [_link(r, counts.get(r.id, 0), now) for r in rows]


def revoke(uow: UnitOfWork, actor: Actor, link_id: str) -> BookingLink:
    """The link stops working at once (bookings made through it are kept, their manage links too)."""
    actor.require("write")
    now = utcnow()
    with uow:
        row = uow.repo(SelfBookingRows).link(link_id)
        if row is None:
            raise NotFound("booking link", link_id)
        if row.revoked_at is None:
            row.revoked_at = now
            _audit(uow, actor, "link-revoke", row, now)
        bookings = uow.repo(SelfBookingRows).bookings_per_link(row.id).get(row.id, 0)
        uow.commit()
        return _link(row, bookings, now)


def resolve(uow: UnitOfWork, secret: str, now: datetime | None = None) -> BookingLinkRow:
    """The active link of ``secret`` (in the open transaction); an unknown, revoked or expired one is NotFound."""
    now = now or utcnow()
    row = uow.repo(SelfBookingRows).link_by_hash(token_digest(secret))
    if row is None or not is_active(row.expires_at, row.revoked_at, now):
        raise NotFound("booking link", "…")  # never echo the secret
    return row


def _link(row: BookingLinkRow, bookings: int, now: datetime) -> BookingLink:
    return BookingLink(
        id=row.id,
        kind=row.kind,
        team_id=row.team_id,
        purpose=row.purpose,
        name=row.name,
        salesforce=LinkSalesforce(opportunity_gid=row.sf_opportunity_gid, customer_gid=row.sf_customer_gid),
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        created_at=row.created_at,
        created_by=row.created_by,
        bookings=bookings,
        active=is_active(row.expires_at, row.revoked_at, now),
    )


def _audit(uow: UnitOfWork, actor: Actor, action: str, row: BookingLinkRow, now: datetime) -> None:
    uow.audit.add_all(
        [
            AuditRow(
                at=now,
                actor=actor.username,
                channel=actor.channel,
                action=action,
                calendar_id=row.team_id,
                request_id=actor.request_id,
                detail=f"booking link {row.id} ({row.kind})",
            )
        ]
    )
