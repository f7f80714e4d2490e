"""The mirror's bulk path: its CalDAV items are byte for byte what icalendar renders (the reference
renderer), and a page of new records leaves the same rows the per-record path leaves (history, audit,
items, change log, no outbox)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from caldav_bridge.converters.salesforce import format_sf_datetime
from caldav_bridge.dav import items as dav_items
from caldav_bridge.dav.render import fresh_reference
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.bulk import PlainGuest, PlainRow
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import users
from caldav_bridge.services.mapping import appointment_from_row
from caldav_bridge.store.dav_tables import DavChangeRow, DavItemRow
from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.tables import AppointmentRow, AuditRow, CalendarRow, OutboxRow, StatusHistoryRow
from sf_emulator.emulator import SalesforceEmulator

NAMES = ["Fitting", "Hörtest, Jürgen; Müller", "a\\b", "x" * 200, "Ünïcödé " * 30, "Tech setup: call"]
ZONES = ["UTC", "Europe/Berlin", "America/Denver", "Asia/Kolkata", "Australia/Lord_Howe"]


def _rows(n: int) -> list[PlainRow]:
    rng = random.Random(7)
    now = datetime(2026, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
    out = []
    for i in range(n):
        # Includes DST changes (the repeated hour goes through the real renderer) and year ends.
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=15 * rng.randrange(0, 4 * 24 * 400))
        calendar = CalendarRow(id=f"cal{i % 3}", name="Cal", kind="fitter", timezone=rng.choice(ZONES))
        guests = []
        if rng.random() < 0.7:
            first = rng.choice([None, "Jürgen", "Ann", "O'Neil"])
            last = rng.choice([None, "Müller", "Smith-Jones"])
            guests = [PlainGuest(0, f"003{i:012d}AAA", first, last, None)]
        out.append(
            PlainRow(
                id=f"00000000-0000-4000-8000-{i:012d}",
                calendar_id=calendar.id,
                calendar=calendar,
                name=rng.choice(NAMES),
                description=rng.choice([None, "Bring the\nhearing aids, please; thanks", "é" * 120]),
                type=rng.choice(["INITIAL", "FOLLOW_UP", "TECH_SETUP"]),
                status=rng.choice(["BOOKED", "RESERVED", "CANCELLED", "INITIAL", "RESCHEDULED"]),
                date_start=start,
                date_end=start + timedelta(minutes=rng.choice([30, 60, 90, 60 * 24 * 3])),
                created_at=now,
                updated_at=now,
                sf_appointment_gid=f"00U{i:012d}AAA",
                guests=guests,
            )
        )
    return out


def test_bulk_items_equal_the_icalendar_reference() -> None:
    for row in _rows(400):
        appointment = appointment_from_row(row.as_row())
        item = dav_items.new_item(row.as_row(), appointment)
        assert item.text == fresh_reference(appointment, row.calendar.timezone, 0, row.id), row
        assert item == dav_items.item_for(row.as_row(), None)


def _fitter(rt: Runtime) -> str:
    users.add_user(rt.uow(), "fitter.bulk", "fitter", email="bulk@example.com", timezone="Europe/Berlin")
    with rt.uow() as uow:
        user = uow.users.by_username("fitter.bulk")
        assert user is not None
        return uow.calendars.ids_owned_by(user.id)[0]


def test_a_page_of_new_records_leaves_a_consistent_store(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    calendar_id = _fitter(runtime)
    owner = emulator.create("User", {"Name": "Bulk", "Email": "bulk@example.com", "IsActive": True})
    contact = emulator.create("Contact", {"FirstName": "Jürgen", "LastName": "Müller"})
    stranger = emulator.create("User", {"Name": "Stranger", "Email": "stranger@example.com", "IsActive": True})
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    n = 25
    for i in range(n):
        at = start + timedelta(hours=i)
        emulator.create(
            "Event",
            {
                "Subject": f"Bulk {i}",
                "StartDateTime": format_sf_datetime(at),
                "EndDateTime": format_sf_datetime(at + timedelta(minutes=30)),
                "OwnerId": owner if i % 5 else stranger,  # some owners without a fitter here
                "WhoId": contact if i % 2 else None,
            },
        )
    result = run_job(sync, "mirror")
    assert result is not None and result.created == n, result
    with runtime.uow() as uow:
        s = uow.session
        rows = list(s.scalars(select(AppointmentRow)))
        assert len(rows) == n
        assert sum(r.calendar_id == calendar_id for r in rows) == n - 5
        assert all(r.sequence == 0 for r in rows)
        assert s.scalar(select(func.count()).select_from(OutboxRow)) == 0
        assert s.scalar(select(func.count()).select_from(StatusHistoryRow)) == n
        assert s.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.action == "mirror")) == n
        assert s.scalar(select(func.count()).select_from(SfLinkRow).where(SfLinkRow.unassigned)) == 5
        items = {i.appointment_id: i for i in s.scalars(select(DavItemRow))}
        assert set(items) == {r.id for r in rows}
        hrefs = {(c.collection_id, c.href) for c in s.scalars(select(DavChangeRow))}
        assert {(i.collection_id, i.href) for i in items.values()} <= hrefs
        for r in rows:  # each item is what the CalDAV code renders for the stored appointment
            assert items[r.id].text == dav_items.item_for(r, None).text
            if r.sf_customer_gid:
                assert [(g.first_name, g.last_name) for g in r.guests] == [("Jürgen", "Müller")]
    # A second run changes nothing (replays are harmless).
    again = run_job(sync, "mirror")
    assert again is not None and again.created == 0
