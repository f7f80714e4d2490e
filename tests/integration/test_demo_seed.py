"""What the demo seed (``appointment-service demo``, ``serve --demo``) writes, pinned, so that a cheaper seed
cannot drop a side effect of the write path: for a fixed day, every table's row count (a webhook subscription
listens, so deliveries are queued too), and per appointment its lifecycle as the status history, the audit, the
Salesforce outbox, the webhook deliveries, the CalDAV item and its change log record it. A second seed adds
nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from caldav_bridge.dav.render import ICAL_STATUS, etag_of_text
from caldav_bridge.demo import seed_demo
from caldav_bridge.model.appointment import AppointmentStatus
from caldav_bridge.runtime import Runtime
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.base import Base
from caldav_bridge.store.dav_tables import DavChangeRow, DavItemRow
from caldav_bridge.store.tables import AppointmentRow, AuditRow, OutboxRow, StatusHistoryRow
from caldav_bridge.webhooks import subscriptions
from caldav_bridge.webhooks.model import SubscriptionDraft
from caldav_bridge.webhooks.tables import WebhookDeliveryRow

TODAY = date(2026, 12, 2)  # a Wednesday: 16 weekdays in the plan's window, 7 of them before today
#: Each table's rows after the seed (and after a second one); tables not listed stay empty.
ROWS = {
    "users": 10,
    "api_tokens": 10,
    "calendars": 8,
    "feed_tokens": 8,
    "auth_clock": 1,
    "webhook_subscriptions": 1,  # the test's
    "appointments": 224,
    "appointment_guests": 224,
    "people": 8,
    "status_history": 224 + 180,
    "audit_log": 224 + 180,
    "outbox": 224 + 180,
    "webhook_deliveries": 224 + 180,
    "dav_collections": 7 + 7,  # the seven calendars', and the six principals' and _calendars' folders
    "dav_items": 224,
    "dav_changes": 224 + 180,
}
#: The lifecycle of the seeded appointments (their final status) for ``TODAY``.
FINAL = {"INITIAL": 44, "RESERVED": 38, "BOOKED": 92, "CANCELLED": 20, "RESCHEDULED": 30}
#: The audit action and webhook event of the step to each final status.
STEP = {
    "RESERVED": ("update", "appointment.updated"),
    "BOOKED": ("book", "appointment.updated"),
    "CANCELLED": ("cancel", "appointment.cancelled"),
    "RESCHEDULED": ("reschedule", "appointment.rescheduled"),
}
REASON = {"CANCELLED": "Customer asked to cancel", "RESCHEDULED": "Customer asked for the next day"}
EVERY_TYPE = ["appointment.created", "appointment.updated", "appointment.cancelled", "appointment.rescheduled"]


def _counts(rt: Runtime) -> dict[str, int]:
    with rt.uow() as uow:
        counts = {
            table.name: uow.session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }
    return {name: n for name, n in counts.items() if n}


def _by_appointment(rt: Runtime) -> dict[str, dict[str, Any]]:
    """What the seed wrote for each appointment, in the order it was written."""
    found: dict[str, dict[str, Any]] = {}
    with rt.uow() as uow:
        s = uow.session
        for row in s.scalars(select(AppointmentRow)):
            found[row.id] = {
                "row": (row.status, row.date_start, row.date_end, row.sequence, row.deleted_at),
                "history": [],
                "audit": [],
                "outbox": [],
                "webhooks": [],
                "changes": [],
            }
        for h in s.scalars(select(StatusHistoryRow).order_by(StatusHistoryRow.id)):
            found[h.appointment_id]["history"].append(
                (h.old_status, h.new_status, h.old_start, h.new_start, h.actor, h.channel, h.reason)
            )
        for a in s.scalars(select(AuditRow).order_by(AuditRow.id)):
            assert a.appointment_id is not None
            found[a.appointment_id]["audit"].append((a.action, a.actor, a.channel))
        for o in s.scalars(select(OutboxRow).order_by(OutboxRow.id)):
            found[o.appointment_id]["outbox"].append((o.operation, o.payload["status"], o.state))
        for w in s.scalars(select(WebhookDeliveryRow)):  # ids are random: compared as a set
            assert w.appointment_id is not None and w.appointment_id == w.payload["data"]["appointment"]["id"]
            found[w.appointment_id]["webhooks"].append((w.event_type, w.payload["data"]["appointment"]["status"]))
        items = {i.href: i for i in s.scalars(select(DavItemRow))}
        for c in s.scalars(select(DavChangeRow).order_by(DavChangeRow.id)):
            found[c.href.removesuffix(".ics")]["changes"].append((c.collection_id, c.revision, c.deleted))
        for appointment_id, seen in found.items():
            item = items.pop(f"{appointment_id}.ics")
            seen["item"] = (item.appointment_id, item.text, item.etag, item.collection_id)
        assert not items, "an item of no appointment"
    return found


def test_the_demo_seed_writes_every_step_of_every_lifecycle(runtime: Runtime) -> None:
    subscriptions.create(
        runtime.uow(), system_actor("test"), SubscriptionDraft(url="https://example.com/hook", events=EVERY_TYPE)
    )
    result = seed_demo(runtime.uow(), runtime.settings.data_dir, today=TODAY)
    assert (result.appointments_created, result.appointments_total) == (224, 224)
    counts = _counts(runtime)
    assert counts == ROWS

    seeded = _by_appointment(runtime)
    assert Counter(seen["row"][0] for seen in seeded.values()) == FINAL
    for appointment_id, seen in seeded.items():
        status, start, end, sequence, deleted_at = seen["row"]
        moved = status != AppointmentStatus.INITIAL
        first = start - timedelta(days=1) if status == AppointmentStatus.RESCHEDULED else start
        assert deleted_at is None
        assert (end - start).total_seconds() in (30 * 60, 60 * 60)
        history: list[tuple[Any, ...]] = [(None, "INITIAL", None, first, "system", "demo", None)]
        audit = [("create", "system", "demo")]
        outbox = [("upsert", "INITIAL", "pending")]
        webhooks = [("appointment.created", "INITIAL")]
        if moved:
            action, webhook = STEP[status]
            history.append(("INITIAL", status, first, start, "system", "demo", REASON.get(status)))
            audit.append((action, "system", "demo"))
            outbox.append(("upsert", status, "pending"))
            webhooks.append((webhook, status))
        assert seen["history"] == history, appointment_id
        assert seen["audit"] == audit, appointment_id
        assert seen["outbox"] == outbox, appointment_id
        assert sorted(seen["webhooks"]) == sorted(webhooks), appointment_id
        assert sequence == (1 if status in ("RESERVED", "BOOKED", "RESCHEDULED") else 0), appointment_id
        # the CalDAV item shows the appointment as it is now; its change log has the create and the step
        item_of, text, etag, collection_id = seen["item"]
        assert item_of == appointment_id
        assert etag == etag_of_text(text)
        assert f"\r\nSTATUS:{ICAL_STATUS[AppointmentStatus(status)]}\r\n" in text, appointment_id
        assert f"\r\nX-APPOINTMENT-STATUS:{status}\r\n" in text, appointment_id
        assert "\r\nDTSTART;TZID=" in text and f"\r\nUID:{appointment_id}\r\n" in text
        changes = seen["changes"]
        assert [c[2] for c in changes] == [False] * (1 + moved), appointment_id
        assert {c[0] for c in changes} == {collection_id}
        assert changes == sorted(changes) and len({c[1] for c in changes}) == len(changes), appointment_id

    again = seed_demo(runtime.uow(), runtime.settings.data_dir, today=TODAY + timedelta(days=3))
    assert (again.appointments_created, again.appointments_total) == (0, 224)
    assert _counts(runtime) == counts
