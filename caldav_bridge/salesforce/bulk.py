"""The mirror's bulk path for a page of *new* records: what the per-record path writes, in a handful of statements.

New appointments and all their side effects (guests, people, and through their event: status history,
audit, webhooks, CalDAV item and change log) are written by :func:`caldav_bridge.services.creates.write_new`,
the one place every create goes through, with the mirror's differences: no outbox row (the mirror's
actor, channel ``sync``: no echo) and the audit action ``mirror``. This module adds the ``sf_links``
rows that tie each appointment to its Salesforce record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from caldav_bridge.salesforce.links import MirroredLink, SfLinks
from caldav_bridge.services.actor import Actor
from caldav_bridge.services.creates import PlainGuest, PlainRow, write_new
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["NewAppointment", "PlainGuest", "PlainRow", "insert_new"]


@dataclass
class NewAppointment:
    """A new appointment the bulk path writes: its values and its Salesforce link."""

    row: PlainRow
    sf_id: str
    sobject: str
    owner_sf_id: str | None
    unassigned: bool
    modstamp: datetime


def insert_new(
    uow: UnitOfWork,
    new: list[NewAppointment],
    *,
    actor: Actor,
    now: datetime,
) -> None:
    """Insert ``new`` appointments with every side effect of a create (no outbox) and their ``sf_links`` rows."""
    if not new:
        return
    write_new(uow, [n.row for n in new], actor=actor, action="mirror", now=now)
    uow.repo(SfLinks).add_mirrored(
        [MirroredLink(n.row.id, n.sobject, n.sf_id, n.modstamp, n.owner_sf_id, n.unassigned) for n in new], now
    )
