"""``Idempotency-Key``: one mechanism for every creating POST, kept in the database (so it holds across processes).

A request with a key first *claims* it (``principal`` = the caller's token, ``key``; unique), then runs; its
answer is stored with the claim and replayed to every repeat with the same key and the same request. So:

- same key, same request: the first answer again (same status, headers that matter, body), nothing run twice;
- same key, another request (other body, query or endpoint): :class:`IdempotencyKeyReused` (422);
- a repeat while the first is still running waits for its answer (up to ``wait``), else
  :class:`IdempotencyKeyInUse` (409, retry);
- the request's own transaction marks the claim ``applied`` before it commits (:func:`applied_check`, run by the
  unit of work), so a claim left ``running`` by a process that died was never applied: after ``lease`` another
  request takes it over and runs; the first, if it was only slow, can no longer commit (its check fails);
- an answer that is an error raised by the request (or a 5xx) is not kept: the claim is released and the same
  key may be sent again;
- keys are forgotten ``ttl`` after their first use (``idempotency_ttl_hours``).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from caldav_bridge.clock import utcnow
from caldav_bridge.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from caldav_bridge.store.tables import IdempotencyRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["CLAIM_LEASE", "Answer", "Claim", "acquire", "applied_check", "fingerprint", "finish", "release"]

#: A claim ``running`` this long without being applied belongs to a request that died: it may be taken over.
CLAIM_LEASE = timedelta(minutes=2)
#: How long a repeat waits for the first request's answer before it answers 409.
WAIT = timedelta(seconds=10)
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Claim:
    id: int
    holder: str
    key: str


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def fingerprint(*parts: bytes | str) -> str:
    """A hash of what identifies the request (method and path, query, body as canonical bytes)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def acquire(
    uow: UnitOfWork,
    principal: str,
    key: str,
    request_hash: str,
    endpoint: str,
    *,
    ttl: timedelta,
    lease: timedelta = CLAIM_LEASE,
    wait: timedelta = WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> Claim | Answer:
    """The claim of ``key`` for this request, or the first answer to replay; waits while another request holds it."""
    deadline = time.monotonic() + wait.total_seconds()
    while True:
        got = _try(uow, principal, key, request_hash, endpoint, ttl, lease)
        if got is not None:
            return got
        if time.monotonic() >= deadline:
            raise IdempotencyKeyInUse(
                f"a request with Idempotency-Key {key!r} is still being processed; retry in a few seconds"
            )
        sleep(POLL_SECONDS)


def _try(
    uow: UnitOfWork, principal: str, key: str, request_hash: str, endpoint: str, ttl: timedelta, lease: timedelta
) -> Claim | Answer | None:
    now = utcnow()
    holder = str(uuid.uuid4())
    with uow:
        repo = uow.idempotency
        repo.purge_before(principal, now - ttl)
        seen = repo.get(principal, key)
        if seen is None:
            row = IdempotencyRow(
                principal=principal,
                key=key,
                request_hash=request_hash,
                endpoint=endpoint[:300],
                state="running",
                holder=holder,
                created_at=now,
                claimed_at=now,
            )
            if not repo.claim(row):
                return None  # a concurrent request claimed it first: look again
            uow.commit()
            return Claim(row.id, holder, key)
        if seen.endpoint != endpoint[:300]:
            raise IdempotencyKeyReused(key, endpoint, seen.endpoint)
        if seen.request_hash != request_hash:
            raise IdempotencyKeyReused(key)
        if seen.state == "done" and seen.status_code is not None:
            return Answer(seen.status_code, dict(seen.response_headers or {}), seen.response_body or b"")
        if _stale(seen.claimed_at, now, lease):
            if seen.state == "applied":
                raise IdempotencyKeyInUse(
                    f"the first request with Idempotency-Key {key!r} was applied but its answer was lost; "
                    "look the record up, or send a new key for a new request"
                )
            if repo.take_over(seen.id, seen.holder, holder, now):  # its process died before it was applied
                uow.commit()
                return Claim(seen.id, holder, key)
        return None


def _stale(claimed_at: datetime, now: datetime, lease: timedelta) -> bool:
    return claimed_at <= now - lease


def applied_check(claim: Claim) -> Callable[[UnitOfWork], None]:
    """For :meth:`UnitOfWork.before_commit` of the request's work: mark the claim applied in the same
    transaction, or refuse the commit if another request took the claim over."""

    def check(uow: UnitOfWork) -> None:
        if not uow.idempotency.mark_applied(claim.id, claim.holder):
            raise IdempotencyKeyInUse(
                f"another request with Idempotency-Key {claim.key!r} took over; nothing was written by this one"
            )

    return check


def finish(uow: UnitOfWork, claim: Claim, answer: Answer) -> None:
    """Keep ``answer`` as the key's first answer."""
    with uow:
        uow.idempotency.finish(claim.id, claim.holder, answer.status, answer.headers, answer.body)
        uow.commit()


def release(uow: UnitOfWork, claim: Claim) -> None:
    """The request failed before anything was applied: forget the claim, so the key may be sent again."""
    with uow:
        uow.idempotency.release(claim.id, claim.holder)
        uow.commit()
