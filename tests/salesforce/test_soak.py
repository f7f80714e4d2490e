"""A bounded fault-injection soak: mixed changes on both sides with 10% injected faults, and every fifth push
killed between Salesforce's answer and the local commit; SQLite and PostgreSQL.

``SF_SOAK_OPS`` sets the number of operations (default 400 in the suite; the issue's full 2,000 run, on either
database: ``SF_SOAK_OPS=2000 pytest tests/salesforce/test_soak.py -k postgresql -s`` (or ``-k sqlite``); it prints
its counts).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from caldav_bridge.converters.salesforce import format_sf_datetime
from caldav_bridge.model.requests import AppointmentDraft, AppointmentPatch, CancelRequest
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce import push as push_mod
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import appointments, users
from caldav_bridge.services.actor import Actor, system_actor
from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.tables import AppointmentRow, OutboxRow
from sf_emulator.emulator import SalesforceEmulator

EXT = "Appointment_Service_Id__c"


def _local_step(
    runtime: Runtime,
    actor: Actor,
    calendar_id: str,
    rng: random.Random,
    kind: float,
    i: int,
    start: datetime,
    local: list[str],
    counts: Counter[str],
) -> None:
    """A change on our side: create (kind < 0.30, or nothing to change yet), update, or cancel."""
    if kind < 0.30 or not local:
        draft = AppointmentDraft.model_validate(
            {
                "calendar": {"id": calendar_id},
                "date_start": start,
                "date_end": start + timedelta(minutes=45),
                "name": f"L{i}",
                "meta": {"type": "INITIAL"},
                "status": "BOOKED",
            }
        )
        local.append(str(appointments.create(runtime.uow(), actor, draft).appointment.id))
        counts["local create"] += 1
    elif kind < 0.45:
        aid = rng.choice(local)
        try:
            appointments.update(runtime.uow(), actor, aid, AppointmentPatch.model_validate({"name": f"L{i}u"}))
            counts["local update"] += 1
        except Exception:
            counts["local update refused"] += 1
    else:
        aid = rng.choice(local)
        try:
            appointments.cancel(runtime.uow(), actor, aid, CancelRequest(reason="soak"))
            counts["local cancel"] += 1
        except Exception:
            counts["local cancel refused"] += 1


def _remote_step(
    emulator: SalesforceEmulator,
    owner: str,
    rng: random.Random,
    kind: float,
    i: int,
    start: datetime,
    remote: list[str],
    counts: Counter[str],
) -> None:
    """A change in Salesforce: create (kind < 0.75, or nothing to change yet), update, or delete/undelete."""
    if kind < 0.75 or not remote:
        remote.append(
            emulator.create(
                "Event",
                {
                    "Subject": f"R{i}",
                    "StartDateTime": format_sf_datetime(start),
                    "EndDateTime": format_sf_datetime(start + timedelta(hours=1)),
                    "OwnerId": owner,
                },
            )
        )
        counts["remote create"] += 1
    elif kind < 0.92:
        rid = rng.choice(remote)
        if not emulator.get("Event", rid)["IsDeleted"]:
            emulator.update("Event", rid, {"Subject": f"R{i}u"})
            counts["remote update"] += 1
    else:
        rid = rng.choice(remote)
        record = emulator.get("Event", rid)
        (emulator.undelete if record["IsDeleted"] else emulator.delete)("Event", rid)
        counts["remote delete/undelete"] += 1


def _killed_push(sync: SyncContext, counts: Counter[str]) -> None:
    """A push whose process dies after Salesforce answered its first call, before the local commit."""

    def die() -> None:
        raise SystemExit("killed between the Salesforce call and the local commit")

    try:
        push_mod.push(sync, sync.gateway_factory(), after_call=die)
    except SystemExit:
        counts["push killed"] += 1


def test_soak_both_sides_with_faults_agree(runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext) -> None:
    ops = int(os.environ.get("SF_SOAK_OPS", "400"))
    rng = random.Random(42)
    users.add_user(runtime.uow(), "soak", "fitter", email="soak@example.com")
    with runtime.uow() as uow:
        user = uow.users.by_username("soak")
        assert user is not None
        calendar_id = uow.calendars.ids_owned_by(user.id)[0]
    owner = emulator.create("User", {"Name": "Soak", "Email": "soak@example.com", "IsActive": True})
    actor = system_actor("api")
    base = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=2)
    local: list[str] = []
    remote: list[str] = []
    counts: Counter[str] = Counter()
    emulator.random_faults(0.10, ("unavailable", "lost", "expire", "limit"), seed=7)
    sync.push_batch_size = 25
    sync.claim_lease = timedelta(0)  # a killed push's claims are taken over at the next run (as after the lease)
    for i in range(ops):
        start = base + timedelta(minutes=30 * rng.randrange(2000))
        kind = rng.random()
        if kind < 0.50 or not local:
            _local_step(runtime, actor, calendar_id, rng, kind, i, start, local, counts)
        else:
            _remote_step(emulator, owner, rng, kind, i, start, remote, counts)
        if i % 200 == 199:
            _killed_push(sync, counts)
        if i % 40 == 39:
            run_job(sync, "push")
            run_job(sync, "mirror")
    emulator.clear_faults()
    for _ in range(10):  # settle: everything due now, then until quiet
        with runtime.uow() as uow:
            uow.session.execute(
                update(OutboxRow).where(OutboxRow.state == "pending").values(available_at=datetime.now(UTC))
            )
            uow.commit()
        pushed, mirrored = run_job(sync, "push"), run_job(sync, "mirror")
        assert pushed is not None and mirrored is not None
        if pushed.processed == 0 and mirrored.created == mirrored.updated == mirrored.deleted == 0:
            break
    print(
        f"\nsoak: {ops} operations {dict(counts)}; faults injected {emulator.stats.faults}; "
        f"API calls {emulator.stats.calls}; logins {emulator.stats.logins}"
    )

    events = {r["Id"]: r for r in emulator.objects["Event"].values()}
    ext_counts = Counter(r.get(EXT) for r in events.values() if r.get(EXT) and not r["IsDeleted"])
    with runtime.uow() as uow:
        rows = {r.id: r for r in uow.session.scalars(select(AppointmentRow))}
        links = {link.appointment_id: link for link in uow.session.scalars(select(SfLinkRow))}
        dead = uow.session.scalars(select(OutboxRow).where(OutboxRow.state.in_(("dead", "pending", "inflight")))).all()
    linked_sf = Counter(link.sf_id for link in links.values())
    lost = [a for a in local if not (links.get(a) and links[a].sf_id)] + [
        r for r in remote if r not in linked_sf and not events[r]["IsDeleted"]
    ]
    duplicated = [k for k, n in ext_counts.items() if n > 1] + [k for k, n in linked_sf.items() if n > 1]
    print(f"soak result: {len(lost)} lost, {len(duplicated)} duplicated, {len(dead)} unsettled outbox rows")
    assert not [k for k, n in ext_counts.items() if n > 1], "duplicated in Salesforce"
    assert not lost and not duplicated, (lost, duplicated)
    assert not dead, [(d.appointment_id, d.state, d.last_error) for d in dead]
    # every local appointment is exactly one live record saying the same
    for aid in local:
        row, link = rows[aid], links.get(aid)
        assert link is not None and link.sf_id, f"{aid} never reached Salesforce"
        record = events[link.sf_id]
        assert record[EXT] == aid and not record["IsDeleted"] and record["Subject"] == row.name
        assert record["Appointment_Status__c"] == row.status
    # every Salesforce record is exactly one appointment saying the same (deleted ones tombstoned)
    by_sf = Counter(link.sf_id for link in links.values())
    assert not [k for k, n in by_sf.items() if n > 1], "duplicated in the store"
    sf_to_app = {link.sf_id: aid for aid, link in links.items()}
    never_seen = 0
    for rid in remote:
        app_id = sf_to_app.get(rid)
        if app_id is None and events[rid]["IsDeleted"]:
            never_seen += 1  # created and deleted between two mirror runs: nothing to mirror
            continue
        assert app_id is not None, f"{rid} lost"
        record, row = events[rid], rows[app_id]
        assert (row.deleted_at is not None) == bool(record["IsDeleted"]), rid
        if not record["IsDeleted"]:
            assert row.name == record["Subject"]
    assert len(rows) == len(local) + len(remote) - never_seen
    assert counts["push killed"] >= ops // 400, counts
