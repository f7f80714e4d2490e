"""Write each personal booking link's URL to a configurable field of its Salesforce Opportunity.

Like the fitters' feed URLs (:mod:`caldav_bridge.salesforce.feed_urls`), but for links: a personal link's
secret is derived from the service key (:func:`~caldav_bridge.selfbooking.keys.link_secret`), so the URL can
be rebuilt here although only its hash is stored. The links are written in the order they were issued; the
``sf_sync_state`` row ``booking-links`` remembers the last one Salesforce accepted (its creation time and,
in ``value``, its id), so a run with nothing new
makes no Salesforce call, and a link is never recorded as written unless it was (a refused one stops the
watermark: it is tried again on the next run). Revoked and expired links are not written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from caldav_bridge.clock import utcnow
from caldav_bridge.credentials import token_digest
from caldav_bridge.selfbooking.keys import link_secret
from caldav_bridge.selfbooking.links import book_url
from caldav_bridge.selfbooking.model import is_active
from caldav_bridge.selfbooking.repository import SelfBookingRows
from caldav_bridge.selfbooking.tables import BookingLinkRow
from caldav_bridge.store.sf_tables import SfSyncStateRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["STATE", "LinkWriter", "Published", "publish_booking_links"]

STATE = "booking-links"
CHUNK = 200


class LinkWriter(Protocol):
    """What this step needs of the Salesforce gateway."""

    def update_many(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[Any]: ...


@dataclass
class Published:
    written: int = 0
    skipped: int = 0
    failed: int = 0
    notes: list[str] = field(default_factory=list)


def _watermark(rows: SelfBookingRows) -> tuple[datetime, str] | None:
    row = rows.sync_state(STATE)
    last_id = (row.value or {}).get("last_link_id") if row is not None else None
    return (row.modstamp, str(last_id)) if row is not None and row.modstamp and last_id else None


def publish_booking_links(
    make_uow: Callable[[], UnitOfWork], gw: LinkWriter, *, field_name: str, public_url: str, key: bytes
) -> Published:
    """Write the URLs of the personal links issued since the last run (at most one call per 200 links)."""
    report = Published()
    if not field_name:
        return report
    now = utcnow()
    with make_uow() as uow:
        rows = uow.repo(SelfBookingRows)
        links = rows.personal_links_for_salesforce(_watermark(rows), CHUNK)
        planned: list[tuple[BookingLinkRow, str | None]] = []
        for link in links:
            secret = link_secret(key, link.id)
            usable = is_active(link.expires_at, link.revoked_at, now) and link.token_hash == token_digest(secret)
            planned.append((link, book_url(public_url, secret) if usable else None))
    bodies = [{"id": link.sf_opportunity_gid, field_name: url} for link, url in planned if url is not None]
    answers = iter(gw.update_many("Opportunity", bodies) if bodies else [])
    last: BookingLinkRow | None = None
    for link, url in planned:
        if url is None:  # revoked, expired, or issued without the key (not derivable): nothing to write
            report.skipped += 1
        else:
            answer = next(answers)
            if not answer.success:
                report.failed += 1
                report.notes.append(f"booking link {link.id}: {answer.code}: {answer.message}"[:500])
                break
            report.written += 1
        last = link
    if last is not None:
        with make_uow() as uow:
            rows = uow.repo(SelfBookingRows)
            state = rows.sync_state(STATE) or SfSyncStateRow(name=STATE, value={})
            state.modstamp, state.value, state.updated_at = last.created_at, {"last_link_id": last.id}, now
            rows.save_sync_state(state)
            uow.commit()
    return report
