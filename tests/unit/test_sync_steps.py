"""Salesforce-facing steps on the fake unit of work (no database): the booking links' URLs and their watermark,
the standing tech-setup proposals of ``sync status``, and the job ticks' claim.

The same steps run against SQLite, PostgreSQL and the Salesforce emulator in tests/selfbooking/test_sf_links.py,
tests/salesforce/test_tech_setup_policy.py and tests/integration/test_jobs.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from caldav_bridge.credentials import token_digest
from caldav_bridge.jobs.ticks import JobTicks, claim
from caldav_bridge.scheduling import mirrored
from caldav_bridge.scheduling.queries import SchedulingQueries
from caldav_bridge.selfbooking.keys import link_secret
from caldav_bridge.selfbooking.repository import SelfBookingRows
from caldav_bridge.selfbooking.sf_links import STATE, publish_booking_links
from caldav_bridge.selfbooking.tables import BookingLinkRow
from caldav_bridge.store.job_tables import JobTickRow
from caldav_bridge.store.sf_tables import SfSyncStateRow
from tests.unit.fake_uow import T0, FakeUnitOfWork

KEY = b"k" * 32
PUBLIC = "https://book.example"


class FakeLinkRows:
    """``uow.repo(SelfBookingRows)`` for the Salesforce step: the links, the ``booking-links`` state row."""

    def __init__(self) -> None:
        self.links: list[BookingLinkRow] = []
        self.states: dict[str, SfSyncStateRow] = {}
        self.asked_after: list[tuple[datetime, str] | None] = []

    def personal_links_for_salesforce(self, after: tuple[datetime, str] | None, limit: int) -> list[BookingLinkRow]:
        self.asked_after.append(after)
        due = sorted(
            (link for link in self.links if link.kind == "personal" and link.sf_opportunity_gid),
            key=lambda link: (link.created_at, link.id),
        )
        return [link for link in due if after is None or (link.created_at, link.id) > after][:limit]

    def sync_state(self, name: str) -> SfSyncStateRow | None:
        return self.states.get(name)

    def save_sync_state(self, row: SfSyncStateRow) -> None:
        self.states[row.name] = row


@dataclass
class Answer:
    success: bool
    code: str = ""
    message: str = ""


class FakeGateway:
    def __init__(self, refuse: Iterable[str] = ()) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.refuse = set(refuse)

    def update_many(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[Any]:
        assert sobject == "Opportunity"
        self.calls.append(list(records))
        return [Answer(r["id"] not in self.refuse, "NOT_FOUND", "no such row") for r in records]


def _link(n: int, *, revoked: bool = False, derivable: bool = True, kind: str = "personal") -> BookingLinkRow:
    link_id = f"40000000-0000-4000-8000-{n:012d}"
    secret = link_secret(KEY, link_id) if derivable else "issued-without-the-key"
    return BookingLinkRow(
        id=link_id,
        token_hash=token_digest(secret),
        kind=kind,
        sf_opportunity_gid=f"006{n:012d}AAA",
        expires_at=None,
        revoked_at=T0 if revoked else None,
        created_at=T0 + timedelta(minutes=n),
    )


def _publish(uow: FakeUnitOfWork, gw: FakeGateway) -> Any:
    return publish_booking_links(lambda: uow, gw, field_name="Booking_Link__c", public_url=PUBLIC, key=KEY)


def test_link_urls_are_written_once_and_the_watermark_follows_what_salesforce_took() -> None:
    uow, rows = FakeUnitOfWork(), FakeLinkRows()
    uow.use(SelfBookingRows, rows)
    rows.links = [_link(1), _link(2, revoked=True), _link(3, derivable=False), _link(4, kind="team"), _link(5)]
    gw = FakeGateway()

    report = _publish(uow, gw)
    assert (report.written, report.skipped, report.failed) == (2, 2, 0)
    assert [[r["id"] for r in call] for call in gw.calls] == [["006000000000001AAA", "006000000000005AAA"]]
    url = gw.calls[0][0]["Booking_Link__c"]
    assert url == f"{PUBLIC}/book/{link_secret(KEY, rows.links[0].id)}"
    state = rows.states[STATE]
    assert (state.modstamp, state.value) == (rows.links[4].created_at, {"last_link_id": rows.links[4].id})

    again = _publish(uow, gw)
    assert (again.written, again.skipped, len(gw.calls)) == (0, 0, 1)  # nothing new: no call
    assert rows.asked_after[-1] == (rows.links[4].created_at, rows.links[4].id)


def test_a_refused_link_stops_the_watermark_before_it() -> None:
    uow, rows = FakeUnitOfWork(), FakeLinkRows()
    uow.use(SelfBookingRows, rows)
    rows.links = [_link(1), _link(2), _link(3)]
    gw = FakeGateway(refuse={"006000000000002AAA"})

    report = _publish(uow, gw)
    assert (report.written, report.failed) == (1, 1) and "NOT_FOUND" in report.notes[0]
    assert rows.states[STATE].value == {"last_link_id": rows.links[0].id}  # link 2 is tried again next run

    gw.refuse = set()
    assert _publish(uow, gw).written == 2
    assert rows.states[STATE].value == {"last_link_id": rows.links[2].id}


def test_without_a_field_nothing_is_read_or_written() -> None:
    uow, rows = FakeUnitOfWork(), FakeLinkRows()
    uow.use(SelfBookingRows, rows)
    rows.links = [_link(1)]
    report = publish_booking_links(lambda: uow, FakeGateway(), field_name="", public_url=PUBLIC, key=KEY)
    assert report.written == 0 and rows.asked_after == []


class FakeProposals:
    def __init__(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        self.rows = rows

    def live_initials_mentioning(self, key: str) -> list[tuple[str, dict[str, Any]]]:
        return [r for r in self.rows if key in repr(r[1])]


def test_sync_status_counts_the_standing_proposals_only() -> None:
    uow = FakeUnitOfWork()
    meta = mirrored.META
    uow.use(
        SchedulingQueries,
        FakeProposals(
            [
                ("a", {meta: {"status": "proposed"}}),
                ("b", {meta: {"status": "withdrawn"}, "note": "was proposed"}),  # mentions it, is not one
                ("c", {meta: {"status": "proposed"}}),
                ("d", {"other": {"status": "proposed"}}),
            ]
        ),
    )
    assert mirrored.proposals(uow) == {"proposed": 2, "appointment_ids": ["a", "c"]}
    assert mirrored.proposals(uow, limit=1) == {"proposed": 2, "appointment_ids": ["a"]}


class FakeTicks:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, datetime], JobTickRow] = {}

    def insert(self, job_id: str, tick: datetime, holder: str, outcome: str) -> bool:
        if (job_id, tick) in self.rows:
            return False
        self.rows[job_id, tick] = JobTickRow(job_id=job_id, tick_at=tick, holder=holder, outcome=outcome)
        return True


def test_a_tick_is_claimed_by_one_holder_and_the_loser_commits_nothing() -> None:
    uow, ticks = FakeUnitOfWork(), FakeTicks()
    uow.use(JobTicks, ticks)
    assert claim(uow, "prune", T0, "host-a:1" + "x" * 80) is True
    assert claim(uow, "prune", T0, "host-b:2") is False
    assert uow.commits == 1
    row = ticks.rows[("prune", T0)]
    assert row.holder == ("host-a:1" + "x" * 80)[:64] and row.outcome == "running"
