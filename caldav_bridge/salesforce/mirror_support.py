"""What the mirror's passes share (appointments, assignments, Who relations): run results, keyset pages
by SystemModstamp, watermarks, and the guests made from a record's Whos."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from caldav_bridge.converters.salesforce import MirroredRecord, parse_sf_datetime
from caldav_bridge.model.appointment import Guest
from caldav_bridge.salesforce import relations
from caldav_bridge.salesforce.gateway import SalesforceGateway, soql
from caldav_bridge.salesforce.state import SyncState, Watermark
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services.mapping import appointment_from_row
from caldav_bridge.store.tables import AppointmentRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = [
    "RunResult",
    "floor_second",
    "guests_of",
    "is_who",
    "keyset_pages",
    "mark_of",
    "merged_guests",
    "other_guest_ids",
    "who_ids",
]

log = logging.getLogger("caldav_bridge.salesforce.mirror")
MAX_PAGES = 100_000


@dataclass
class RunResult:
    """What a run did. ``outcome``: ok, partial (some records failed), limited, failed."""

    job: str
    outcome: str = "ok"
    processed: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    failed: int = 0
    api_calls: int = 0
    #: Fitters' feed URLs written to Salesforce (push job, caldav_bridge.salesforce.feed_urls).
    feed_urls: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}

    def note(self, message: str) -> None:
        if len(self.errors) < 50:
            self.errors.append(message)


def floor_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def keyset_pages(
    ctx: SyncContext,
    gw: SalesforceGateway,
    name: str,
    sobject: str,
    fields: list[str],
    *,
    include_deleted: bool,
    initial_where: str | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of ``sobject`` changed since watermark ``name``; the caller commits each page and its watermark."""
    with ctx.uow_factory() as uow:
        mark = uow.repo(SyncState).watermark(name)
    since = floor_second(mark.modstamp - ctx.overlap) if mark else None
    cursor: tuple[datetime, str] | None = None
    for _ in range(MAX_PAGES):
        if cursor is not None:
            where = soql("(SystemModstamp > {} OR (SystemModstamp = {} AND Id > {}))", cursor[0], cursor[0], cursor[1])
        elif since is not None:
            where = soql("SystemModstamp >= {}", since)
        else:
            where = initial_where or ""
        # Object and field names come from code and settings; values go through format_soql.
        q = f"SELECT {', '.join(fields)} FROM {sobject}"  # noqa: S608
        if where:
            q += " WHERE " + where
        q += f" ORDER BY SystemModstamp ASC, Id ASC LIMIT {ctx.page_size}"
        records = gw.query(q, include_deleted=include_deleted)
        if not records:
            return
        yield records
        if len(records) < ctx.page_size:
            return
        last = records[-1]
        new_cursor = (floor_second(parse_sf_datetime(last["SystemModstamp"])), str(last["Id"]))
        if cursor is not None and new_cursor <= cursor:
            log.warning("mirror of %s made no progress at %s; stopping this run", sobject, new_cursor)
            return
        cursor = new_cursor


def mark_of(records: list[dict[str, Any]]) -> Watermark:
    last = records[-1]
    return Watermark(parse_sf_datetime(last["SystemModstamp"]), str(last["Id"]))


def guests_of(uow: UnitOfWork, customer: str | None, others: tuple[str, ...] = ()) -> list[Guest]:
    """The guests for a record's Whos: the primary (``customer``) first; names and time zones only."""
    ids = list(dict.fromkeys(i for i in (customer, *others) if i))
    if not ids:
        return []
    people = uow.people.by_ids(ids)
    return [
        Guest(
            id=i,
            first_name=people[i].first_name if i in people else None,
            last_name=people[i].last_name if i in people else None,
            timezone=people[i].timezone if i in people else None,
        )
        for i in ids
    ]


def who_ids(rec: MirroredRecord) -> list[str]:
    return list(dict.fromkeys(i for i in (rec.customer_gid, *(rec.other_whos or ())) if i))


def is_who(person_id: str | None) -> bool:
    """A Salesforce Contact or Lead id (the guests the mirror owns); other guests are kept as they are."""
    return bool(person_id) and len(str(person_id)) in (15, 18) and str(person_id).startswith(relations.WHO_PREFIXES)


def other_guest_ids(row: AppointmentRow) -> list[str]:
    """The Contact/Lead ids of an appointment's guests besides its primary customer (sorted)."""
    return sorted(str(g.person_id) for g in row.guests if is_who(g.person_id) and g.person_id != row.sf_customer_gid)


def merged_guests(
    uow: UnitOfWork, row: AppointmentRow, customer: str | None, others: tuple[str, ...] | None
) -> list[Guest]:
    """The record's Whos (primary first), then the appointment's own guests that are not Salesforce Whos."""
    mirrored = guests_of(uow, customer, others or ())
    ids = {g.id for g in mirrored}
    old_customer = row.sf_customer_gid
    kept = [
        g
        for g in appointment_from_row(row).guests
        if g.id not in ids and not is_who(g.id) and (g.id is None or g.id != old_customer)
    ]
    return mirrored + kept
