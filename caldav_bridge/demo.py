"""The demo data set: fitters in several time zones, consultants, a tech-setup team, customers,
and a few weeks of appointments of every type and status.

Seeding is idempotent: users, calendars and appointments have fixed names or ids, and whatever
exists already is left alone. Demo secrets are derived from a random seed kept in the data
directory (mode 0600), so they can be printed again without being stored in the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from caldav_bridge.clock import utcnow
from caldav_bridge.credentials import TOKEN_PREFIX, hash_password, token_digest
from caldav_bridge.model.queries import AppointmentFilters, ListedKind
from caldav_bridge.model.requests import AppointmentDraft, AppointmentPatch, CancelRequest, RescheduleRequest
from caldav_bridge.services import appointments
from caldav_bridge.services.actor import Actor, system_actor
from caldav_bridge.store.private_files import private_once
from caldav_bridge.store.tables import ApiTokenRow, CalendarRow, FeedTokenRow, UserRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["DEMO_USERS", "DemoResult", "DemoUser", "seed_demo"]

_NS = uuid.UUID("6f1c9a52-3a7e-4c55-9d0e-0d5bde1a0c11")


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: str
    timezone: str | None = None
    scopes: tuple[str, ...] = ("read", "write")
    team: str | None = None


TEAM = "Tech setup team"
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "Ada Admin", "admin", scopes=("admin",)),
    DemoUser("dispatcher", "Dana Dispatcher", "dispatcher"),
    DemoUser("fitter-cockpit", "Fitter cockpit (service)", "service"),
    DemoUser("fitter.denver", "Frank Fitter (Denver)", "fitter", "America/Denver"),
    DemoUser("fitter.newyork", "Fiona Fitter (New York)", "fitter", "America/New_York"),
    DemoUser("fitter.berlin", "Felix Fitter (Berlin)", "fitter", "Europe/Berlin"),
    DemoUser("consultant.miami", "Carla Consultant (Miami)", "consultant", "America/New_York"),
    DemoUser("consultant.phoenix", "Carl Consultant (Phoenix)", "consultant", "America/Phoenix"),
    DemoUser("tech.anna", "Anna Tech", "tech_setup", "America/Chicago", team=TEAM),
    DemoUser("tech.ben", "Ben Tech", "tech_setup", "America/Chicago", team=TEAM),
)
_CUSTOMERS = (
    ("cust-1001", "Margaret", "Hughes", "America/New_York"),
    ("cust-1002", "Walter", "Brennan", "America/Denver"),
    ("cust-1003", "José", "Núñez", "America/Chicago"),
    ("cust-1004", "Eleanor", "Park", "America/Los_Angeles"),
    ("cust-1005", "Günther", "Schäfer", "Europe/Berlin"),
    ("cust-1006", "Ruth", "Okafor", "America/New_York"),
    ("cust-1007", "Harold", "Lindqvist", "America/Phoenix"),
    ("cust-1008", "Dorothy", "Castillo", "America/Denver"),
)
_KIND = {"fitter": "fitter", "consultant": "consultant", "tech_setup": "tech_setup_member"}


@dataclass
class DemoResult:
    users: list[dict[str, Any]] = field(default_factory=list)
    appointments_created: int = 0
    appointments_total: int = 0


def seed_demo(uow: UnitOfWork, data_dir: str | os.PathLike[str], today: date | None = None) -> DemoResult:
    """Seed the demo data (idempotently) and describe the demo users with their secrets."""
    seed = _seed(Path(data_dir))
    result = DemoResult()
    with uow:
        now = utcnow()
        team = _calendar(uow, TEAM, "team", "America/Chicago", None, None, now)
        for spec in DEMO_USERS:
            user = uow.users.by_username(spec.username)
            if user is None:
                user = UserRow(
                    username=spec.username,
                    display_name=spec.display_name,
                    role=spec.role,
                    email=f"{spec.username}@demo.invalid",
                    active=True,
                    password_hash=hash_password(_secret(seed, "password", spec.username)),
                    created_at=now,
                    updated_at=now,
                )
                uow.users.add(user)
                uow.flush()
            token = _secret(seed, "token", spec.username)
            if uow.users.token_by_hash(token_digest(token)) is None:
                uow.users.add_token(
                    ApiTokenRow(
                        user_id=user.id,
                        name="demo",
                        token_hash=token_digest(token),
                        scopes=" ".join(spec.scopes),
                        created_at=now,
                    )
                )
            calendars = []
            if spec.role in _KIND and spec.timezone:
                cal = _calendar(
                    uow,
                    spec.display_name,
                    _KIND[spec.role],
                    spec.timezone,
                    user.id,
                    team.id if spec.team else None,
                    now,
                )
                calendars.append(_calendar_info(uow, seed, cal, now))
            result.users.append(
                {
                    "username": spec.username,
                    "role": spec.role,
                    "password": _secret(seed, "password", spec.username),
                    "token": token,
                    "scopes": list(spec.scopes),
                    "calendars": calendars,
                }
            )
        result.users.append(
            {
                "team": TEAM,
                "calendars": [_calendar_info(uow, seed, team, now)],
            }
        )
        uow.commit()
    _seed_appointments(uow, result, today or utcnow().date())
    return result


def _seed_appointments(uow: UnitOfWork, result: DemoResult, today: date) -> None:
    """Seed the appointments once: if the demo calendars hold any, a later run (even on another day) adds none.

    One transaction: all appointments created at once (``appointments.create_all_in``, the create path imports
    take), then each walked through its lifecycle by the same service calls a client's change makes, so every
    side effect of every step is written; a seed that fails leaves nothing behind for the next run to skip.
    """
    actor = system_actor("demo")
    by_name = {u["username"]: u for u in result.users if "username" in u}
    calendar_ids = [c["id"] for u in result.users for c in u["calendars"]]
    with uow:
        result.appointments_total = uow.appointments.count(
            AppointmentFilters(kind=ListedKind.ALL), calendar_ids=calendar_ids
        )
        if result.appointments_total:
            return
        plan = list(_plan(by_name, today))
        appointments.create_all_in(uow, actor, [(appointment_id, draft) for appointment_id, draft, _ in plan])
        for appointment_id, draft, final_status in plan:
            _move_to(uow, actor, appointment_id, final_status, draft)
        uow.commit()
    result.appointments_total = result.appointments_created = len(plan)


def demo_opportunity_gid(n: int) -> str:
    """The demo's n-th Opportunity id: well-formed like an org's (key prefix 006, 12 digits, case-safe suffix)."""
    return f"006{n:012d}AAA"


def demo_customer_gid(n: int) -> str:
    """The demo's n-th customer Contact id (key prefix 003)."""
    return f"003{n:012d}AAA"


#: Every Salesforce id the demo's appointments refer to (``serve --demo --salesforce-emulator`` puts them in the org).
DEMO_OPPORTUNITY_GIDS = tuple(demo_opportunity_gid(n) for n in range(1, 7 * 22 * 2 + 1))
DEMO_CUSTOMER_GIDS = tuple(demo_customer_gid(n) for n in range(8))


def _plan(users: dict[str, dict[str, Any]], today: date) -> Iterator[tuple[str, AppointmentDraft, str]]:
    """(id, draft, final status) of every demo appointment, deterministic for a given ``today``."""
    roles = [
        ("consultant.miami", "INITIAL"),
        ("consultant.phoenix", "INITIAL"),
        ("tech.anna", "TECH_SETUP"),
        ("tech.ben", "TECH_SETUP"),
        ("fitter.denver", "FOLLOW_UP"),
        ("fitter.newyork", "FOLLOW_UP"),
        ("fitter.berlin", "FOLLOW_UP"),
    ]
    counter = 0
    for username, kind in roles:
        calendar = users[username]["calendars"][0]
        zone = ZoneInfo(calendar["timezone"])
        for offset in range(-7, 15):
            day = today + timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            for hour in (9, 14):
                counter += 1
                cust = _CUSTOMERS[counter % len(_CUSTOMERS)]
                start = datetime.combine(day, time(hour, 0), zone)
                length = 30 if kind == "TECH_SETUP" else 60
                appointment_id = str(uuid.uuid5(_NS, f"{username}/{day.isoformat()}/{hour}"))
                opp = demo_opportunity_gid(counter)
                label = {"INITIAL": "Consultation", "TECH_SETUP": "Tech setup call", "FOLLOW_UP": "Fitting follow-up"}[
                    kind
                ]
                draft = AppointmentDraft.model_validate(
                    {
                        "calendar": {"id": calendar["id"]},
                        "date_start": start,
                        "date_end": start + timedelta(minutes=length),
                        "name": f"{label} w/{cust[1]} {cust[2][0]}.",
                        "description": "Demo appointment. Bring the customer's audiogram.",
                        "guests": [{"id": cust[0], "first_name": cust[1], "last_name": cust[2], "timezone": cust[3]}],
                        "meta": {
                            "type": kind,
                            "salesforce": {"opportunity_gid": opp, "customer_gid": demo_customer_gid(counter % 8)},
                            "demo_id": appointment_id,
                        },
                    }
                )
                yield appointment_id, draft, _status_for(offset, counter)


def _status_for(offset: int, counter: int) -> str:
    if counter % 11 == 0:
        return "CANCELLED"
    if counter % 7 == 0:
        return "RESCHEDULED"
    if offset < 0:
        return "BOOKED"
    return ("INITIAL", "RESERVED", "BOOKED")[counter % 3]


def _move_to(uow: UnitOfWork, actor: Actor, appointment_id: str, status: str, draft: AppointmentDraft) -> None:
    """Walk a new (INITIAL) appointment through the lifecycle to ``status`` in ``uow``'s open transaction, leaving
    real history."""
    if status == "RESERVED":
        appointments.update_in(uow, actor, appointment_id, AppointmentPatch.model_validate({"status": "RESERVED"}))
    elif status == "BOOKED":
        appointments.book_in(uow, actor, appointment_id)
    elif status == "CANCELLED":
        appointments.cancel_in(uow, actor, appointment_id, CancelRequest(reason="Customer asked to cancel"))
    elif status == "RESCHEDULED":
        later = timedelta(days=1)
        request = RescheduleRequest(
            date_start=draft.date_start + later,
            date_end=draft.date_end + later,
            reason="Customer asked for the next day",
        )
        appointments.reschedule_in(uow, actor, appointment_id, request)


def _calendar(
    uow: UnitOfWork, name: str, kind: str, zone: str, owner: str | None, team: str | None, now: datetime
) -> CalendarRow:
    row = uow.calendars.find(name, kind)
    if row is None:
        row = CalendarRow(
            id=str(uuid.uuid5(_NS, f"calendar/{name}")),
            name=name,
            kind=kind,
            timezone=zone,
            owner_user_id=owner,
            team_id=team,
            created_at=now,
            updated_at=now,
        )
        uow.calendars.add(row)
        uow.flush()
    return row


def _calendar_info(uow: UnitOfWork, seed: bytes, cal: CalendarRow, now: datetime) -> dict[str, Any]:
    """A demo calendar as printed, with the secret of its demo feed token (created once, minimal privacy)."""
    secret = feed_secret(seed, cal.id)
    if uow.feeds.token_by_hash(token_digest(secret)) is None:
        uow.feeds.add_token(
            FeedTokenRow(
                calendar_id=cal.id, name="demo", token_hash=token_digest(secret), privacy="minimal", created_at=now
            )
        )
    return {"id": cal.id, "name": cal.name, "timezone": cal.timezone, "kind": cal.kind, "feed_secret": secret}


def feed_secret(seed: bytes, calendar_id: str) -> str:
    """The demo feed secret of a calendar: derived from the demo seed, so it can be printed again (192 bits)."""
    digest = hmac.new(seed, f"feed:{calendar_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def _seed(data_dir: Path) -> bytes:
    return bytes.fromhex(private_once(data_dir / "demo-secrets.seed", secrets.token_hex(32).encode()).decode().strip())


def _secret(seed: bytes, purpose: str, username: str) -> str:
    digest = hmac.new(seed, f"{purpose}:{username}".encode(), hashlib.sha256).hexdigest()
    if purpose == "token":
        return TOKEN_PREFIX + "demo_" + digest[:40]
    return "demo-" + digest[:16]
