"""Mirror Salesforce → store: incremental by SystemModstamp watermark, keyset pages, queryAll for deletions.

- Each page is ``… WHERE (SystemModstamp > t OR (SystemModstamp = t AND Id > id)) ORDER BY SystemModstamp, Id
  LIMIT n``, so records sharing a timestamp are never lost between pages. The first query of a run
  starts ``overlap`` before the stored watermark (late commits); replays are skipped because a
  record whose stored SystemModstamp is not older is left alone.
- A page's rows and the watermark after it commit in one transaction: the watermark never runs
  ahead of the rows.
- Appointments are written through the appointment service's public entry points (new records:
  ``services.creates`` through :mod:`.bulk`; changes: ``appointments.apply_external_change``) with
  the mirror's actor (channel ``sync``): history, audit, webhooks and the CalDAV item follow, but no
  outbox row (no echo; decided per event from the actor). A record that already says what the
  appointment says (our own write coming back) changes nothing, so SEQUENCE does not move.
- Owners resolve to calendars by mirrored User id, then by email; an unknown owner puts a new
  appointment on the "Salesforce: unassigned" calendar (recorded in ``sf_links.unassigned``), never drops it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from caldav_bridge.clock import utcnow
from caldav_bridge.converters.errors import ConversionError
from caldav_bridge.converters.salesforce import (
    SHOW_AS,
    UNMAPPED_META,
    MirroredRecord,
    content_hash,
    parse_sf_datetime,
    record_from_salesforce,
)
from caldav_bridge.model.appointment import AppointmentKind, Guest
from caldav_bridge.salesforce import bulk, idle, relation_sync, relations
from caldav_bridge.salesforce.gateway import SalesforceGateway, soql
from caldav_bridge.salesforce.links import SfLinks
from caldav_bridge.salesforce.mirror_support import (
    RunResult,
    floor_second,
    guests_of,
    keyset_pages,
    mark_of,
    merged_guests,
    other_guest_ids,
    who_ids,
)
from caldav_bridge.salesforce.sf_users import SfUsers
from caldav_bridge.salesforce.state import SyncState
from caldav_bridge.salesforce.sync_context import Progress, SyncContext
from caldav_bridge.services import appointments as svc
from caldav_bridge.services.appointments import ExternalChange, ExternalValues
from caldav_bridge.services.mapping import appointment_from_row
from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.tables import AppointmentRow, CalendarRow, PersonRow, new_id
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["UNASSIGNED_CALENDAR", "RunResult", "mirror", "reconcile"]

log = logging.getLogger(__name__)
UNASSIGNED_CALENDAR = "Salesforce: unassigned"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


# ----------------------------------------------------------------------------------------- users, people


def mirror_users(ctx: SyncContext, gw: SalesforceGateway, result: RunResult) -> None:
    """Mirror Users (and ServiceResources in service_appointment mode): names, emails, time zones, active."""
    fields = ["Id", "Name", "Email", "IsActive", "TimeZoneSidKey", "SystemModstamp"]
    for records in keyset_pages(ctx, gw, "User", "User", fields, include_deleted=False):
        with ctx.uow_factory() as uow:
            for rec in records:
                _store_user(uow, rec, "User")
            uow.repo(SyncState).set_watermark("User", mark_of(records))
            uow.commit()
    if ctx.mapping.mode == "service_appointment":
        fields = ["Id", "Name", "RelatedRecordId", "IsActive", "SystemModstamp"]
        for records in keyset_pages(ctx, gw, "ServiceResource", "ServiceResource", fields, include_deleted=False):
            with ctx.uow_factory() as uow:
                for rec in records:
                    _store_user(uow, rec, "ServiceResource")
                uow.repo(SyncState).set_watermark("ServiceResource", mark_of(records))
                uow.commit()


def _store_user(uow: UnitOfWork, rec: dict[str, Any], kind: str) -> None:
    row = uow.repo(SfUsers).ensure(rec["Id"], kind, utcnow())
    row.name = rec.get("Name")
    row.email = (rec.get("Email") or None) and str(rec["Email"]).lower()
    row.timezone = rec.get("TimeZoneSidKey")
    row.active = bool(rec.get("IsActive", True))
    row.related_user_sf_id = rec.get("RelatedRecordId")
    row.system_modstamp = parse_sf_datetime(rec.get("SystemModstamp"), "SystemModstamp")
    row.updated_at = utcnow()
    if row.user_id is None and row.email:
        user = uow.users.by_email(row.email)
        row.user_id = user.id if user else None


def mirror_people(ctx: SyncContext, gw: SalesforceGateway, result: RunResult) -> None:
    """Mirror the Contacts and Leads behind guests: names only (the least patient detail)."""
    for sobject in ("Contact", "Lead"):
        fields = ["Id", "FirstName", "LastName", "IsDeleted", "SystemModstamp"]
        for records in keyset_pages(ctx, gw, sobject, sobject, fields, include_deleted=False):
            with ctx.uow_factory() as uow:
                now = utcnow()
                known = uow.people.by_ids(rec["Id"] for rec in records)
                for rec in records:
                    person = known.get(rec["Id"])
                    if person is None:
                        person = known[rec["Id"]] = PersonRow(id=rec["Id"], created_at=now, updated_at=now)
                        uow.people.add(person)
                    person.first_name, person.last_name = rec.get("FirstName"), rec.get("LastName")
                    person.updated_at = now
                uow.repo(SyncState).set_watermark(sobject, mark_of(records))
                uow.commit()


# ----------------------------------------------------------------------------------------- appointments


class _Calendars:
    """Owner (User or ServiceResource id) → calendar id, cached for a run."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.cache: dict[str, str | None] = {}
        self._unassigned: CalendarRow | None = None
        self.rows: dict[str | None, CalendarRow] = {}

    def of(self, owner: str | None) -> str | None:
        if not owner:
            return None
        if owner not in self.cache:
            self.cache[owner] = self._resolve(owner)
        return self.cache[owner]

    def _resolve(self, owner: str) -> str | None:
        users = self.uow.repo(SfUsers)
        sf_user = users.get(owner)
        if sf_user is not None and sf_user.kind == "ServiceResource" and sf_user.related_user_sf_id:
            sf_user = users.get(sf_user.related_user_sf_id)
        if sf_user is None:
            return None
        user_id = sf_user.user_id
        if user_id is None and sf_user.email:
            user = self.uow.users.by_email(sf_user.email)
            user_id = user.id if user else None
            sf_user.user_id = user_id
        if user_id is None:
            return None
        return self.uow.calendars.first_owned_by(user_id)

    def row(self, calendar_id: str | None) -> CalendarRow:
        if calendar_id not in self.rows:
            row = self.uow.calendars.get(calendar_id) if calendar_id is not None else None
            assert row is not None
            self.rows[calendar_id] = row
        return self.rows[calendar_id]

    def unassigned(self) -> CalendarRow:
        if self._unassigned is None:
            row = self.uow.calendars.find(UNASSIGNED_CALENDAR, "team")
            if row is None:
                now = utcnow()
                values = {"name": UNASSIGNED_CALENDAR, "kind": "team", "timezone": "UTC"}
                self.uow.calendars.ensure({"id": new_id(), **values, "created_at": now, "updated_at": now})
                row = self.uow.calendars.find(UNASSIGNED_CALENDAR, "team")
                assert row is not None
            self._unassigned = row
        return self._unassigned


def mirror_appointments(
    ctx: SyncContext, gw: SalesforceGateway, result: RunResult, progress: Progress | None = None
) -> None:
    mapping = ctx.mapping
    now = utcnow()
    initial = soql(
        f"{'StartDateTime' if mapping.mode == 'event' else 'SchedStartTime'} >= {{}}",
        floor_second(now - ctx.window_back),
    )
    for records in keyset_pages(
        ctx, gw, mapping.sobject, mapping.sobject, mapping.select_fields(), include_deleted=True, initial_where=initial
    ):
        owners: dict[str, str] = {}
        crews: dict[str, list[str]] | None = None
        whos: dict[str, list[str]] | None = None
        live = [r["Id"] for r in records if not r.get("IsDeleted")]
        if mapping.mode == "service_appointment":
            owners, crews = _assigned_resources(gw, live)
        else:
            # Only Events with a primary Who can relate others (Salesforce makes one of them the WhoId).
            whos = relations.event_whos(gw, [r["Id"] for r in records if not r.get("IsDeleted") and r.get("WhoId")])
        _apply_page(ctx, records, owners, result, whos=whos, crews=crews)
        if progress:
            progress(result.processed, None)


def mirror_assignments(ctx: SyncContext, gw: SalesforceGateway, result: RunResult, run_started: datetime) -> None:
    """ServiceAppointment mode: follow AssignedResource changes by their own SystemModstamp.

    A reassignment in Salesforce often changes only the AssignedResource, not the ServiceAppointment,
    so the appointment pages alone would not see it. The first run starts at this run's start (its
    appointment pages already read the assignments current then); later runs continue from the
    watermark. For each linked appointment a page touches, its whole crew is read again (one query
    per 200 appointments): the primary resource's calendar holds it, the others are recorded in
    ``meta.salesforce_crew``. An appointment left with no assignment keeps its calendar.
    """
    fields = ["Id", "ServiceAppointmentId", "ServiceResourceId", "IsDeleted", "SystemModstamp"]
    initial = soql("SystemModstamp >= {}", floor_second(run_started - ctx.overlap))
    for records in keyset_pages(
        ctx, gw, "AssignedResource", "AssignedResource", fields, include_deleted=True, initial_where=initial
    ):
        touched = list(dict.fromkeys(str(r["ServiceAppointmentId"]) for r in records if r.get("ServiceAppointmentId")))
        with ctx.uow_factory() as uow:
            linked = uow.repo(SfLinks).linked_sf_ids(touched)
        owners, crews = _assigned_resources(gw, [str(i) for i in linked])
        with ctx.uow_factory() as uow:
            links = uow.repo(SfLinks).of_records(linked)
            calendars = _Calendars(uow)
            now = utcnow()
            for link in links:
                row = uow.appointments.including_deleted(link.appointment_id)
                if row is None:
                    continue
                meta = _meta_with_crew(row, _crew_meta(crews.get(str(link.sf_id), []), calendars))
                move_to: str | None = None
                resource = owners.get(str(link.sf_id))
                if resource is not None and link.owner_sf_id != resource:
                    # not yet known (the appointment page and our own push record the primary too)
                    link.owner_sf_id, link.updated_at = resource, now
                    calendar_id = calendars.of(resource)
                    if calendar_id is None:
                        link.unassigned = True  # moved once the resource's user is known (reassign_unassigned)
                    else:
                        link.unassigned = False
                        if calendar_id != row.calendar_id:
                            move_to = calendar_id
                if meta is not None or move_to is not None:
                    svc.apply_external_change(uow, ctx.actor, row.id, ExternalChange(meta=meta, calendar_id=move_to))
                    result.updated += 1
            uow.repo(SyncState).set_watermark("AssignedResource", mark_of(records))
            uow.commit()


def _meta_with_crew(row: AppointmentRow, crew: list[dict[str, str | None]]) -> dict[str, Any] | None:
    """``row``'s meta with the crew's other members recorded; None when it records them already."""
    if (row.meta_extra or {}).get(CREW_META, []) == crew:
        return None
    meta = appointment_from_row(row).meta.model_dump(mode="json")
    meta.pop(CREW_META, None)
    if crew:
        meta[CREW_META] = crew
    return meta


def _assigned_resources(gw: SalesforceGateway, ids: list[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """ServiceAppointment id → its primary ServiceResource id, and → the crew's others; one query per 200.

    The primary is ``IsPrimaryResource`` where the org has it, else the earliest-created AssignedResource
    (:func:`caldav_bridge.salesforce.relations.crews`). An appointment without any is absent from both.
    """
    owners: dict[str, str] = {}
    crews: dict[str, list[str]] = {}
    for sa, assignments in relations.crews(gw, ids).items():
        owners[sa] = assignments[0].resource_id
        crews[sa] = [a.resource_id for a in assignments[1:] if a.resource_id != owners[sa]]
    return owners, crews


def _apply_page(
    ctx: SyncContext,
    records: list[dict[str, Any]],
    owners: dict[str, str],
    result: RunResult,
    *,
    whos: dict[str, list[str]] | None = None,
    crews: dict[str, list[str]] | None = None,
) -> None:
    mapping = ctx.mapping
    with ctx.uow_factory() as uow:
        ids = [r["Id"] for r in records]
        ext_ids = [str(r[mapping.external_id_field]) for r in records if r.get(mapping.external_id_field)]
        links = {link.sf_id: link for link in uow.repo(SfLinks).of_records(ids)}
        ext_links = uow.repo(SfLinks).of_appointments(ext_ids)
        wanted = {link.appointment_id for link in links.values()} | set(ext_ids)
        rows = uow.appointments.by_ids(wanted)
        pending = uow.outbox.waiting_among(wanted)
        calendars = _Calendars(uow)
        # New records go through the bulk path (caldav_bridge.salesforce.bulk: services.creates.write_new,
        # which also queues their webhook events).
        fresh: list[bulk.NewAppointment] = []
        people = _people_of(uow, records, mapping, whos)
        for raw in records:
            result.processed += 1
            try:
                rec = record_from_salesforce(raw, mapping)
            except ConversionError as exc:
                result.failed += 1
                result.note(f"{raw.get('Id')}: {exc}")
                continue
            if mapping.mode == "service_appointment":
                rec = _with_owner(rec, owners.get(rec.sf_id))
                if crews is not None:
                    rec = replace(rec, crew=tuple(crews.get(rec.sf_id, ())))
            elif whos is not None:
                rec = replace(rec, other_whos=tuple(w for w in whos.get(rec.sf_id, ()) if w != rec.customer_gid))
            if rec.series_master:
                # A series' pattern has no occurrence of its own (its occurrences are mirrored one by
                # one): never an appointment; one made from it by an older mirror is tombstoned.
                rec = replace(rec, deleted=True)
            link = links.get(rec.sf_id)
            if link is None and rec.external_id and rec.external_id in rows:
                # Our own record (its upsert's answer may have been lost): link it, never copy it.
                link = ext_links.get(rec.external_id)
                if link is None:
                    link = _new_link(uow, rec.external_id, mapping.sobject, rec)
                    link.external_id = rec.external_id
                link.sf_id = rec.sf_id
            if link is not None and link.system_modstamp is not None and link.system_modstamp > rec.modstamp:
                result.unchanged += 1  # older than what we hold: a replay (overlap, retry)
                continue
            row = rows.get(link.appointment_id) if link is not None else None
            if row is None and link is None and not rec.deleted:
                fresh.append(_new_appointment(uow, ctx, rec, calendars, people))
                result.created += 1
                continue
            _apply_record(uow, ctx, rec, link, row, row is not None and row.id in pending, calendars, result)
        if fresh:
            bulk.insert_new(uow, fresh, actor=ctx.actor, now=utcnow())
        uow.repo(SyncState).set_watermark(mapping.sobject, mark_of(records))
        uow.commit()


def _people_of(
    uow: UnitOfWork, records: list[dict[str, Any]], mapping: Any, whos: dict[str, list[str]] | None = None
) -> dict[str, PersonRow]:
    ids: set[str] = {w for related in (whos or {}).values() for w in related}
    for raw in records:
        for name in ("WhoId", "ContactId"):
            value = raw.get(name)
            if isinstance(value, str) and value:
                ids.add(value)
    return uow.people.by_ids(ids)


def _new_appointment(
    uow: UnitOfWork, ctx: SyncContext, rec: MirroredRecord, calendars: _Calendars, people: dict[str, PersonRow]
) -> bulk.NewAppointment:
    """A transient row for a new record, built as :func:`_apply_record` builds one (same helpers)."""
    now = utcnow()
    calendar_id = calendars.of(rec.owner_sf_id)
    unassigned = calendar_id is None
    calendar = calendars.unassigned() if unassigned else calendars.row(calendar_id)
    rec = rec.in_zone(calendar.timezone)  # an all-day Event covers its dates in the calendar's zone
    row = bulk.PlainRow(
        id=str(uuid.uuid4()),
        calendar_id=calendar.id,
        calendar=calendar,
        name=rec.name,
        description=rec.description,
        type=rec.type,
        status=rec.status,
        date_start=rec.date_start,
        date_end=rec.date_end,
        created_at=now,
        updated_at=now,
    )
    for column, value in svc.meta_columns(_meta(rec, calendars)).items():
        setattr(row, column, value)
    for position, who in enumerate(who_ids(rec)):
        person = people.get(who)
        guest = (
            Guest(id=who, first_name=person.first_name, last_name=person.last_name, timezone=person.timezone)
            if person is not None
            else guests_of(uow, who)[0]
        )
        row.guests.append(
            bulk.PlainGuest(
                position=position,
                person_id=guest.id,
                first_name=guest.first_name,
                last_name=guest.last_name,
                timezone=guest.timezone,
            )
        )
    return bulk.NewAppointment(row, rec.sf_id, ctx.mapping.sobject, rec.owner_sf_id, unassigned, rec.modstamp)


def _with_owner(rec: MirroredRecord, owner: str | None) -> MirroredRecord:
    return replace(rec, owner_sf_id=owner)


def _new_link(uow: UnitOfWork, appointment_id: str, sobject: str, rec: MirroredRecord) -> SfLinkRow:
    link = uow.repo(SfLinks).ensure(appointment_id, sobject, utcnow())  # the push may be recording it at this moment
    link.sf_id = rec.sf_id
    return link


def _row_hash(row: AppointmentRow) -> str:
    return content_hash(
        row.name,
        row.description,
        row.date_start,
        row.date_end,
        row.status,
        row.type,
        row.sf_opportunity_gid,
        row.sf_customer_gid,
        _location_of(row),
        show_as=_show_as_of(row),
        all_day=(row.meta_extra or {}).get("all_day") is True,
    )


def _show_as_of(row: AppointmentRow) -> str | None:
    value = (row.meta_extra or {}).get("show_as")
    return value if row.status != "CANCELLED" and value in SHOW_AS and value != "busy" else None


def _location_of(row: AppointmentRow) -> str | None:
    value = (row.meta_extra or {}).get("location")
    return value[:255] if isinstance(value, str) and value.strip() else None


def _apply_record(
    uow: UnitOfWork,
    ctx: SyncContext,
    rec: MirroredRecord,
    link: SfLinkRow | None,
    row: AppointmentRow | None,
    has_pending: bool,
    calendars: _Calendars,
    result: RunResult,
) -> None:
    actor = ctx.actor
    now = utcnow()
    if row is not None and (row.meta_extra or {}).get("kind") == AppointmentKind.BUSY.value:
        # A busy block's Event is ours, without details: what Salesforce does to it never changes the
        # fitter's own time (its next change here writes it again).
        if link is not None:
            link.system_modstamp, link.mirrored_at, link.updated_at = rec.modstamp, now, now
        result.unchanged += 1
        return
    if rec.deleted:
        if row is not None and row.deleted_at is None:
            svc.apply_external_change(uow, actor, row.id, ExternalChange(deleted=True))
            result.deleted += 1
        else:
            result.unchanged += 1
        if link is not None:
            link.system_modstamp, link.mirrored_at, link.updated_at = rec.modstamp, now, now
        return
    calendar_id = calendars.of(rec.owner_sf_id)
    if row is None:
        # A link whose appointment is gone (not made by this mirror): the record starts afresh, through the
        # one create path (services.creates, as the bulk path above).
        if link is not None:
            uow.repo(SfLinks).remove(link)
        new = _new_appointment(uow, ctx, rec, calendars, {})
        bulk.insert_new(uow, [new], actor=actor, now=now)
        result.created += 1
        return
    assert link is not None
    link.system_modstamp, link.mirrored_at, link.updated_at = rec.modstamp, now, now
    rec = rec.keeping(row.status, row.type)  # an unmapped Salesforce value never changes ours
    move_to = calendar_id if calendar_id is not None and calendar_id != row.calendar_id else None
    rec = rec.in_zone(calendars.row(move_to).timezone if move_to else row.calendar.timezone)
    incoming = rec.content_hash()
    same_content = row.deleted_at is None and _row_hash(row) == incoming
    meta = _meta(rec, calendars)
    # Who relations and crews are not in the content hash: a change to them alone is a change too.
    whos_changed = rec.other_whos is not None and other_guest_ids(row) != sorted(rec.other_whos)
    crew_changed = rec.crew is not None and (row.meta_extra or {}).get(CREW_META) != meta.get(CREW_META)
    crew_changed |= (row.meta_extra or {}).get(UNMAPPED_META) != meta.get(UNMAPPED_META)  # unmapped values too
    if (
        has_pending
        or (same_content and move_to is None and not whos_changed and not crew_changed)
        or (link.pushed_hash == incoming and not same_content and row.deleted_at is None)
    ):
        # Unsent local changes win until they are pushed; our own write coming back changes nothing.
        result.unchanged += 1
        return
    if move_to is not None:
        link.unassigned = False
        link.owner_sf_id = rec.owner_sf_id
    customer_changed = (row.sf_customer_gid or None) != rec.customer_gid
    change = ExternalChange(
        values=ExternalValues(rec.name, rec.description, rec.date_start, rec.date_end, rec.status),
        meta={**_kept_meta(row), **meta},
        guests=merged_guests(uow, row, rec.customer_gid, rec.other_whos) if customer_changed or whos_changed else None,
        calendar_id=move_to,
        deleted=False if row.deleted_at is not None else None,  # undeleted in Salesforce
    )
    svc.apply_external_change(uow, actor, row.id, change)
    result.updated += 1


#: Meta keys the mirror owns besides ``type`` and ``salesforce`` (dropped when the record no longer says them).
SERIES_META = "salesforce_series_gid"
CREW_META = "salesforce_crew"


def _meta(rec: MirroredRecord, calendars: _Calendars | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "type": rec.type,
        "salesforce": {
            "appointment_gid": rec.sf_id,
            "opportunity_gid": rec.opportunity_gid,
            "customer_gid": rec.customer_gid,
        },
    }
    if rec.series_gid:
        meta[SERIES_META] = rec.series_gid  # an occurrence of a recurring Event: the series master's Id
    if rec.crew:
        meta[CREW_META] = _crew_meta(rec.crew, calendars)
    if rec.unmapped:
        meta[UNMAPPED_META] = rec.unmapped_meta()
    if rec.location:
        meta["location"] = rec.location  # Event Location (the key iCalendar imports and the calendar page use)
    if rec.all_day is not None:
        meta["all_day"] = True  # IsAllDayEvent: the dates in the calendar's zone (as a CalDAV all-day event)
    if rec.show_as:
        meta["show_as"] = rec.show_as  # ShowAs Free / OutOfOffice (Busy is the default and not recorded)
    return meta


def _crew_meta(crew: tuple[str, ...] | list[str], calendars: _Calendars | None) -> list[dict[str, str | None]]:
    """The crew's other members: their ServiceResource ids and, where known, their calendars."""
    return [{"resource_gid": r, "calendar_id": calendars.of(r) if calendars else None} for r in crew]


def _kept_meta(row: AppointmentRow) -> dict[str, Any]:
    owned: tuple[str, ...] = (SERIES_META, CREW_META, UNMAPPED_META)
    if (row.sf_appointment_gid or "").startswith("00U"):
        owned += ("location", "all_day", "show_as")  # an Event's Location, IsAllDayEvent, ShowAs are Salesforce's
    return {k: v for k, v in (row.meta_extra or {}).items() if k not in owned}


def reassign_unassigned(ctx: SyncContext, result: RunResult) -> None:
    """Move appointments waiting on the unassigned calendar to their owner's calendar once it is known."""
    with ctx.uow_factory() as uow:
        links = uow.repo(SfLinks).unassigned()
        calendars = _Calendars(uow)
        for link in links:
            calendar_id = calendars.of(link.owner_sf_id)
            if calendar_id is None:
                continue
            row = uow.appointments.including_deleted(link.appointment_id)
            if row is None or uow.calendars.get(calendar_id) is None:
                continue
            link.unassigned = False
            svc.apply_external_change(uow, ctx.actor, row.id, ExternalChange(calendar_id=calendar_id))
            result.updated += 1
        uow.commit()


def mirror(ctx: SyncContext, gw: SalesforceGateway, progress: Progress | None = None) -> RunResult:
    """One mirror run: users, people, then appointments; then re-home waiting unassigned appointments."""
    result = RunResult("mirror")
    if idle.nothing_changed(ctx, gw):  # one composite call answered "nothing new" for every object
        reassign_unassigned(ctx, result)
        return result
    run_began = utcnow()
    mirror_users(ctx, gw, result)
    mirror_people(ctx, gw, result)
    reassign_unassigned(ctx, result)
    started = utcnow()
    mirror_appointments(ctx, gw, result, progress)
    if ctx.mapping.mode == "service_appointment":
        mirror_assignments(ctx, gw, result, started)
    else:
        relation_sync.mirror_who_relations(ctx, gw, result, started)
    if result.failed:
        result.outcome = "partial"
    idle.record_full_run(ctx, run_began)
    return result


def reconcile(ctx: SyncContext, gw: SalesforceGateway, progress: Progress | None = None) -> RunResult:
    """Diff the ids in the mirrored window against Salesforce's: a record gone without a trace
    (purged from the recycle bin before the mirror saw it deleted) is tombstoned here."""
    result = RunResult("reconcile")
    mapping = ctx.mapping
    now = utcnow()
    start_field = "StartDateTime" if mapping.mode == "event" else "SchedStartTime"
    low, high = floor_second(now - ctx.window_back), floor_second(now + ctx.window_ahead)
    remote: set[str] = set()
    template = f"SELECT Id FROM {mapping.sobject} WHERE {start_field} >= {{}} AND {start_field} < {{}}"  # noqa: S608
    q = soql(template, low, high)
    for page in gw.query_pages(q):
        remote.update(r["Id"] for r in page)
        if progress:
            progress(len(remote), None)
    with ctx.uow_factory() as uow:
        pending = uow.outbox.waiting_among(None)
        for link, row in uow.repo(SfLinks).live_in_window(mapping.sobject, low, high):
            result.processed += 1
            if link.sf_id in remote or row.id in pending:
                continue
            if link.pushed_at is not None and link.pushed_at > now - timedelta(minutes=1):
                continue  # written a moment ago; Salesforce's query may not show it yet
            svc.apply_external_change(uow, ctx.actor, row.id, ExternalChange(deleted=True), action="reconcile")
            result.deleted += 1
        uow.commit()
    return result
