"""The mirror's bulk path for a page of *new* records: the same rows the per-record path writes, in
a handful of statements.

For each new record the store gets what :func:`caldav_bridge.salesforce.mirror._apply_record`
would have written through the appointment service: the appointment row, its guest, a status
history row, an audit row, the ``sf_links`` row, and the CalDAV item plus its change-log entry
(one collection revision per calendar per page, as :func:`caldav_bridge.dav.store.bump` does for a
list of hrefs). No outbox row (echo prevention) and SEQUENCE 0, as before.

CalDAV items are rendered by :class:`FreshItems`: the CalDAV engineer's renderer
(:func:`caldav_bridge.dav.appointment_sync.item_for`) renders one *probe* appointment per shape
(zone, local years, status, type, description or not, guests with or without names), and the
result is used as a template: per record only the UID, timestamps, summary, description and
attendee are substituted, escaped and folded with icalendar's own helpers. Each template is
checked against the real renderer on a second probe with awkward text before it is used; a shape
that does not reproduce byte for byte, and anything unusual (all-day, extra meta, a wall-clock
time repeated at a DST change, odd guest ids), goes through ``item_for`` itself.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import vText

try:  # icalendar 7 deprecates the public name; the private one is what its serialiser calls
    from icalendar.parser import _foldline as foldline
except ImportError:  # pragma: no cover
    from icalendar.parser import foldline
from sqlalchemy import Table, insert, select, update

from caldav_bridge.dav.records import NewItem
from caldav_bridge.store.dav_tables import DavChangeRow, DavCollectionRow, DavItemRow
from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.tables import (
    AppointmentGuestRow,
    AppointmentRow,
    AuditRow,
    CalendarRow,
    PersonRow,
    StatusHistoryRow,
)
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["FreshItems", "NewAppointment", "insert_new"]

_GUEST_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
_PLAIN_NAME = re.compile(r"^[^,;:'\"\u2019^\\\x00-\x1f\x7f]*$")


@dataclass
class PlainGuest:
    """The attributes of an :class:`AppointmentGuestRow` (no ORM instrumentation: cheap to build)."""

    position: int
    person_id: str | None
    first_name: str | None
    last_name: str | None
    timezone: str | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PlainRow:
    """The attributes of an :class:`AppointmentRow` the renderer and the appointment mapping read.

    A stand-in for a transient ORM row: building tens of thousands of instrumented instances per
    run cost more than the inserts themselves.
    """

    id: str
    calendar_id: str
    calendar: CalendarRow
    name: str
    description: str | None
    type: str
    status: str
    date_start: datetime
    date_end: datetime
    created_at: datetime
    updated_at: datetime
    sequence: int = 0
    deleted_at: datetime | None = None
    version: int = 1
    meta_extra: dict[str, Any] = field(default_factory=dict)
    sf_appointment_gid: str | None = None
    sf_opportunity_gid: str | None = None
    sf_customer_gid: str | None = None
    guests: list[PlainGuest] = field(default_factory=list)

    def as_row(self) -> AppointmentRow:
        """This, typed as the ORM row it stands for (for the helpers that take one)."""
        return cast(AppointmentRow, self)


@dataclass
class NewAppointment:
    """A new appointment the bulk path writes: its row, link fields and guest."""

    row: PlainRow
    sf_id: str
    sobject: str
    owner_sf_id: str | None
    unassigned: bool
    modstamp: datetime


# ----------------------------------------------------------------------------------------- rendering


def _t(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _fmt(value: datetime) -> str:
    """DATE-TIME as icalendar writes it (UTC with ``Z``, otherwise local time; TZID is in the template)."""
    if value.tzinfo is UTC:
        return value.strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%dT%H%M%S")


def _fold(line: str) -> str:
    # icalendar's foldline leaves a line under 75 octets as it is; skip its per-character loop then.
    if len(line) < 75 and (line.isascii() or len(line.encode()) < 75):
        return line
    return str(foldline(line))


def _text(value: str) -> str:
    return str(vText(value).to_ical().decode())


class _Template:
    def __init__(self, lines: list[tuple[str, bool]]) -> None:
        #: (unfolded line, has a placeholder); lines without one are kept folded.
        self.lines = lines

    def fill(self, values: dict[str, str]) -> str:
        out = []
        for line, variable in self.lines:
            if variable:
                for key, value in values.items():
                    if key in line:
                        line = line.replace(key, value)
                out.append(_fold(line))
            else:
                out.append(line)
        return "\r\n".join(out)


class FreshItems:
    """Renders fresh CalDAV items (no stored text yet) for new appointments, via templates."""

    def __init__(self, item_for: Callable[[AppointmentRow, DavItemRow | None], NewItem]) -> None:
        self.item_for = item_for
        self.templates: dict[tuple[Any, ...], _Template | None] = {}
        self.fast = 0
        self.slow = 0

    def render(self, row: PlainRow, zone: str) -> NewItem:
        key = self._key(row, zone)
        template = None
        if key is not None:
            if key not in self.templates:
                self.templates[key] = self._compile(row, zone)
            template = self.templates[key]
        if template is None:
            self.slow += 1
            return self.item_for(row.as_row(), None)
        self.fast += 1
        text = template.fill(self._values(row, zone))
        from caldav_bridge.dav.render import etag_of_text, utc_seconds

        return NewItem(
            row.id, "VEVENT", text, etag_of_text(text), utc_seconds(row.date_start), utc_seconds(row.date_end)
        )

    # -- shapes

    @staticmethod
    def _local(value: datetime, zone: str) -> datetime | None:
        if zone == "UTC":
            return value.astimezone(UTC)
        try:
            local = value.astimezone(ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            return None
        if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
            return None  # a repeated wall-clock time: written in UTC by the feeds' renderer
        return local

    def _key(self, row: PlainRow, zone: str) -> tuple[Any, ...] | None:
        if row.meta_extra or row.sequence != 0 or row.created_at != row.updated_at:
            return None
        start, end = self._local(row.date_start, zone), self._local(row.date_end, zone)
        if start is None or end is None:
            return None
        guests = []
        for g in row.guests:
            if not g.person_id or not _GUEST_ID.match(g.person_id) or g.extra:
                return None
            for name in (g.first_name, g.last_name):
                if name is not None and (not name.strip() or not _PLAIN_NAME.match(name)):
                    return None
            guests.append((g.first_name is not None, g.last_name is not None))
        return (zone, start.year, end.year, row.status, row.type, bool(row.description), tuple(guests))

    @staticmethod
    def _probe(row: PlainRow, zone: str, seed: str) -> PlainRow:
        local_zone: Any = UTC if zone == "UTC" else ZoneInfo(zone)
        start_year = row.date_start.astimezone(local_zone).year
        end_year = row.date_end.astimezone(local_zone).year
        start = datetime(start_year, 1, 14, 10, 11, 12, tzinfo=local_zone).astimezone(UTC)
        end = datetime(end_year, 1, 15 if end_year == start_year else 13, 13, 14, 15, tzinfo=local_zone)
        stamp = datetime(2001, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)
        probe = PlainRow(
            calendar=row.calendar,
            id=str(uuid.UUID(int=int(seed.encode().hex(), 16) % (1 << 122))),
            calendar_id=row.calendar_id,
            name=f"Qq{seed}name, with; odd\\ text and a long tail, Jürgen Müller " * 2,
            description=(f"Qq{seed}desc\nline two, with; commas " * 4) if row.description else None,
            type=row.type,
            status=row.status,
            date_start=start,
            date_end=end.astimezone(UTC),
            created_at=stamp,
            updated_at=stamp,
            sequence=0,
            meta_extra={},
            sf_appointment_gid=row.sf_appointment_gid,
            sf_opportunity_gid=row.sf_opportunity_gid,
            sf_customer_gid=row.sf_customer_gid,
        )
        probe.guests = [
            PlainGuest(
                position=i,
                person_id=f"Qq{seed}g{i}",
                first_name=f"Qq{seed}f{i}" if g.first_name is not None else None,
                last_name=f"Qq{seed}l{i}" if g.last_name is not None else None,
                timezone=None,
                extra={},
            )
            for i, g in enumerate(row.guests)
        ]
        return probe

    def _values(self, row: PlainRow, zone: str) -> dict[str, str]:
        start, end = self._local(row.date_start, zone), self._local(row.date_end, zone)
        assert start is not None and end is not None
        values = {
            "@@UID@@": row.id,
            "@@START@@": _fmt(start),
            "@@END@@": _fmt(end),
            "@@STAMP@@": _fmt(row.updated_at.astimezone(UTC)),
            "@@NAME@@": _text(row.name),
        }
        if row.description:
            values["@@DESC@@"] = _text(row.description)
        for i, g in enumerate(row.guests):
            values[f"@@G{i}@@"] = str(g.person_id)
            cn = " ".join(n for n in (g.first_name, g.last_name) if n)
            if cn:
                values[f"@@CN{i}@@"] = cn
        return values

    def _compile(self, row: PlainRow, zone: str) -> _Template | None:
        try:
            probe = self._probe(row, zone, "a")
            text = self.item_for(probe.as_row(), None).text
            # Replace the probe's values by placeholders, longest first (a name contains no other value).
            values = self._values(probe, zone)
            unfolded = text.replace("\r\n ", "")
            for placeholder, value in sorted(values.items(), key=lambda kv: -len(kv[1])):
                if value not in unfolded:
                    return None
                unfolded = unfolded.replace(value, placeholder)
            lines = []
            for line in unfolded.split("\r\n"):
                lines.append((line, True) if "@@" in line else (foldline(line), False))
            template = _Template(lines)
            check = self._probe(row, zone, "b")
            if template.fill(self._values(check, zone)) != self.item_for(check.as_row(), None).text:
                return None
            return template
        except Exception:  # any surprise: this shape uses the real renderer
            return None


# ----------------------------------------------------------------------------------------- writing


def insert_new(
    uow: UnitOfWork,
    new: list[NewAppointment],
    *,
    actor_name: str | None,
    channel: str,
    request_id: str | None,
    now: datetime,
    renderer: FreshItems,
    collection_of: Callable[[str], DavCollectionRow | None],
) -> None:
    """Insert ``new`` appointments with guests, history, audit, links and CalDAV items, in bulk."""
    if not new:
        return
    s = uow.session
    s.flush()
    conn = s.connection()  # Core inserts: the ORM's bulk path costs more than the statements
    rows = [n.row for n in new]
    # Collections first: provisioning a new one renders the calendar's existing appointments into it.
    for calendar_id in dict.fromkeys(r.calendar_id for r in rows):
        collection_of(calendar_id)
    conn.execute(
        insert(_t(AppointmentRow)),
        [
            {
                "id": r.id,
                "calendar_id": r.calendar_id,
                "name": r.name,
                "description": r.description,
                "type": r.type,
                "status": r.status,
                "date_start": r.date_start,
                "date_end": r.date_end,
                "sf_appointment_gid": r.sf_appointment_gid,
                "sf_opportunity_gid": r.sf_opportunity_gid,
                "sf_customer_gid": r.sf_customer_gid,
                "meta_extra": r.meta_extra or {},
                "created_at": r.created_at,
                "updated_at": r.updated_at,
                "deleted_at": None,
                "version": 1,
                "sequence": 0,
            }
            for r in rows
        ],
    )
    people = {g.person_id for r in rows for g in r.guests if g.person_id}
    if people:
        known = set(s.scalars(select(PersonRow.id).where(PersonRow.id.in_(people))))
        for pid in sorted(people - known):
            uow.people.ensure(pid, now)
    guests = [
        {
            "appointment_id": r.id,
            "position": g.position,
            "person_id": g.person_id,
            "first_name": g.first_name,
            "last_name": g.last_name,
            "timezone": g.timezone,
            "extra": g.extra or {},
        }
        for r in rows
        for g in r.guests
    ]
    if guests:
        conn.execute(insert(_t(AppointmentGuestRow)), guests)
    conn.execute(
        insert(_t(StatusHistoryRow)),
        [
            {
                "appointment_id": r.id,
                "old_status": None,
                "new_status": r.status,
                "old_start": None,
                "new_start": r.date_start,
                "at": now,
                "actor": actor_name,
                "channel": channel,
                "reason": None,
            }
            for r in rows
        ],
    )
    conn.execute(
        insert(_t(AuditRow)),
        [
            {
                "at": now,
                "actor": actor_name,
                "channel": channel,
                "action": "mirror",
                "appointment_id": r.id,
                "calendar_id": r.calendar_id,
                "request_id": request_id,
                "detail": None,
            }
            for r in rows
        ],
    )
    conn.execute(
        insert(_t(SfLinkRow)),
        [
            {
                "appointment_id": n.row.id,
                "sobject": n.sobject,
                "sf_id": n.sf_id,
                "external_id": None,
                "system_modstamp": n.modstamp,
                "owner_sf_id": n.owner_sf_id,
                "unassigned": n.unassigned,
                "pushed_hash": None,
                "pushed_at": None,
                "mirrored_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for n in new
        ],
    )
    _dav_items(uow, rows, now, renderer, collection_of)


def _dav_items(
    uow: UnitOfWork,
    rows: list[PlainRow],
    now: datetime,
    renderer: FreshItems,
    collection_of: Callable[[str], DavCollectionRow | None],
) -> None:
    from caldav_bridge.dav.store import is_long

    s = uow.session
    conn = s.connection()
    by_collection: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        collection = collection_of(r.calendar_id)
        if collection is None:
            continue
        zone = str((r.meta_extra or {}).get("timezone") or r.calendar.timezone)
        item = renderer.render(r, zone)
        by_collection.setdefault(collection.id, []).append(
            {
                "collection_id": collection.id,
                "href": f"{r.id}.ics",
                "uid": item.uid,
                "component": item.component,
                "text": item.text,
                "etag": item.etag,
                "time_start": item.time_start,
                "time_end": item.time_end,
                "long_span": is_long(item.time_start, item.time_end),
                "appointment_id": r.id,
                "updated_at": now,
            }
        )
    for collection_id, items in by_collection.items():
        conn.execute(insert(_t(DavItemRow)), items)
        # One revision for the page's items in this collection, as dav.store.bump logs a list of hrefs.
        rev = s.scalar(
            update(DavCollectionRow)
            .where(DavCollectionRow.id == collection_id)
            .values(revision=DavCollectionRow.revision + 1, updated_at=now)
            .returning(DavCollectionRow.revision)
        )
        assert rev is not None
        conn.execute(
            insert(_t(DavChangeRow)),
            [
                {"collection_id": collection_id, "revision": rev, "href": i["href"], "deleted": False, "at": now}
                for i in items
            ],
        )
