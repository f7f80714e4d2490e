"""Schemathesis against the live server, on SQLite and PostgreSQL: no 5xx, every response as documented.

Every operation of ``/api/openapi.json`` (``/api/v1``, the OLS API, health) is one test per backend,
sent to a real waitress server with the admin token. Generation is bounded and derandomized (a fixed
seed, no example database), so a run is reproducible.

One server per backend serves the whole module (a fresh one per operation cost more time than the
requests); each operation gets freshly seeded appointments, a webhook, a feed token and an
availability exception, written through the services in-process (what those POSTs would do, without
the HTTP round trips). Random ids only ever reach 404s, so a hook turns about half of the
schema-valid cases into requests that can succeed: ids that exist, times in open slots, known time
zones. Each operation must then answer 2xx at least once (bar the few listed in ``NO_SUCCESS``),
so success responses are checked against the document too, not only problems. Schema-invalid
(negative) cases are left as generated: they must get a 4xx.

The end of the module pins what schemathesis found, as plain requests.
"""

from __future__ import annotations

import itertools
import json
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from caldav_bridge.converters import converter_names
from caldav_bridge.model.feeds import FeedTokenDraft
from caldav_bridge.model.requests import AppointmentDraft
from caldav_bridge.model.timestamps import format_timestamp
from caldav_bridge.runtime import Runtime
from caldav_bridge.scheduling import availability, calendar_rules
from caldav_bridge.scheduling.rules import ExceptionDraft, Purpose, SchedulingOptions
from caldav_bridge.selfbooking import links
from caldav_bridge.selfbooking.keys import service_key
from caldav_bridge.selfbooking.model import LinkDraft
from caldav_bridge.services import appointments, feed_tokens, users
from caldav_bridge.services.actor import Actor, system_actor
from caldav_bridge.store.migrate import upgrade
from caldav_bridge.webhooks import subscriptions
from caldav_bridge.webhooks.destinations import insecure_hosts
from caldav_bridge.webhooks.model import SubscriptionDraft
from config import load_settings
from feeds.app import create_app
from feeds.runtime import runtime as app_runtime
from tests.conftest import BACKENDS, TEMPLATE, People
from tests.scheduling.conftest import World, build_world
from tests.support.factories import appointment_body, iso
from tests.support.live import LiveServer, serve
from tests.support.postgres import PostgresServer
from tests.unit.test_model import BRIEF

#: Cases per operation (half made usable by the hook below). 25 cost 173 s of CPU for the module (pytest -n 2,
#: 121 s wall), 12 cost 125 s (95 s wall); with the fixed seed every operation still gets its 2xx on both backends.
MAX_EXAMPLES = 12
SEED = 20240611
OPPORTUNITY = "0069E00000SchemaQA"
NY, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")
#: Where consultant A's seeds go (days of the world): from week 3, eight weeks (the API's window is 62 days at most).
CONSULTANT_SEED_DAYS = (21, 77)
#: Operations that generated requests cannot make succeed, and why.
NO_SUCCESS = {
    "POST /api/v1/sync/dead-letters/{id}/retry": "there are no dead letters without a failing Salesforce",
    "POST /api/v1/messages/{id}/retry": "there are no dead-letter messages without a failing mail server",
}


def _document() -> dict[str, Any]:
    """The document as the app serves it (it does not depend on the database)."""
    app = create_app(load_settings(environ={}, database_url="sqlite://"))
    document: dict[str, Any] = app.test_client().get("/api/openapi.json").get_json()
    with app.app_context():
        app_runtime().close()
    return document


DOCUMENT = _document()
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        # Cross-field rules (end after start, a calendar that exists, a free slot) are not JSON Schema:
        # a schema-valid request may rightly get a 422 or 409. Success is checked per operation instead.
        "checks": {"positive_data_acceptance": {"enabled": False}},
        # The coverage phase sends every boundary value of the schema; its schema-violating half (one
        # mutation per field, unbounded by max-examples) would triple the run, and the fuzzing phase
        # sends schema-violating requests too. The findings it made are pinned at the end of this module.
        "phases": {"coverage": {"generation": {"mode": "positive"}, "unexpected-methods": ["TRACE", "PUT"]}},
    }
)
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


# --------------------------------------------------------------------------- the server


@dataclass
class _Site:
    """One live server per backend for the module, with an organisation to book in.

    The seeds of each operation are written through the services in-process, as the admin token's actor on
    the API channel: the handlers of those POSTs only call the same services, and the HTTP round trips
    (client and server) cost more than the writes (a fifth of the module's CPU went into seeding over HTTP).
    """

    server: LiveServer
    token: str
    world: World
    actor: Actor

    @property
    def runtime(self) -> Runtime:
        return self.server.runtime

    def create(self, body: dict[str, Any]) -> str:
        """An appointment as ``POST /api/v1/appointments`` makes it; its id."""
        made = appointments.create(self.runtime.uow(), self.actor, AppointmentDraft.model_validate(body))
        return str(made.appointment.id)


@pytest.fixture(scope="module", params=BACKENDS)
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Site]:
    folder = tmp_path_factory.mktemp("schemathesis")
    pg: PostgresServer | None = None
    name = "s_" + uuid.uuid4().hex[:16]
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'appointments.db'}"
    else:
        pg = request.getfixturevalue("pg_server")
        url = pg.create_database(name, TEMPLATE)
    rt = Runtime.from_settings(
        load_settings(
            environ={},
            database_url=url,
            data_dir=str(Path(folder) / "data"),
            webhook_insecure_hosts="127.0.0.1",
            refusal_limit_per_minute=1_000_000,  # every generated bad request gets its own answer, not a 429
        )
    )
    try:
        upgrade(rt.engine)
        users.add_user(rt.uow(), "admin", "admin")
        token = users.issue_token(rt.uow(), "admin", ("admin",)).secret
        world = build_world(rt)
        actor = users.actor_for_token(rt.uow(), token, "api")
        with serve(rt) as server:
            served = server.client().get("/api/openapi.json")
            assert served.status_code == 200
            assert served.json() == DOCUMENT, "the document under test is not the one the server serves"
            yield _Site(server, token, world, actor)
    finally:
        rt.close()
        if pg is not None:
            pg.drop_database(name)


@dataclass
class _Target:
    """What the hooks may use for the operation under test, and the statuses it got."""

    site: _Site
    initial_ids: list[str]  # INITIAL appointments on a consultant's calendar (INITIAL or RESERVED)
    fitting_ids: list[str]  # FOLLOW_UP appointments on a fitter's calendar
    webhook_ids: list[str]
    feed_token_ids: list[str]
    exception_dates: list[str]
    booking_link_ids: list[str]
    past_ids: list[str]  # a FOLLOW_UP that has started (only those can be marked a no-show)
    labels: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    #: A weekly series on a fitter's calendar (as a CalDAV client's write keeps it) and its occurrences' starts.
    series_id: str = ""
    recurrence_ids: list[str] = field(default_factory=list)

    @property
    def appointment_ids(self) -> list[str]:
        return self.initial_ids + self.fitting_ids


_CURRENT: list[_Target] = []


def _at(day: date, clock: int, zone: ZoneInfo) -> str:
    return iso(datetime.combine(day, time(clock), tzinfo=zone))


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _weekday(world: World, n: int) -> date:
    """The ``n``-th weekday (Monday to Friday) from the world's first Monday."""
    return world.day(7 * (n // 5) + n % 5)


@pytest.fixture
def target(site: _Site) -> Iterator[_Target]:
    """Fresh appointments (in slots no earlier operation used), a webhook, a feed token, a day off."""
    rt, actor, world, n = site.runtime, site.actor, site.world, next(_ITEMS)
    initial_ids, fitting_ids = [], []
    start: datetime | None = None
    for k, status in enumerate(("BOOKED", "RESERVED", "INITIAL")):
        # consultants: the first free hour from week 3 on (the booking hook uses weeks 0 to 2), as the server
        # offers it: days off that earlier operations gave consultant A must not hold a seed (the RESERVED one
        # could not be confirmed there). A seed placed by the operation counter drifted into them once one
        # xdist worker had run most of the module before the confirm operation.
        start = _consultant_slot(site, start)
        body = appointment_body(
            world.c1, status=status, guests=[], date_start=iso(start), date_end=iso(start + timedelta(hours=1))
        )
        body["meta"]["salesforce"]["opportunity_gid"] = OPPORTUNITY
        initial_ids.append(site.create(body))
        slot = 3 * n + k
        # fitters: from week 3 on, four 90-minute slots a day in Berlin; with every operation the seeds move
        # later, into the weeks the booking hooks use, so those ask the server for a free slot (_free_slot)
        day, hour = _weekday(world, 15 + slot // 4), (8, 10, 14, 16)[slot % 4]
        body = appointment_body(
            world.f1, guests=[], date_start=_at(day, hour, BERLIN), date_end=_at(day, hour + 1, BERLIN)
        )
        body["meta"] = {"type": "FOLLOW_UP", "salesforce": {"opportunity_gid": OPPORTUNITY}}
        fitting_ids.append(site.create(body))
    settings = rt.settings
    subscription = {"url": "http://127.0.0.1:9/hook", "events": ["appointment.created"]}
    allowed = insecure_hosts(settings.webhook_insecure_hosts)
    hook = subscriptions.create(rt.uow(), actor, SubscriptionDraft.model_validate(subscription), insecure_hosts=allowed)
    feed = feed_tokens.issue(rt.uow(), actor, world.f1, FeedTokenDraft(name="seed"), settings.public_url)
    holiday = world.day(100 + n).isoformat()
    calendar_rules.put_exception(
        rt.uow(), actor, world.f1, ExceptionDraft.model_validate({"date": holiday, "hours": []})
    )
    draft = LinkDraft.model_validate({"team_id": world.consultants, "name": "seed"})
    link = links.issue(rt.uow(), actor, draft, settings.public_url, key=service_key(settings))
    began = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1, minutes=n)
    past = site.create(
        appointment_body(world.f1, guests=[], date_start=iso(began), date_end=iso(began + timedelta(hours=1)))
    )
    current = _Target(site, initial_ids, fitting_ids, [hook.id], [feed.token.id], [holiday], [link.link.id], [past])
    current.series_id, current.recurrence_ids = _seed_series(site, _weekday(world, 15 + n))
    _CURRENT.append(current)
    yield current
    _CURRENT.remove(current)
    _unsubscribe_all(site)
    for label in current.labels:
        if label not in NO_SUCCESS and not any(200 <= status < 300 for status in current.statuses):
            pytest.fail(f"{label}: no request got a 2xx, so no success response was checked: {dict(current.statuses)}")


def _unsubscribe_all(site: _Site) -> None:
    """Every webhook subscription goes with its operation (the seeded one, any a generated POST made).

    Each appointment written queues a delivery per subscription in its transaction: kept, the module's
    subscriptions (one more per operation) made every later write, seeds and generated requests, slower and
    slower. The next operation seeds its own.
    """
    for subscription in subscriptions.list_subscriptions(site.runtime.uow(), site.actor):
        subscriptions.delete(site.runtime.uow(), site.actor, subscription.id)


def _seed_series(site: _Site, day: date) -> tuple[str, list[str]]:
    """A weekly series of four at 12:00 Berlin from ``day``: ``meta.recurrence`` is only a CalDAV client's to
    write, so it is made through the service as the CalDAV channel."""
    start = datetime.combine(day, time(12), tzinfo=BERLIN)
    body = appointment_body(site.world.f1, guests=[], date_start=iso(start), date_end=iso(start + timedelta(hours=1)))
    body["meta"] = {"type": "FOLLOW_UP", "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=4", "timezone": "Europe/Berlin"}}
    made = appointments.create(site.server.runtime.uow(), system_actor("caldav"), AppointmentDraft.model_validate(body))
    starts = [(start + timedelta(weeks=k)).astimezone(UTC) for k in range(4)]
    return str(made.appointment.id), [format_timestamp(s) for s in starts]


_ITEMS = itertools.count()
_DRAWS = itertools.count()
FORMATS = list(converter_names())


# --------------------------------------------------------------------------- usable values


@schema.hook("map_case")
def usable_values(ctx: Any, case: Any) -> Any:
    """Half of the schema-valid cases get values that exist on the server (see the module doc).

    A map, not a flatmap to ``st.just``: that made and validated a new strategy per case, a sixth of the
    generating thread's CPU. (Hypothesis's mutations follow the drawn structure, so the MAX_EXAMPLES cases of an
    operation are other ones than the flatmap's, as many, as reproducible.) The coverage phase's cases are
    made at collection, before any operation's seeds: this leaves them alone, as the flatmap did.
    """
    if not _CURRENT or case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return case
    # Every other case, by a counter rather than drawn data: derandomized hypothesis may draw the
    # same few choices for a whole operation, and the same slot twice is a 409 the second time.
    draw = next(_DRAWS)
    return case if draw % 2 else _usable(case, _CURRENT[-1], draw // 2)


def _usable(case: Any, current: _Target, draw: int) -> Any:
    path, world, rnd = case.operation.path, current.site.world, random.Random(draw)
    params = dict(case.path_parameters or {})
    if "id" in params:
        params["id"] = rnd.choice(_id_pool(path, current))
    if "token_id" in params:
        params["token_id"] = rnd.choice(current.feed_token_ids)
    if "date" in params:
        params["date"] = rnd.choice(current.exception_dates)
    if "opportunity_gid" in params:
        params["opportunity_gid"] = OPPORTUNITY
    if "recurrence_id" in params:
        params["recurrence_id"] = rnd.choice(current.recurrence_ids)
    if "format" in params:
        params["format"] = "canonical" if path.startswith("/api/v1/import") else rnd.choice(FORMATS)
    case.path_parameters = params
    headers = dict(case.headers or {})
    if "Idempotency-Key" in headers:
        # A key is one request per token (docs/api.md): a key another operation of the run drew first answers 422
        # to every later case with it; derandomized, the same few keys came back in CI until no case could succeed.
        headers["Idempotency-Key"] = f"usable-{uuid.uuid4().hex}"
        case.headers = headers
    if path == "/api/v1/availability" and isinstance(case.query, dict):
        day = world.day(rnd.randrange(5))
        case.query = {"team_id": world.consultants, "type": "INITIAL", "from": _at(day, 0, NY), "to": _at(day, 23, NY)}
    fix = _BODIES.get(case.method.upper() + " " + path)
    if isinstance(case.body, dict):
        case.body = fix(dict(case.body), current, draw) if fix else _plain_body(path, dict(case.body), current, rnd)
    return case


def _id_pool(path: str, current: _Target) -> list[str]:
    world = current.site.world
    if "{token_id}" in path or "{date}" in path:
        return [world.f1]  # the calendar of the seeded feed token and day off
    if path.startswith("/api/v1/calendars"):
        return [world.c1, world.f1, world.consultants, world.tech]
    if path.startswith("/api/v1/webhooks"):
        return current.webhook_ids
    if path.startswith("/api/v1/booking-links"):
        return current.booking_link_ids
    if path.endswith("/no-show"):
        return current.past_ids
    if path.startswith("/api/v1/bookings/{id}/tech-setup"):
        # the BOOKED one: a hold or an unconfirmed INITIAL has no tech-setup call to schedule (409); drawn among all
        # three, about one run in eight sent every valid body to those two and no request could succeed
        return current.initial_ids[:1]
    if path.startswith("/api/v1/bookings/{id}/confirm"):
        return current.initial_ids[1:2]  # the RESERVED one: only a hold can be confirmed (drawn among all, rarely)
    if path.startswith("/api/v1/bookings/{id}/reschedule"):
        return current.fitting_ids
    if path.startswith("/api/v1/sync"):
        return ["0"]
    if "/occurrences/" in path:
        return [current.series_id]
    return current.appointment_ids


def _plain_body(path: str, body: dict[str, Any], current: _Target, rnd: random.Random) -> dict[str, Any]:
    """Known-good values for the keys that a random value almost never gets right."""
    world = current.site.world
    if not path.startswith("/ols/") and ("date_start" in body or "date_end" in body):
        # week 14, 15:00 Berlin: within both the fitters' hours and the consultants' (10:00 New York)
        day = _weekday(world, 70 + rnd.randrange(5))
        body["date_start"], body["date_end"] = _at(day, 15, BERLIN), _at(day, 16, BERLIN)
    if isinstance(body.get("calendar"), dict):
        body["calendar"] = {"id": rnd.choice([world.c1, world.f1])}
    if isinstance(body.get("guests"), list):
        body["guests"] = []
    if path == "/api/v1/calendars":
        body.update(timezone="Europe/Berlin", owner_username=None, team_id=None)
    if path.startswith("/ols/"):
        day = world.day(40 + rnd.randrange(20))
        body.update(date_v2=_at(day, 9, BERLIN), date=None, date_end=None, type="FITTING", status="scheduled")
        body.pop("calendar_id", None)  # a name of null is left as generated: it means "not sent"
    if path == "/api/v1/appointments/{id}" and isinstance(body.get("meta"), dict):
        body["meta"] = {"source": "schemathesis"}  # a random merge patch of ``meta`` rarely leaves a valid one
    if path.startswith("/api/v1/appointments"):
        body.pop("status", None)  # most status changes are not allowed transitions
    return body


def _initial_booking(body: dict[str, Any], current: _Target, draw: int) -> dict[str, Any]:
    world = current.site.world  # consultants: weeks 0 to 2, 09:00-16:00 New York, one after the other
    start = _at(_weekday(world, draw // 8 % 15), 9 + draw % 8, NY)
    return {
        **body,
        "team_id": world.consultants,
        "calendar_id": None,
        "tech_setup_team_id": None,
        "date_start": start,
        "date_end": None,
        "guests": [],
        "meta": {"salesforce": {"opportunity_gid": OPPORTUNITY}},
    }


def _first_slot(site: _Site, calendar_id: str, purpose: str, days: tuple[int, int]) -> str:
    """The first slot ``calendar_id`` offers for ``purpose`` between two days of the world, as the availability
    API says (its service, in-process).

    Asked, not computed: the seeds of earlier operations, their bookings and their days off move through
    the calendars' weeks in an order that depends on which operations ran before (under xdist it varies),
    so a slot picked by formula is sometimes taken.
    """
    start, end = (_midnight(site.world.day(d)) for d in days)
    slots = _slots(site, calendar_id, purpose, start, end)
    assert slots, f"{calendar_id} has no {purpose} slot left from day {days[0]} to day {days[1]}"
    return format_timestamp(slots[0].start)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=BERLIN).astimezone(UTC)


def _slots(site: _Site, calendar_id: str, purpose: str, start: datetime, end: datetime) -> list[availability.Slot]:
    query = availability.AvailabilityQuery(Purpose(purpose), start, end, calendar_id=calendar_id)
    options = SchedulingOptions.from_settings(site.runtime.settings)
    return availability.availability(site.runtime.uow(), site.actor, query, options).slots


def _consultant_slot(site: _Site, taken: datetime | None) -> datetime:
    """The first hour consultant A offers in the seed weeks; ``taken``: the one the previous seed was just given.

    The same answer as :func:`_first_slot` over all the seed weeks, in a week's window where it can: a new
    appointment only takes slots away, so after ``taken`` was the first, the next first one is not on an
    earlier day, and the first slot of a shorter window is the first of the longer one if there is one (the
    cost of availability grows with the window: eight weeks, three times per operation, was a quarter of the
    seeding's CPU).
    """
    if taken is not None:
        start = _midnight(taken.astimezone(BERLIN).date())
        last = _midnight(site.world.day(CONSULTANT_SEED_DAYS[1]))
        slots = _slots(site, site.world.c1, "INITIAL", start, min(start + timedelta(days=7), last))
        if slots:
            return slots[0].start
    return datetime.fromisoformat(_first_slot(site, site.world.c1, "INITIAL", CONSULTANT_SEED_DAYS))


def _free_slot(current: _Target, purpose: str) -> str:
    """The first slot fitter A offers for ``purpose`` in weeks 11 to 14."""
    return _first_slot(current.site, current.site.world.f1, purpose, (77, 105))


def _follow_on_booking(purpose: str) -> Callable[[dict[str, Any], _Target, int], dict[str, Any]]:
    def fix(body: dict[str, Any], current: _Target, draw: int) -> dict[str, Any]:
        return {
            **body,
            "appointment_id": current.initial_ids[draw % len(current.initial_ids)],
            "calendar_id": current.site.world.f1,
            "team_id": None,
            "date_start": _free_slot(current, purpose),
            "date_end": None,
        }

    return fix


def _reschedule_booking(body: dict[str, Any], current: _Target, draw: int) -> dict[str, Any]:
    # The seeded fitter appointments (the ids drawn) are FOLLOW_UPs of an hour, kept by a null date_end.
    return {**body, "date_start": _free_slot(current, "FOLLOW_UP"), "date_end": None}


def _follow_up(body: dict[str, Any], current: _Target, draw: int) -> dict[str, Any]:
    """A free hour of fitter A's, asked of the server: the plain bodies' five fixed hours were all taken by earlier
    operations in CI's full run (every case 409 or 422, none 2xx); the generated name, description and overlap
    switch are kept."""
    start = datetime.fromisoformat(_free_slot(current, "FOLLOW_UP"))
    when = {"date_start": iso(start), "date_end": iso(start + timedelta(hours=1))}
    return {**body, **when, "calendar": {"id": current.site.world.f1}}


def _tech_setup(body: dict[str, Any], current: _Target, draw: int) -> dict[str, Any]:
    return {**body, "team_id": current.site.world.tech}


def _rules(body: dict[str, Any], current: _Target, draw: int) -> dict[str, Any]:
    hours = [{"start": "08:00", "end": "18:00"}]
    return {
        "weekly_hours": {day: hours for day in ("mon", "tue", "wed", "thu", "fri")},
        "durations": {"FITTING": 90, "FOLLOW_UP": 60},
        "slot_step_minutes": 30,
        "horizon_days": 120,
    }


def _exception(body: dict[str, Any], current: _Target, draw: int) -> dict[str, Any]:
    return {"date": current.site.world.day(60 + draw % 30).isoformat(), "hours": [], "reason": None}


def _webhook(body: dict[str, Any], current: _Target, draw: int) -> dict[str, Any]:
    return {**body, "url": "http://127.0.0.1:9/hook", "secret": None}


def _booking_link(body: dict[str, Any], current: _Target, draw: int) -> dict[str, Any]:
    """A team link for the consultants, or a personal one for the seeded opportunity (every other draw)."""
    personal = draw % 2 == 1
    return {
        **body,
        "team_id": current.site.world.consultants,
        "kind": "personal" if personal else "team",
        "purpose": "INITIAL",
        "name": body.get("name") if isinstance(body.get("name"), str) and body["name"].strip() else "generated",
        "expires_at": None,
        "salesforce": {"opportunity_gid": OPPORTUNITY} if personal else {},
    }


def _canonical_import(body: dict[str, Any], current: _Target, draw: int) -> dict[str, Any]:
    day = _weekday(current.site.world, 70 + draw % 5)
    return {
        **BRIEF,
        "id": str(uuid.UUID(int=draw + 1)),
        "calendar": {"id": current.site.world.f1},
        "status": "BOOKED",
        "date_start": _at(day, 9, BERLIN),
        "date_end": _at(day, 10, BERLIN),
    }


_BODIES: dict[str, Callable[[dict[str, Any], _Target, int], dict[str, Any]]] = {
    "POST /api/v1/import/{format}": _canonical_import,
    "POST /api/v1/bookings/initial": _initial_booking,
    "POST /api/v1/bookings/fitting": _follow_on_booking("FITTING"),
    "POST /api/v1/bookings/follow-up": _follow_on_booking("FOLLOW_UP"),
    "POST /api/v1/bookings/{id}/reschedule": _reschedule_booking,
    "POST /api/v1/bookings/{id}/tech-setup": _tech_setup,
    "POST /api/v1/appointments/{id}/follow-ups": _follow_up,
    "PUT /api/v1/calendars/{id}/availability-rules": _rules,
    "POST /api/v1/calendars/{id}/availability-exceptions": _exception,
    "POST /api/v1/webhooks": _webhook,
    "POST /api/v1/booking-links": _booking_link,
}


# --------------------------------------------------------------------------- the test


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # no proxy, netrc or CA bundle from the environment: looked up per request
        yield session


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_operation_conforms(case: Any, target: _Target, session: requests.Session) -> None:
    target.labels.add(f"{case.operation.method.upper()} {case.operation.path}")
    headers = {"Authorization": f"Bearer {target.site.token}"}
    sent = case.as_transport_kwargs(base_url=target.site.server.base_url, headers=headers)
    response = session.request(**sent, timeout=30)
    target.statuses[response.status_code] += 1
    case.validate_response(response, headers=headers)


# --------------------------------------------------------------------------- what schemathesis found

NUL = "a\x00b"


def _raw(body: str) -> dict[str, Any]:
    return {"data": body.encode(), "headers": {"Content-Type": "application/json"}}


FOUND: list[tuple[str, str, str, Callable[[str], dict[str, Any]], str]] = [
    # (case, method, path, request kwargs for a calendar id, the field the problem names)
    (
        "NUL in a body string (PostgreSQL refuses it)",
        "POST",
        "/api/v1/appointments",
        lambda cal: {"json": appointment_body(cal, name=NUL)},
        "name",
    ),
    (
        "NUL in a body key",
        "POST",
        "/api/v1/appointments",
        lambda cal: {"json": appointment_body(cal, meta={"type": "INITIAL", NUL: 1})},
        "meta.a\x00b",
    ),
    (
        "unpaired surrogate in a body string",
        "POST",
        "/api/v1/appointments",
        lambda cal: _raw(json.dumps(appointment_body(cal, name="\ud800"))),  # sent as the escape \ud800
        "name",
    ),
    (
        "NUL in an OLS body",
        "POST",
        "/ols/appointments",
        lambda cal: {"json": {"type": "FITTING", "date_v2": "2026-12-01T16:00:00Z", "opportunity_gid": NUL}},
        "opportunity_gid",
    ),
    (
        "NaN is not JSON",
        "POST",
        "/api/v1/appointments",
        lambda cal: _raw(json.dumps(appointment_body(cal, meta={"type": "INITIAL", "score": float("nan")}))),
        "(body)",
    ),
    (
        "nesting deeper than any appointment",
        "POST",
        "/api/v1/appointments",
        lambda cal: _raw(
            json.dumps(appointment_body(cal)).replace('"source"', '"deep": ' + "[" * 5000 + "]" * 5000 + ', "x"')
        ),
        "(body)",
    ),
    (
        "NUL in a query parameter",
        "GET",
        "/api/v1/appointments",
        lambda cal: {"params": {"guest_id": NUL}},
        "query.guest_id",
    ),
    (
        "NUL in an OLS query parameter",
        "GET",
        "/ols/appointments",
        lambda cal: {"params": {"customer_gid": NUL}},
        "query.customer_gid",
    ),
    ("NUL in a path parameter", "GET", "/api/v1/appointments/a%00b", lambda cal: {}, "id"),
    (
        "a path parameter longer than the document allows",
        "GET",
        "/ols/opportunities/" + "x" * 65 + "/appointments",
        lambda cal: {},
        "opportunity_gid",
    ),
    (
        "an Idempotency-Key longer than the document allows",
        "POST",
        "/api/v1/appointments",
        lambda cal: {"json": appointment_body(cal), "headers": {"Idempotency-Key": "k" * 256}},
        "Idempotency-Key",
    ),
    (
        "a time before the first representable instant",
        "GET",
        "/api/v1/appointments",
        lambda cal: {"params": {"from": "0001-01-01T00:00:00+01:00"}},
        "query.from",
    ),
]


#: Bodies that are not JSON at all: a 400 "malformed request body" (everything else in FOUND is a 422).
MALFORMED = frozenset({"NaN is not JSON", "nesting deeper than any appointment"})


@pytest.mark.parametrize(("case", "method", "path", "kwargs", "field"), FOUND, ids=[f[0] for f in FOUND])
def test_what_schemathesis_found_is_a_problem_naming_the_field(
    live: LiveServer,
    people: People,
    case: str,
    method: str,
    path: str,
    kwargs: Callable[[str], dict[str, Any]],
    field: str,
) -> None:
    """Each answer is a problem document whose ``type`` is a page this server serves, naming the field."""
    api = live.client(people.admin.token)
    response = api.request(method, path, **kwargs(people.fitter.calendar_id or ""))
    expected = 400 if case in MALFORMED else 422
    assert response.status_code == expected, (case, response.text)
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == expected and problem["title"], problem
    assert problem["type"].startswith(live.base_url + "/problems/"), problem["type"]
    assert requests.get(problem["type"], timeout=10).status_code == 200, problem["type"]
    assert field in [error["field"] for error in problem["errors"]], (case, problem)
    assert api.get("/api/v1/appointments").json()["items"] == [], "nothing is written"


def test_every_operation_but_the_public_ones_needs_a_token(live: LiveServer) -> None:
    """401 before anything else (validation ran first: a caller without a token learnt about the body)."""
    checked, clients = 0, {token: live.client(token) for token in (None, "not-a-token")}
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            if operation.get("security") == []:
                continue
            url = path.replace("{", "").replace("}", "")  # {id} -> id: some id that does not exist
            for token, client in clients.items():
                response = client.request(method, url, data=b"{not json", headers={"Content-Type": "application/json"})
                assert response.status_code == 401, (method, path, token, response.text)
                assert response.headers["Content-Type"] == "application/problem+json"
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
            checked += 1
    assert checked >= 40
