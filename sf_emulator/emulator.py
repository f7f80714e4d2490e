"""A small Salesforce REST emulator over a real loopback socket, for the unmodified simple-salesforce client.

It speaks: SOAP login and the OAuth token endpoint (password, JWT bearer, client credentials);
``query``/``queryAll`` with ``nextRecordsUrl`` paging (small pages by default); sObject CRUD;
upsert by external id (201 created, 200 updated, 300 on duplicates); sObject Collections upsert,
update and delete; ``updated``/``deleted``; ``limits``; the ``Sforce-Limit-Info`` header; and a
small SOQL subset (``SELECT … FROM … [WHERE …] [ORDER BY …] [LIMIT n]`` with AND/OR/NOT,
parentheses, ``= != < <= > >= IN``) that compares datetimes as datetimes.

simple-salesforce builds ``https://`` URLs; :class:`RedirectSession` sends them (login hosts too)
to this plain-HTTP server on 127.0.0.1 instead (notes/salesforce.md §3.3, option B).

Fault injection (:meth:`SalesforceEmulator.inject`, :meth:`SalesforceEmulator.random_faults`):
``expire`` (401 INVALID_SESSION_ID, all tokens invalidated), ``limit`` (403 REQUEST_LIMIT_EXCEEDED),
``unavailable`` (503 HTML), ``slow`` (answers after a delay, so the client times out), ``lost``
(the write is applied but the answer is a 503), and per-record validation errors (records whose
Subject contains :data:`INVALID_MARK`).

Org features the sync has to cope with:

- Recurring Events (classic recurrence): creating an Event with ``IsRecurrence`` true and a pattern
  (``RecurrenceStartDateTime``, ``RecurrenceEndDateOnly``, ``RecurrenceType`` ``RecursDaily`` /
  ``RecursEveryWeekday`` / ``RecursWeekly`` with ``RecurrenceDayOfWeekMask``, ``RecurrenceInterval``,
  ``RecurrenceTimeZoneSidKey``, ``DurationInMinutes``) stores the series master and creates its
  occurrences (``RecurrenceActivityId`` = the master, at most 100), as Salesforce does; deleting
  or undeleting the master does the same to its occurrences; the series fields of an existing
  record cannot be changed (400 INVALID_FIELD_FOR_INSERT_UPDATE).
- Shared Activities (``shared_activities``, on by default): an Event written with ``EventWhoIds``
  gets one EventRelation per Who (``IsInvitee``/``IsWhat`` false, ``IsParent`` true) and its first
  Who as ``WhoId``; a ``WhoId`` alone relates that Who. With the feature off, ``EventWhoIds`` and
  EventRelation's ``IsWhat``/``IsParent`` are unknown fields (400 INVALID_FIELD), as in such orgs.
- AssignedResource has ``IsPrimaryResource`` unless ``primary_resource_field`` is off.
"""

from __future__ import annotations

import bisect
import itertools
import json
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import requests
from flask import Flask, Response, request
from werkzeug.serving import make_server

from caldav_bridge.salesforce.gateway import TimeoutSession
from sf_emulator.org import OrgShape, WriteError, make_id, normalise_id

__all__ = [
    "INVALID_MARK",
    "DemoFitter",
    "Fault",
    "RedirectSession",
    "SalesforceEmulator",
    "running_emulator",
    "seed_demo",
]

VERSION = "59.0"
INVALID_MARK = "[[invalid]]"
#: Key prefix of every object the emulated org stores (from the describe fixture).
PREFIXES = {name: d["keyPrefix"] for name, d in OrgShape().objects.items()}
#: Fields that define a classic recurring series (on the master only).
SERIES_PATTERN = {
    "IsRecurrence",
    "RecurrenceStartDateTime",
    "RecurrenceEndDateOnly",
    "RecurrenceType",
    "RecurrenceInterval",
    "RecurrenceDayOfWeekMask",
    "RecurrenceDayOfMonth",
    "RecurrenceInstance",
    "RecurrenceMonthOfYear",
    "RecurrenceTimeZoneSidKey",
    "RecurrenceActivityId",
}
MAX_OCCURRENCES = 100
WRITABLE_SYSTEM = {"Id", "IsDeleted", "SystemModstamp", "CreatedDate", "LastModifiedDate", "attributes"}


def _derive_all_day(record: dict[str, Any]) -> None:
    """An all-day Event as Salesforce stores it: ``ActivityDate`` (else the date of ``StartDateTime``) is the
    first day; ``StartDateTime`` and ``EndDateTime`` are midnight GMT of the first and last days (a time of
    day given is dropped); ``DurationInMinutes`` is 1440 per day; with neither end nor duration, one day."""
    first = date.fromisoformat(str(record.get("ActivityDate") or record["StartDateTime"])[:10])
    if record.get("EndDateTime"):
        last = parse_time(str(record["EndDateTime"])).date()
    elif record.get("DurationInMinutes"):
        last = first + timedelta(days=max(1, -(-int(record["DurationInMinutes"]) // 1440)) - 1)
    else:
        last = first
    last = max(last, first)
    midnight = datetime.min.time()
    record["ActivityDate"] = first.isoformat()
    record["StartDateTime"] = sf_time(datetime.combine(first, midnight, UTC))
    record["EndDateTime"] = sf_time(datetime.combine(last, midnight, UTC))
    record["DurationInMinutes"] = ((last - first).days + 1) * 1440
    record["ActivityDateTime"] = None


def sf_time(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ----------------------------------------------------------------------------------------- SOQL


class SoqlError(ValueError):
    pass


class InvalidField(SoqlError):
    """A field this org does not have (400 INVALID_FIELD)."""


class InvalidType(SoqlError):
    """An object this org does not have (400 INVALID_TYPE)."""


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|<>|=|<|>|\(|\)|,)|(?P<word>[A-Za-z_][\w.]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SoqlError(f"unexpected input at {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


@dataclass
class Query:
    fields: list[str]
    sobject: str
    where: Callable[[dict[str, Any]], bool] | None
    order: list[tuple[str, bool]]
    limit: int | None
    #: Field names the WHERE clause reads.
    names: list[str] = field(default_factory=list)


def _literal(kind: str, value: str) -> Any:
    if kind == "str":
        return value[1:-1].replace("\\'", "'").replace("\\\\", "\\")
    if kind == "dt":
        return parse_time(value)
    if kind == "num":
        return float(value) if "." in value else int(value)
    low = value.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if low == "null":
        return None
    raise SoqlError(f"not a literal: {value}")


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(right, datetime) and isinstance(left, str):
        left = parse_time(left)
    if op == "=":
        return bool(left == right)
    if op in ("!=", "<>"):
        return bool(left != right)
    if left is None or right is None:
        return False
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.t = tokens
        self.i = 0
        self.names: list[str] = []

    def peek(self) -> tuple[str, str] | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise SoqlError("unexpected end of query")
        self.i += 1
        return tok

    def word(self, *expected: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].upper() in expected:
            self.i += 1
            return True
        return False

    def expect_op(self, op: str) -> None:
        kind, value = self.take()
        if kind != "op" or value != op:
            raise SoqlError(f"expected {op!r}, got {value!r}")

    def parse(self) -> Query:
        if not self.word("SELECT"):
            raise SoqlError("expected SELECT")
        fields = [self.take()[1]]
        while self.peek() == ("op", ","):
            self.take()
            fields.append(self.take()[1])
        if not self.word("FROM"):
            raise SoqlError("expected FROM")
        sobject = self.take()[1]
        where = self.expr() if self.word("WHERE") else None
        order: list[tuple[str, bool]] = []
        if self.word("ORDER"):
            if not self.word("BY"):
                raise SoqlError("expected BY")
            while True:
                name = self.take()[1]
                desc = False
                if self.word("DESC"):
                    desc = True
                else:
                    self.word("ASC")
                order.append((name, desc))
                if self.peek() == ("op", ","):
                    self.take()
                    continue
                break
        limit = None
        if self.word("LIMIT"):
            limit = int(self.take()[1])
        if self.peek() is not None:
            raise SoqlError(f"unexpected {self.peek()}")
        return Query(fields, sobject, where, order, limit, self.names)

    def expr(self) -> Callable[[dict[str, Any]], bool]:
        parts = [self.term()]
        while self.word("OR"):
            parts.append(self.term())
        if len(parts) == 1:
            return parts[0]
        bounds = [_lower(p) for p in parts]
        low = min(bounds) if all(b is not None for b in bounds) else None  # type: ignore[type-var]
        return _bounded(lambda r: any(p(r) for p in parts), low)

    def term(self) -> Callable[[dict[str, Any]], bool]:
        parts = [self.factor()]
        while self.word("AND"):
            parts.append(self.factor())
        if len(parts) == 1:
            return parts[0]
        bounds = [b for b in (_lower(p) for p in parts) if b is not None]
        return _bounded(lambda r: all(p(r) for p in parts), max(bounds) if bounds else None)

    def factor(self) -> Callable[[dict[str, Any]], bool]:
        if self.word("NOT"):
            inner = self.factor()
            return lambda r: not inner(r)
        if self.peek() == ("op", "("):
            self.take()
            inner = self.expr()
            self.expect_op(")")
            return inner
        name = self.take()[1]
        self.names.append(name)
        if self.word("IN"):
            self.expect_op("(")
            values = []
            while True:
                values.append(_literal(*self.take()))
                if self.peek() == ("op", ","):
                    self.take()
                    continue
                break
            self.expect_op(")")
            allowed = set(values)
            return lambda r: r.get(name) in allowed
        kind, op = self.take()
        if kind != "op":
            raise SoqlError(f"expected an operator after {name}")
        value = _literal(*self.take())
        low = value if name == "SystemModstamp" and op in (">", ">=", "=") and isinstance(value, datetime) else None
        return _bounded(lambda r: _compare(r.get(name), op, value), low)


def _nulls_last(name: str) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
    """A sort key on field ``name`` putting records without a value last (ascending), as SOQL's ORDER BY does."""

    def key(record: dict[str, Any]) -> tuple[bool, Any]:
        value = record.get(name)
        return value is None, value if value is not None else ""

    return key


def _bounded(predicate: Callable[[dict[str, Any]], bool], low: datetime | None) -> Callable[[dict[str, Any]], bool]:
    """Mark ``predicate`` with a lower bound on SystemModstamp that every matching record meets."""
    predicate.sf_lower = low  # type: ignore[attr-defined]
    return predicate


def _lower(predicate: Callable[[dict[str, Any]], bool]) -> datetime | None:
    low: datetime | None = getattr(predicate, "sf_lower", None)
    return low


def parse_soql(text: str) -> Query:
    return _Parser(_tokens(text)).parse()


# ----------------------------------------------------------------------------------------- faults


@dataclass
class Fault:
    """``kind`` on requests whose path matches ``path`` (regex) and method, ``count`` times (None: forever)."""

    kind: str
    path: str = r"/services/data/"
    method: str | None = None
    count: int | None = 1
    delay: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and re.search(self.path, path) is not None


@dataclass
class Stats:
    calls: int = 0
    logins: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    by_path: dict[str, int] = field(default_factory=dict)
    #: Objects queried, in order (``FROM`` of every query and queryAll).
    queried: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------- emulator


class SalesforceEmulator:
    """In-memory Salesforce org plus a Flask app serving it; thread-safe."""

    def __init__(
        self,
        *,
        page_size: int = 200,
        api_limit: int = 1_000_000,
        validate_duration: bool = True,
        clock_offset: timedelta = timedelta(0),
    ) -> None:
        self.page_size = page_size
        #: The org's daily API request limit; every ``/services/data`` call but ``/limits`` counts.
        self.api_limit = api_limit
        self.api_used = 0
        #: Objects, fields, picklists and the integration user's permissions (``sf_emulator/org.py``).
        self.org = OrgShape()
        self.validate_duration = validate_duration
        self.lock = threading.RLock()
        self.objects: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in PREFIXES}
        self.tokens: set[str] = set()
        self.cursors: dict[str, list[dict[str, Any]]] = {}
        self.indexes: dict[tuple[str, str], dict[Any, set[str]]] = {}
        #: Per object, ``(SystemModstamp, Id)`` sorted: the query path's index.
        self.order: dict[str, list[tuple[datetime, str]]] = {}
        self._status_categories: dict[str, str] = {}
        self.faults: list[Fault] = []
        self.random_rate = 0.0
        self.random_kinds: tuple[str, ...] = ()
        self.rng = random.Random(0)
        self.stats = Stats()
        self.counter = itertools.count(1)
        self.host = ""
        self.base_url = ""  # http://127.0.0.1:<port> once served (running_emulator)
        self._last_stamp = datetime(2000, 1, 1, tzinfo=UTC)
        #: Extra seconds added to every new SystemModstamp (a test may move the org's clock).
        self.clock_offset = clock_offset
        #: Whole-second SystemModstamps, so many records share one (as in a real org).
        self.second_resolution = True
        self.username = "integration@example.com"
        self.password = "secret-password"
        self.security_token = "TOKEN"
        self.consumer_key = "consumer-key"
        self.consumer_secret = "consumer-secret"
        #: Event id → its EventRelation ids (the relation path's index).
        self.relations_of: dict[str, list[str]] = {}
        self.app = self._build_app()
        #: The integration user every login answers with (owner of records created without OwnerId).
        self.integration_user = self._insert(
            "User",
            {
                "FirstName": "Integration",
                "LastName": "User",
                "Name": "Integration User",
                "Username": self.username,
                "Email": self.username,
                "IsActive": True,
                "TimeZoneSidKey": "UTC",
            },
        )

    # ------------------------------------------------------------------ org shape

    @property
    def shared_activities(self) -> bool:
        """ "Allow Users to Relate Multiple Contacts to Tasks and Events" (EventWhoIds, EventRelation.IsWhat)."""
        return self.org.shared_activities

    @shared_activities.setter
    def shared_activities(self, on: bool) -> None:
        self.org.shared_activities = on

    @property
    def primary_resource_field(self) -> bool:
        """AssignedResource.IsPrimaryResource exists (API 47+, Field Service)."""
        return self.org.primary_resource_field

    @primary_resource_field.setter
    def primary_resource_field(self, on: bool) -> None:
        self.org.primary_resource_field = on

    @property
    def status_categories(self) -> dict[str, str]:
        """ServiceAppointment Status (label) → StatusCategory; unlisted labels are their own category.
        Setting it adds the labels to the org's Status picklist, as an admin adding statuses does."""
        return self._status_categories

    @status_categories.setter
    def status_categories(self, mapping: dict[str, str]) -> None:
        self._status_categories = dict(mapping)
        self.org.add_picklist_values("ServiceAppointment", "Status", mapping)

    # ------------------------------------------------------------------ data (also the tests' hands)

    def new_id(self, sobject: str) -> str:
        """An 18-character id with the object's key prefix and the case-safe suffix."""
        return make_id(PREFIXES[sobject], 36 * 62**4 + next(self.counter))

    def exists(self, sobject: str, rid: str) -> bool:
        record = self.objects.get(sobject, {}).get(rid)
        return record is not None and not record["IsDeleted"]

    def stamp(self) -> datetime:
        now = datetime.now(UTC) + self.clock_offset
        if self.second_resolution:
            now = now.replace(microsecond=0)
        if now < self._last_stamp:
            now = self._last_stamp
        self._last_stamp = now
        return now

    def _store(self, sobject: str) -> dict[str, dict[str, Any]]:
        if sobject not in self.objects:
            raise KeyError(sobject)
        return self.objects[sobject]

    def _derive(self, sobject: str, record: dict[str, Any]) -> None:
        """Fields Salesforce computes: a ServiceAppointment's StatusCategory follows its Status; a person's Name
        is first and last name; an Event's end follows its duration and the other way round."""
        if sobject == "ServiceAppointment" and "Status" in record:
            status = record.get("Status") or "None"
            record["StatusCategory"] = self.status_categories.get(status, status)
        if sobject in ("User", "Contact", "Lead") and record.get("LastName"):
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record["LastName"]) if p)
        if sobject == "Event" and record.get("IsAllDayEvent") is True and not record.get("IsRecurrence"):
            _derive_all_day(record)
        elif sobject == "Event" and record.get("StartDateTime") and not record.get("IsRecurrence"):
            start = parse_time(str(record["StartDateTime"]))
            if not record.get("EndDateTime") and record.get("DurationInMinutes") is not None:
                record["EndDateTime"] = sf_time(start + timedelta(minutes=int(record["DurationInMinutes"])))
            if record.get("EndDateTime"):
                end = parse_time(str(record["EndDateTime"]))
                record["DurationInMinutes"] = int((end - start).total_seconds() // 60)
            record["ActivityDateTime"] = record["StartDateTime"]

    def _restamp(self, sobject: str, record: dict[str, Any], *also: str) -> None:
        self._order_remove(sobject, record)
        record["SystemModstamp"] = self.stamp()
        for name in also:
            record[name] = record["SystemModstamp"]
        self._order_add(sobject, record)

    # The query path's index: each object's (SystemModstamp, Id) in order, so the mirror's keyset
    # queries (ORDER BY SystemModstamp, Id with a SystemModstamp lower bound) read one page, not all.

    def _order_add(self, sobject: str, record: dict[str, Any]) -> None:
        bisect.insort(self.order.setdefault(sobject, []), (record["SystemModstamp"], record["Id"]))

    def _order_remove(self, sobject: str, record: dict[str, Any]) -> None:
        keys = self.order.get(sobject, [])
        key = (record["SystemModstamp"], record["Id"])
        i = bisect.bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            del keys[i]

    def create(self, sobject: str, fields: dict[str, Any], *, rid: str | None = None) -> str:
        """A record the org already holds (a test's data): fields must exist, references resolve,
        picklists and lengths hold; read-only fields may be set and required ones left out.
        ``rid`` gives it a known id (well-formed, with the object's key prefix, not yet used)."""
        clean = {k: v for k, v in fields.items() if k not in WRITABLE_SYSTEM}
        if rid is not None:
            full = normalise_id(rid)
            if full is None or not full.startswith(PREFIXES[sobject]) or full in self.objects[sobject]:
                raise WriteError("MALFORMED_ID", f"{sobject} ID: {rid} is not a free {sobject} id")
            rid = full
        with self.lock:
            checked = self.org.check_write(sobject, clean, creating=True, exists=self.exists, as_api=False)
            self._check_unique(sobject, checked, None)
            return self._insert(sobject, {**fields, **checked}, rid=rid)

    def _insert(self, sobject: str, fields: dict[str, Any], *, rid: str | None = None) -> str:
        with self.lock:
            store = self._store(sobject)
            rid = rid or self.new_id(sobject)
            now = self.stamp()
            whos = fields.get("EventWhoIds") if sobject == "Event" else None
            record = {
                **self.org.defaults(sobject),
                "OwnerId": self.integration_user if hasattr(self, "integration_user") else None,
            }
            if not self.org.has_field(sobject, "OwnerId"):
                record.pop("OwnerId")
            record.update({k: v for k, v in fields.items() if k not in WRITABLE_SYSTEM and k != "EventWhoIds"})
            record.update(Id=rid, IsDeleted=False, SystemModstamp=now, CreatedDate=now, LastModifiedDate=now)
            if sobject == "Event" and whos and not record.get("WhoId"):
                record["WhoId"] = whos[0]
            self._derive(sobject, record)
            store[rid] = record
            self._index(sobject, record, None)
            self._order_add(sobject, record)
            if sobject == "Event":
                self._relate_whos(record, whos, None)
                if record.get("IsRecurrence") is True:
                    self._expand_series(record)
            return rid

    def update(self, sobject: str, rid: str, fields: dict[str, Any]) -> None:
        with self.lock:
            record = self._store(sobject)[rid]
            old = dict(record)
            whos = fields.get("EventWhoIds") if sobject == "Event" else None
            record.update({k: v for k, v in fields.items() if k not in WRITABLE_SYSTEM and k != "EventWhoIds"})
            if sobject == "Event" and whos and "WhoId" not in fields:
                record["WhoId"] = whos[0]
            self._derive(sobject, record)
            self._index(sobject, record, old)
            self._restamp(sobject, record, "LastModifiedDate")
            if sobject == "Event":
                self._relate_whos(record, whos, old.get("WhoId"))

    def delete(self, sobject: str, rid: str) -> None:
        with self.lock:
            record = self._store(sobject)[rid]
            record["IsDeleted"] = True
            self._restamp(sobject, record, "DeletedDate")
            for occurrence in self._occurrences(sobject, rid):
                if not occurrence["IsDeleted"]:
                    occurrence["IsDeleted"] = True
                    self._restamp(sobject, occurrence, "DeletedDate")

    def undelete(self, sobject: str, rid: str) -> None:
        with self.lock:
            record = self._store(sobject)[rid]
            record["IsDeleted"] = False
            record.pop("DeletedDate", None)
            self._restamp(sobject, record)
            for occurrence in self._occurrences(sobject, rid):
                if occurrence["IsDeleted"]:
                    occurrence["IsDeleted"] = False
                    occurrence.pop("DeletedDate", None)
                    self._restamp(sobject, occurrence)

    # -- recurring Events and Shared Activities

    def _occurrences(self, sobject: str, master_id: str) -> list[dict[str, Any]]:
        if sobject != "Event" or self.objects["Event"][master_id].get("IsRecurrence") is not True:
            return []
        return [r for r in self.objects["Event"].values() if r.get("RecurrenceActivityId") == master_id]

    def _expand_series(self, master: dict[str, Any]) -> None:
        """Create the occurrences of a classic recurring series, at the pattern's wall time in its zone."""
        zone = ZoneInfo(master.get("RecurrenceTimeZoneSidKey") or "UTC")
        first = parse_time(master["RecurrenceStartDateTime"]).astimezone(zone)
        last_day = date.fromisoformat(str(master["RecurrenceEndDateOnly"])[:10])
        duration = timedelta(minutes=int(master.get("DurationInMinutes") or 60))
        interval = max(1, int(master.get("RecurrenceInterval") or 1))
        mask = int(master.get("RecurrenceDayOfWeekMask") or 0)
        kind = master.get("RecurrenceType")
        master["StartDateTime"] = sf_time(first)
        master["EndDateTime"] = sf_time(first + duration)
        copied = {
            k: v
            for k, v in master.items()
            if k not in SERIES_PATTERN
            and k not in WRITABLE_SYSTEM
            and k not in ("StartDateTime", "EndDateTime", "Appointment_Service_Id__c")
        }
        day, made = first.date(), 0
        while day <= last_day and made < MAX_OCCURRENCES:
            offset = (day - first.date()).days
            if kind == "RecursDaily":
                wanted = offset % interval == 0
            elif kind == "RecursEveryWeekday":
                wanted = day.weekday() < 5
            else:  # RecursWeekly: Sunday = 1, Monday = 2, … Saturday = 64
                wanted = (offset // 7) % interval == 0 and bool(mask & (1 << ((day.weekday() + 1) % 7)))
            if wanted:
                start = datetime.combine(day, first.timetz().replace(tzinfo=None), zone)
                self._insert(
                    "Event",
                    {
                        **copied,
                        "IsRecurrence": False,
                        "RecurrenceActivityId": master["Id"],
                        "StartDateTime": sf_time(start),
                        "EndDateTime": sf_time(start + duration),
                    },
                )
                made += 1
            day += timedelta(days=1)

    def _relate_whos(self, event: dict[str, Any], whos: list[str] | None, old_who: str | None) -> None:
        """Keep the Event's Who relations (Shared Activities): exactly ``whos`` when given, else follow WhoId."""
        if not self.shared_activities:
            return
        relations = self._who_relations(event["Id"])
        if whos is not None:
            wanted = list(dict.fromkeys(whos))
        else:
            wanted = list(relations)
            if old_who and old_who != event.get("WhoId") and old_who in wanted:
                wanted.remove(old_who)
            if event.get("WhoId") and event["WhoId"] not in wanted:
                wanted.insert(0, event["WhoId"])
        for who, relation in relations.items():
            if who not in wanted:
                self.delete("EventRelation", relation["Id"])
        for who in wanted:
            if who not in relations:
                relation_id = self._insert(
                    "EventRelation",
                    {"EventId": event["Id"], "RelationId": who, "IsInvitee": False, "IsWhat": False, "IsParent": True},
                )
                self.relations_of.setdefault(event["Id"], []).append(relation_id)

    def _who_relations(self, event_id: str) -> dict[str, dict[str, Any]]:
        store = self.objects["EventRelation"]
        found = (store[i] for i in self.relations_of.get(event_id, ()))
        return {r["RelationId"]: r for r in found if not r["IsDeleted"] and r.get("IsInvitee") is False}

    def relate(self, event_id: str, who_id: str, *, touch_event: bool = True) -> str | None:
        """Add one Who to an Event: as the UI's "add a contact" does (the Event is saved too), or with
        ``touch_event`` false as an API insert of the EventRelation alone (only that row changes)."""
        with self.lock:
            current = list(self._who_relations(event_id))
            if touch_event:
                self.update("Event", event_id, {"EventWhoIds": [*current, who_id]})
                return None
            relation = self._insert(
                "EventRelation",
                {"EventId": event_id, "RelationId": who_id, "IsInvitee": False, "IsWhat": False, "IsParent": True},
            )
            self.relations_of.setdefault(event_id, []).append(relation)
            return relation

    def purge(self, sobject: str, rid: str) -> None:
        """Empty the recycle bin for one record: it is gone without a trace (reconcile's case)."""
        with self.lock:
            record = self._store(sobject).pop(rid)
            self._order_remove(sobject, record)
            for (obj, name), index in self.indexes.items():
                if obj == sobject and record.get(name) is not None:
                    index.get(record[name], set()).discard(rid)

    def get(self, sobject: str, rid: str) -> dict[str, Any]:
        with self.lock:
            return dict(self._store(sobject)[rid])

    def live(self, sobject: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self._store(sobject).values() if not r["IsDeleted"]]

    def inject(self, kind: str, **kwargs: Any) -> Fault:
        fault = Fault(kind, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def random_faults(
        self, rate: float, kinds: tuple[str, ...] = ("unavailable", "lost", "expire"), seed: int = 0
    ) -> None:
        with self.lock:
            self.random_rate, self.random_kinds, self.rng = rate, kinds, random.Random(seed)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self.random_rate = 0.0

    # ------------------------------------------------------------------ HTTP

    def _build_app(self) -> Flask:
        app = Flask("salesforce-emulator")
        data = f"/services/data/v{VERSION}"
        app.add_url_rule("/services/Soap/u/<version>", view_func=self.soap_login, methods=["POST"])
        app.add_url_rule("/services/oauth2/token", view_func=self.oauth_token, methods=["POST"])
        app.add_url_rule(f"{data}/query/", view_func=self.query, methods=["GET"])
        app.add_url_rule(f"{data}/queryAll/", view_func=self.query, methods=["GET"])
        app.add_url_rule(f"{data}/query/<locator>", view_func=self.query_more, methods=["GET"])
        app.add_url_rule(f"{data}/queryAll/<locator>", view_func=self.query_more, methods=["GET"])
        app.add_url_rule(f"{data}/limits/", view_func=self.limits, methods=["GET"])
        app.add_url_rule(f"{data}/composite/sobjects", view_func=self.collections, methods=["POST", "PATCH", "DELETE"])
        app.add_url_rule(f"{data}/composite", view_func=self.composite, methods=["POST"])
        app.add_url_rule(f"{data}/composite/", view_func=self.composite, methods=["POST"], endpoint="composite_")
        app.add_url_rule(
            f"{data}/composite/sobjects/<sobject>/<field_name>", view_func=self.collections_upsert, methods=["PATCH"]
        )
        app.add_url_rule(f"{data}/sobjects/<sobject>/", view_func=self.sobject_create, methods=["POST"])
        app.add_url_rule(f"{data}/sobjects", view_func=self.describe_global, methods=["GET"])
        app.add_url_rule(
            f"{data}/sobjects/", view_func=self.describe_global, methods=["GET"], endpoint="describe_global_"
        )
        app.add_url_rule(f"{data}/sobjects/<sobject>/describe", view_func=self.describe, methods=["GET"])
        app.add_url_rule(
            f"{data}/sobjects/<sobject>/describe/", view_func=self.describe, methods=["GET"], endpoint="describe_"
        )
        app.add_url_rule(f"{data}/sobjects/<sobject>/updated/", view_func=self.updated, methods=["GET"])
        app.add_url_rule(f"{data}/sobjects/<sobject>/deleted/", view_func=self.deleted, methods=["GET"])
        app.add_url_rule(
            f"{data}/sobjects/<sobject>/<rid>", view_func=self.sobject_record, methods=["GET", "PATCH", "DELETE"]
        )
        app.add_url_rule(
            f"{data}/sobjects/<sobject>/<field_name>/<path:value>",
            view_func=self.sobject_by_external,
            methods=["GET", "PATCH"],
        )
        app.before_request(self._before)
        app.after_request(self._after)
        return app

    def _json(self, data: Any, status: int = 200) -> Response:
        return Response(json.dumps(data, default=_default), status=status, mimetype="application/json")

    def _error(self, status: int, code: str, message: str) -> Response:
        return self._json([{"message": message, "errorCode": code, "fields": []}], status)

    def _before(self) -> Response | None:
        path = request.path
        with self.lock:
            self.stats.calls += 1
            key = re.sub(r"/[0-9A-Za-z]{18}(?=/|$)", "/{id}", path)
            self.stats.by_path[key] = self.stats.by_path.get(key, 0) + 1
            fault = self._take_fault(request.method, path)
        if fault is not None:
            self.stats.faults[fault.kind] = self.stats.faults.get(fault.kind, 0) + 1
            if fault.kind == "expire":
                with self.lock:
                    self.tokens.clear()
            elif fault.kind == "limit":
                return self._error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            elif fault.kind == "unavailable":
                return Response("<html><body>Service Unavailable</body></html>", status=503, mimetype="text/html")
            elif fault.kind == "slow":
                time.sleep(fault.delay or 2.0)
            elif fault.kind == "lost":
                request.environ["emulator.lost"] = True
        if path.startswith("/services/data/"):
            auth = request.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ").strip()
            with self.lock:
                known = token in self.tokens
            if not known:
                return self._error(401, "INVALID_SESSION_ID", "Session expired or invalid")
            if not path.rstrip("/").endswith("/limits"):  # /limits does not count against the limit
                with self.lock:
                    if self.api_used >= self.api_limit:
                        return self._error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                    self.api_used += 1
        return None

    def _take_fault(self, method: str, path: str) -> Fault | None:
        if path.startswith("/services/Soap") or path.startswith("/services/oauth2"):
            return None
        for fault in list(self.faults):
            if fault.matches(method, path):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                return fault
        if self.random_rate and path.startswith("/services/data/") and self.rng.random() < self.random_rate:
            kind = self.rng.choice(self.random_kinds)
            if kind == "lost" and method == "GET":
                kind = "unavailable"
            return Fault(kind)
        return None

    def _after(self, response: Response) -> Response:
        if request.environ.get("emulator.lost") and response.status_code < 300:
            # The write was applied; its answer is lost on the way back.
            response = Response("<html>upstream connect error</html>", status=503, mimetype="text/html")
        if request.path.startswith("/services/data/"):
            response.headers["Sforce-Limit-Info"] = f"api-usage={self.api_used}/{self.api_limit}"
        return response

    # -- login

    def issue_session(self) -> str:
        """A valid session id, as an existing session (``sf_auth=session``) would bring one."""
        return self._new_token()

    def _new_token(self) -> str:
        token = "00D000000000001!" + uuid.uuid4().hex
        with self.lock:
            self.tokens.add(token)
            self.stats.logins += 1
        return token

    def soap_login(self, version: str) -> Response:
        body = request.get_data(as_text=True)
        user = re.search(r"<n1:username>(.*?)</n1:username>", body)
        pwd = re.search(r"<n1:password>(.*?)</n1:password>", body)
        if not user or not pwd or user.group(1) != self.username or pwd.group(1) != self.password + self.security_token:
            fault = (
                '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
                ' xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>'
                "<faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, password, "
                "security token; or user locked out.</faultstring><detail><sf:LoginFault>"
                "<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>"
                "<sf:exceptionMessage>Invalid username, password, security token; or user locked out."
                "</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
            )
            return Response(fault, status=500, mimetype="text/xml")
        token = self._new_token()
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
            ' xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
            f"<serverUrl>https://{self.host}/services/Soap/u/{version}/00D000000000001</serverUrl>"
            f"<sessionId>{token}</sessionId><userId>{self.integration_user}</userId>"
            "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return Response(xml, status=200, mimetype="text/xml")

    def oauth_token(self) -> Response:
        form = request.form
        grant = form.get("grant_type", "")
        ok = False
        if grant == "client_credentials":
            auth = request.authorization
            ok = auth is not None and auth.username == self.consumer_key and auth.password == self.consumer_secret
        elif grant == "password":
            ok = form.get("client_id") == self.consumer_key and form.get("username") == self.username
        elif grant.endswith("jwt-bearer"):
            ok = bool(form.get("assertion"))
        if not ok:
            return self._json({"error": "invalid_grant", "error_description": "authentication failure"}, 400)
        token = self._new_token()
        return self._json(
            {
                "access_token": token,
                "instance_url": f"https://{self.host}",
                "id": f"https://{self.host}/id/00D000000000001/{self.integration_user}",
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
                "signature": "x",
            }
        )

    # -- query

    def _indexed(self, q: Query, include_deleted: bool) -> list[dict[str, Any]] | None:
        """The keyset query's answer from the (SystemModstamp, Id) index, or None when it does not apply."""
        if q.limit is None or q.order != [("SystemModstamp", False), ("Id", False)]:
            return None
        with self.lock:
            store = self._store(q.sobject)
            keys = self.order.get(q.sobject, [])
            if len(keys) != len(store):  # a test put records in by hand: scan instead
                return None
            low = _lower(q.where) if q.where is not None else None
            i = bisect.bisect_left(keys, (low, "")) if low is not None else 0
            out: list[dict[str, Any]] = []
            while i < len(keys) and len(out) < q.limit:
                r = store[keys[i][1]]
                i += 1
                if (include_deleted or not r["IsDeleted"]) and (q.where is None or q.where(r)):
                    out.append(r)
            return out

    def _select(self, soql: str, include_deleted: bool) -> list[dict[str, Any]]:
        q = parse_soql(soql)
        with self.lock:
            self.stats.queried.append(q.sobject)
        if q.sobject not in self.objects:
            raise InvalidType(f"sObject type '{q.sobject}' is not supported.")
        unknown = self.org.unknown_fields(q.sobject, [*q.fields, *q.names, *(n for n, _ in q.order)])
        if unknown:
            raise InvalidField(f"No such column '{unknown[0]}' on entity '{q.sobject}'")
        records = self._indexed(q, include_deleted)
        if records is None:
            with self.lock:
                records = list(self._store(q.sobject).values())
            if not include_deleted:
                records = [r for r in records if not r["IsDeleted"]]
            if q.where is not None:
                records = [r for r in records if q.where(r)]
            for name, desc in reversed(q.order):
                records.sort(key=_nulls_last(name), reverse=desc)
            if q.limit is not None:
                records = records[: q.limit]
        out = []
        for r in records:
            row: dict[str, Any] = {
                "attributes": {"type": q.sobject, "url": f"/services/data/v{VERSION}/sobjects/{q.sobject}/{r['Id']}"}
            }
            for name in q.fields:
                row[name] = r.get(name)
            out.append(row)
        return out

    def query(self) -> Response:
        try:
            rows = self._select(request.args.get("q", ""), include_deleted=request.path.endswith("/queryAll/"))
        except InvalidField as exc:
            return self._error(400, "INVALID_FIELD", str(exc))
        except InvalidType as exc:
            return self._error(400, "INVALID_TYPE", str(exc))
        except (SoqlError, KeyError) as exc:
            return self._error(400, "MALFORMED_QUERY", str(exc))
        return self._page(
            rows, 0, uuid.uuid4().hex[:15], "queryAll" if request.path.endswith("/queryAll/") else "query"
        )

    def _page(self, rows: list[dict[str, Any]], offset: int, locator: str, endpoint: str) -> Response:
        end = offset + self.page_size
        done = end >= len(rows)
        body: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": rows[offset:end]}
        if not done:
            with self.lock:
                self.cursors[locator] = rows
            body["nextRecordsUrl"] = f"/services/data/v{VERSION}/{endpoint}/{locator}-{end}"
        else:
            with self.lock:
                self.cursors.pop(locator, None)
        return self._json(body)

    def query_more(self, locator: str) -> Response:
        key, _, offset = locator.rpartition("-")
        with self.lock:
            rows = self.cursors.get(key)
        if rows is None or not offset.isdigit():
            return self._error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(rows, int(offset), key, "queryAll" if "/queryAll/" in request.path else "query")

    def limits(self) -> Response:
        return self._json(
            {
                "DailyApiRequests": {"Max": self.api_limit, "Remaining": max(0, self.api_limit - self.api_used)},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
                "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
            }
        )

    def composite(self) -> Response:
        """The Composite API for queries (``GET …/query/?q=`` and ``queryAll``): up to 25 subrequests in one
        call, which counts as one API request; each answers on its own (``httpStatusCode``, ``body``)."""
        body = request.get_json(force=True) or {}
        subs = body.get("compositeRequest") or []
        if not 0 < len(subs) <= 25:
            return self._error(400, "INVALID_INPUT", "a composite request holds 1 to 25 subrequests")
        out = []
        for sub in subs:
            parts = urlsplit(str(sub.get("url") or ""))
            ref = sub.get("referenceId")
            endpoint = parts.path.rstrip("/").rsplit("/", 1)[-1]
            if sub.get("method") != "GET" or endpoint not in ("query", "queryAll"):
                out.append(
                    {
                        "body": [{"errorCode": "INVALID_INPUT", "message": "only queries are emulated"}],
                        "httpHeaders": {},
                        "httpStatusCode": 400,
                        "referenceId": ref,
                    }
                )
                continue
            q = dict(parse_qsl(parts.query)).get("q", "")
            try:
                with self.lock:
                    self.stats.queried.append("composite")
                rows = self._select(q, include_deleted=endpoint == "queryAll")
            except InvalidField as exc:
                out.append(
                    {
                        "body": [{"errorCode": "INVALID_FIELD", "message": str(exc)}],
                        "httpHeaders": {},
                        "httpStatusCode": 400,
                        "referenceId": ref,
                    }
                )
                continue
            except (SoqlError, KeyError) as exc:
                out.append(
                    {
                        "body": [{"errorCode": "MALFORMED_QUERY", "message": str(exc)}],
                        "httpHeaders": {},
                        "httpStatusCode": 400,
                        "referenceId": ref,
                    }
                )
                continue
            page = rows[: self.page_size]
            out.append(
                {
                    "body": {"totalSize": len(rows), "done": len(rows) <= self.page_size, "records": page},
                    "httpHeaders": {},
                    "httpStatusCode": 200,
                    "referenceId": ref,
                }
            )
        return self._json({"compositeResponse": out})

    def describe(self, sobject: str) -> Response:
        if sobject not in self.objects:
            return self._error(404, "NOT_FOUND", f"The requested resource does not exist: sObject type '{sobject}'")
        return self._json(self.org.describe(sobject))

    def describe_global(self) -> Response:
        return self._json(self.org.describe_global())

    # -- records

    def _validate(self, sobject: str, fields: dict[str, Any]) -> tuple[str, str] | None:
        subject = fields.get("Subject")
        if isinstance(subject, str) and INVALID_MARK in subject:
            return "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Subject is not allowed by a validation rule"
        for start, end in (("StartDateTime", "EndDateTime"), ("SchedStartTime", "SchedEndTime")):
            if fields.get(start) and fields.get(end):
                try:
                    s, e = parse_time(fields[start]), parse_time(fields[end])
                except ValueError:
                    return "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{start}: bad datetime"
                if e < s:
                    return "FIELD_INTEGRITY_EXCEPTION", "End must be after start"
                if self.validate_duration and e - s > timedelta(days=14):
                    return "FIELD_INTEGRITY_EXCEPTION", "Event duration cannot exceed 14 days"
        return None

    def _write(
        self, sobject: str, fields: dict[str, Any], rid: str | None, *, dry_run: bool = False
    ) -> tuple[bool, str | None, bool, tuple[str, str] | None]:
        """Create (rid None) or update through the API, as the org's rules allow; returns (ok, id, created, error)."""
        with self.lock:
            try:
                checked = self._checked(sobject, fields, rid)
            except WriteError as exc:
                return False, rid, False, (exc.code, exc.message)
            problem = self._validate(sobject, checked) or self._validate_event(sobject, checked, rid)
            if problem:
                return False, rid, False, problem
            if dry_run:
                return True, rid, rid is None, None
            if rid is None:
                return True, self._insert(sobject, checked), True, None
            self.update(sobject, rid, checked)
            return True, rid, False, None

    def _checked(self, sobject: str, fields: dict[str, Any], rid: str | None) -> dict[str, Any]:
        """``fields`` as stored, or :class:`WriteError` (unknown or read-only field, bad reference, picklist,
        length, missing required field, duplicate unique value, the record missing or deleted)."""
        if rid is not None:
            record = self._store(sobject).get(rid)
            if record is None:
                raise WriteError("NOT_FOUND", "The requested resource does not exist")
            if record["IsDeleted"]:
                raise WriteError("ENTITY_IS_DELETED", "entity is deleted")
        checked = self.org.check_write(sobject, fields, creating=rid is None, exists=self.exists)
        self._check_unique(sobject, checked, rid)
        if sobject == "Event" and rid is None and not checked.get("IsRecurrence"):
            timed = checked.get("StartDateTime") or checked.get("ActivityDateTime")
            if not (timed or (checked.get("IsAllDayEvent") and checked.get("ActivityDate"))):
                raise WriteError("REQUIRED_FIELD_MISSING", "Required fields are missing: [ActivityDateTime]")
            all_day = checked.get("IsAllDayEvent") is True  # neither end nor duration: one day
            if (
                timed
                and not all_day
                and not (checked.get("EndDateTime") or checked.get("DurationInMinutes") is not None)
            ):
                raise WriteError("REQUIRED_FIELD_MISSING", "Required fields are missing: [DurationInMinutes]")
        return checked

    def _check_unique(self, sobject: str, fields: dict[str, Any], rid: str | None) -> None:
        for name in self.org.unique_fields(sobject):
            value = fields.get(name)
            if value is None:
                continue
            others = [r["Id"] for r in self._by_external(sobject, name, value) if r["Id"] != rid]
            if others:
                raise WriteError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {name} duplicates value on record with id: {others[0]}",
                    [name],
                )

    def _validate_event(self, sobject: str, fields: dict[str, Any], rid: str | None) -> tuple[str, str] | None:
        if sobject != "Event":
            return None
        if "EventWhoIds" in fields and not self.shared_activities:
            return "INVALID_FIELD", "No such column 'EventWhoIds' on sobject of type Event"
        if rid is not None and SERIES_PATTERN & set(fields):
            return "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: IsRecurrence, Recurrence*"
        if rid is None and fields.get("RecurrenceActivityId"):
            return "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: RecurrenceActivityId"
        if rid is None and fields.get("IsRecurrence") is True:
            try:
                parse_time(str(fields["RecurrenceStartDateTime"]))
                date.fromisoformat(str(fields["RecurrenceEndDateOnly"])[:10])
                ZoneInfo(str(fields.get("RecurrenceTimeZoneSidKey") or "UTC"))
            except (KeyError, ValueError):
                return "FIELD_INTEGRITY_EXCEPTION", "Recurrence start, end date and time zone are required"
            if fields.get("RecurrenceType") not in ("RecursDaily", "RecursEveryWeekday", "RecursWeekly"):
                return "FIELD_INTEGRITY_EXCEPTION", "RecurrenceType not supported by the emulator"
        return None

    def _by_external(self, sobject: str, field_name: str, value: str) -> list[dict[str, Any]]:
        with self.lock:
            index = self.indexes.get((sobject, field_name))
            if index is None:  # built on first use, then kept up to date by _index
                index = self.indexes[(sobject, field_name)] = {}
                for r in self._store(sobject).values():
                    if r.get(field_name) is not None:
                        index.setdefault(r[field_name], set()).add(r["Id"])
            store = self._store(sobject)
            return [store[i] for i in sorted(index.get(value, ())) if not store[i]["IsDeleted"]]

    def _index(self, sobject: str, record: dict[str, Any], old: dict[str, Any] | None) -> None:
        for (obj, name), index in self.indexes.items():
            if obj != sobject:
                continue
            if old is not None and old.get(name) is not None:
                index.get(old[name], set()).discard(record["Id"])
            if record.get(name) is not None:
                index.setdefault(record[name], set()).add(record["Id"])

    def sobject_create(self, sobject: str) -> Response:
        if sobject not in self.objects:
            return self._error(404, "NOT_FOUND", f"The requested resource does not exist: sObject type '{sobject}'")
        ok, rid, _, problem = self._write(sobject, request.get_json(force=True) or {}, None)
        if not ok:
            assert problem
            return self._error(400, *problem)
        return self._json({"id": rid, "success": True, "errors": []}, 201)

    def sobject_record(self, sobject: str, rid: str) -> Response:
        if sobject not in self.objects:
            return self._error(404, "NOT_FOUND", f"The requested resource does not exist: sObject type '{sobject}'")
        given, rid = rid, normalise_id(rid) or ""
        if not rid:
            return self._error(400, "MALFORMED_ID", f"{sobject} ID: id value of incorrect type: {given}")
        with self.lock:
            record = self.objects.get(sobject, {}).get(rid)
        if record is None or record["IsDeleted"]:
            return self._error(404, "NOT_FOUND", "The requested resource does not exist")
        if request.method == "GET":
            return self._json({"attributes": {"type": sobject}, **record})
        if request.method == "DELETE":
            self.delete(sobject, rid)
            return Response(status=204)
        ok, _, _, problem = self._write(sobject, request.get_json(force=True) or {}, rid)
        if not ok:
            assert problem
            return self._error(400, *problem)
        return Response(status=204)

    def sobject_by_external(self, sobject: str, field_name: str, value: str) -> Response:
        entry = self.org.field(sobject, field_name) if sobject in self.objects else None
        if entry is None or not (entry.get("externalId") or field_name == "Id"):
            return self._error(
                400, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field_name}"
            )
        matches = self._by_external(sobject, field_name, value)
        if len(matches) > 1:
            return self._json([f"/services/data/v{VERSION}/sobjects/{sobject}/{r['Id']}" for r in matches], 300)
        if request.method == "GET":
            if not matches:
                return self._error(404, "NOT_FOUND", "The requested resource does not exist")
            return self._json({"attributes": {"type": sobject}, **matches[0]})
        body = request.get_json(force=True) or {}
        if field_name in body:
            return self._error(400, "INVALID_FIELD", f"{field_name} specified more than once")
        body[field_name] = value
        ok, rid, created, problem = self._write(sobject, body, matches[0]["Id"] if matches else None)
        if not ok:
            assert problem
            return self._error(400, *problem)
        return self._json({"id": rid, "success": True, "errors": [], "created": created}, 201 if created else 200)

    def collections_upsert(self, sobject: str, field_name: str) -> Response:
        entry = self.org.field(sobject, field_name) if sobject in self.objects else None
        if entry is None or not entry.get("externalId"):
            return self._error(
                400,
                "INVALID_FIELD",
                f"Field name provided, {field_name} is not an External ID or indexed field for {sobject}",
            )
        body = request.get_json(force=True) or {}
        records = body.get("records") or []
        if len(records) > 200:
            return self._error(400, "EXCEEDED_ID_LIMIT", "record limit reached; cannot submit more than 200 records")
        results = []
        for record in records:
            fields = {k: v for k, v in record.items() if k != "attributes"}
            value = fields.get(field_name)
            if not value:
                results.append(_record_error(None, "MISSING_ARGUMENT", f"{field_name} not specified"))
                continue
            with self.lock:  # look-up and write as one step, as the unique external-id index makes it
                matches = self._by_external(sobject, field_name, value)
                if len(matches) > 1:
                    results.append(_record_error(None, "DUPLICATE_EXTERNAL_ID", "more than one record found"))
                    continue
                ok, rid, created, problem = self._write(sobject, fields, matches[0]["Id"] if matches else None)
            if ok:
                results.append({"id": rid, "success": True, "errors": [], "created": created})
            else:
                assert problem
                results.append(_record_error(rid, *problem))
        return self._json(results)

    def collections(self) -> Response:
        if request.method == "DELETE":
            ids = [i for i in (request.args.get("ids") or "").split(",") if i]
            if len(ids) > 200:
                return self._error(400, "EXCEEDED_ID_LIMIT", "cannot delete more than 200 records")
            results = []
            for given in ids:
                rid = normalise_id(given) or given
                sobject = next((o for o, p in PREFIXES.items() if rid.startswith(p)), "")
                with self.lock:
                    record = self.objects.get(sobject, {}).get(rid)
                if record is None:
                    results.append(_record_error(rid, "NOT_FOUND", "not found"))
                elif record["IsDeleted"]:
                    results.append(_record_error(rid, "ENTITY_IS_DELETED", "entity is deleted"))
                else:
                    self.delete(sobject, rid)
                    results.append({"id": rid, "success": True, "errors": []})
            return self._json(results)
        body = request.get_json(force=True) or {}
        records = body.get("records") or []
        if len(records) > 200:
            return self._error(400, "EXCEEDED_ID_LIMIT", "record limit reached; cannot submit more than 200 records")
        with self.lock:  # allOrNone: nothing is written unless every record would be
            if body.get("allOrNone") and not all(self._collection_write(r, dry_run=True)["success"] for r in records):
                return self._json([self._rolled_back(self._collection_write(r, dry_run=True)) for r in records])
            return self._json([self._collection_write(r) for r in records])

    def _collection_write(self, record: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        sobject = (record.get("attributes") or {}).get("type", "")
        fields = {k: v for k, v in record.items() if k not in {"attributes", "id", "Id"}}
        rid = None if request.method == "POST" else normalise_id(record.get("id") or record.get("Id"))
        if request.method != "POST" and rid is None:
            return _record_error(record.get("id") or record.get("Id"), "MALFORMED_ID", "malformed id")
        if sobject not in self.objects:
            return _record_error(rid, "INVALID_TYPE", f"sObject type '{sobject}' is not supported")
        ok, written, _, problem = self._write(sobject, fields, rid, dry_run=dry_run)
        return {"id": written, "success": True, "errors": []} if ok else _record_error(written, *(problem or ("", "")))

    @staticmethod
    def _rolled_back(result: dict[str, Any]) -> dict[str, Any]:
        if not result["success"]:
            return result
        return _record_error(
            result["id"],
            "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "Record rolled back because not all records were valid and the request was using AllOrNone header",
        )

    def updated(self, sobject: str) -> Response:
        start, end = parse_time(request.args["start"]), parse_time(request.args["end"])
        with self.lock:
            ids = [
                r["Id"]
                for r in self._store(sobject).values()
                if not r["IsDeleted"] and start <= r["SystemModstamp"] < end
            ]
        return self._json({"ids": ids, "latestDateCovered": sf_time(end)})

    def deleted(self, sobject: str) -> Response:
        start, end = parse_time(request.args["start"]), parse_time(request.args["end"])
        with self.lock:
            rows = [
                {"id": r["Id"], "deletedDate": sf_time(r["DeletedDate"])}
                for r in self._store(sobject).values()
                if r["IsDeleted"] and start <= r["DeletedDate"] < end
            ]
        return self._json(
            {"deletedRecords": rows, "earliestDateAvailable": sf_time(start), "latestDateCovered": sf_time(end)}
        )


def _record_error(rid: str | None, code: str, message: str) -> dict[str, Any]:
    return {"id": rid, "success": False, "errors": [{"statusCode": code, "message": message, "fields": []}]}


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return sf_time(value)
    raise TypeError(type(value).__name__)


class RedirectSession(TimeoutSession):
    """Sends every URL (``https://anything/...``) to the emulator's plain-HTTP address instead."""

    def __init__(self, base: str, timeout: float = 10.0) -> None:
        super().__init__(timeout)
        self.base = urlsplit(base)
        self.trust_env = False

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(url if isinstance(url, str) else url.decode())
        url = urlunsplit((self.base.scheme, self.base.netloc, parts.path, parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)


@contextmanager
def running_emulator(emulator: SalesforceEmulator | None = None) -> Iterator[SalesforceEmulator]:
    """Serve ``emulator`` on 127.0.0.1 (an OS-chosen port) in a thread until the block ends."""
    emulator = emulator or SalesforceEmulator()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, emulator.app, threaded=True)
    emulator.host = f"127.0.0.1:{server.server_port}"
    emulator.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="sf-emulator", daemon=True
    )
    thread.start()
    try:
        yield emulator
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        assert not thread.is_alive(), "the emulator did not stop"


@dataclass(frozen=True)
class DemoFitter:
    """A fitter of the service's demo data, as the demo org knows them (matched by email)."""

    name: str
    email: str
    timezone: str


def seed_demo(
    emu: SalesforceEmulator,
    fitters: list[DemoFitter],
    *,
    now: datetime | None = None,
    opportunity_ids: tuple[str, ...] = (),
    contact_ids: tuple[str, ...] = (),
) -> dict[str, int]:
    """A handful of Salesforce Events for ``fitters`` (``serve --demo --salesforce-emulator``).

    Per fitter: a Salesforce User with their email, two fittings with a customer Contact on an
    Opportunity in the coming days at 10:00 and 14:00 their time, and for the first fitter a daily
    three-day recurring series and one Event with two customers (Shared Activities).
    """
    base = (now or datetime.now(UTC)).date() + timedelta(days=1)
    # the records the service's own demo appointments refer to (an org holds what a WhatId/WhoId points at)
    for n, rid in enumerate(opportunity_ids):
        emu.create(
            "Opportunity",
            {
                "Name": f"Demo opportunity {n + 1}",
                "StageName": "Qualification",
                "CloseDate": (base + timedelta(days=60)).isoformat(),
            },
            rid=rid,
        )
    for n, rid in enumerate(contact_ids):
        emu.create("Contact", {"FirstName": "Demo", "LastName": f"Customer {n + 1}"}, rid=rid)
    customers = [
        emu.create("Contact", {"FirstName": first, "LastName": last})
        for first, last in (("Grace", "Whitfield"), ("Omar", "Haddad"), ("Ingrid", "Solberg"), ("Luis", "Ortega"))
    ]
    events = 0
    for n, fitter in enumerate(fitters):
        zone = ZoneInfo(fitter.timezone)
        owner = emu.create(
            "User", {"Name": fitter.name, "Email": fitter.email, "IsActive": True, "TimeZoneSidKey": fitter.timezone}
        )
        opportunity = emu.create(
            "Opportunity",
            {
                "Name": f"Hearing aids for {fitter.name}'s customers",
                "StageName": "Qualification",
                "CloseDate": (base + timedelta(days=30)).isoformat(),
            },
        )
        for i, hour in enumerate((10, 14)):
            start = datetime.combine(base + timedelta(days=n + i), datetime.min.time(), zone).replace(hour=hour)
            emu.create(
                "Event",
                {
                    "Subject": f"Hearing aid fitting (Salesforce) {i + 1}",
                    "StartDateTime": sf_time(start),
                    "EndDateTime": sf_time(start + timedelta(hours=1)),
                    "OwnerId": owner,
                    "WhatId": opportunity,
                    "WhoId": customers[(n + i) % len(customers)],
                    "Appointment_Type__c": "FOLLOW_UP" if i else "INITIAL",
                    "Appointment_Status__c": "BOOKED",
                },
            )
            events += 1
        if n == 0:
            first = datetime.combine(base + timedelta(days=3), datetime.min.time(), zone).replace(hour=8)
            emu.create(
                "Event",
                {
                    "Subject": "Daily check-in (Salesforce series)",
                    "OwnerId": owner,
                    "IsRecurrence": True,
                    "RecurrenceType": "RecursDaily",
                    "RecurrenceInterval": 1,
                    "RecurrenceStartDateTime": sf_time(first),
                    "RecurrenceEndDateOnly": (first.date() + timedelta(days=2)).isoformat(),
                    "RecurrenceTimeZoneSidKey": fitter.timezone,
                    "DurationInMinutes": 30,
                    "Appointment_Type__c": "FOLLOW_UP",
                },
            )
            couple = datetime.combine(base + timedelta(days=2), datetime.min.time(), zone).replace(hour=16)
            emu.create(
                "Event",
                {
                    "Subject": "Joint consultation (Salesforce, two customers)",
                    "StartDateTime": sf_time(couple),
                    "EndDateTime": sf_time(couple + timedelta(minutes=45)),
                    "OwnerId": owner,
                    "WhatId": opportunity,
                    "EventWhoIds": customers[:2],
                    "Appointment_Type__c": "INITIAL",
                },
            )
            events += 4  # three occurrences and the joint consultation
    return {"users": len(fitters), "contacts": len(customers), "events": events}


def main(argv: list[str] | None = None) -> int:
    """Serve a seeded emulator in its own process (bench/sync_bench.py); print one JSON line, serve until SIGTERM.

    ``python -m sf_emulator.emulator --events 100000 --owner-email bench@example.com``
    """
    import argparse
    import signal
    import sys

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--events", type=int, default=0)
    p.add_argument("--owner-email", default="bench@example.com")
    p.add_argument("--page-size", type=int, default=2000)
    args = p.parse_args(argv)
    emu = SalesforceEmulator(page_size=args.page_size, validate_duration=False)
    owner = emu.create("User", {"Name": "Bench", "Email": args.owner_email, "IsActive": True})
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for i in range(args.events):
        start = base + timedelta(minutes=30 * (i % 20000))
        emu.create(
            "Event",
            {
                "Subject": f"E{i}",
                "StartDateTime": sf_time(start),
                "EndDateTime": sf_time(start + timedelta(minutes=30)),
                "OwnerId": owner,
            },
        )
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, emu.app, threaded=True)
    emu.host = f"127.0.0.1:{server.server_port}"
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    info = {"base_url": f"http://{emu.host}", "owner": owner, "events": args.events}
    print(json.dumps(info), flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    print(json.dumps({"calls": emu.stats.calls, "logins": emu.stats.logins}), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
