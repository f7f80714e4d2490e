"""The HTTP side of ``Idempotency-Key`` (the mechanism is :mod:`caldav_bridge.services.idempotency`).

``@operation(..., idempotent=True)`` wraps the view: with the header, the caller's token claims the key, the view
runs (its units of work mark the claim applied as they commit, :func:`feeds.runtime.uow`), and its answer is
kept; a repeat gets that answer again, marked ``Idempotent-Replayed: true`` where the API announces replays.

An operation whose answer holds a secret shown once (a feed token, a webhook's signing secret, a booking link's
URL) names those fields in ``withhold``: the kept answer has them set to ``null`` (secrets are stored hashed,
never in clear, also not here) and says so in ``Idempotent-Secret-Withheld`` (the withheld fields, comma-separated).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Response, g, make_response, request

from caldav_bridge.services import idempotency
from caldav_bridge.services.actor import Actor
from feeds.runtime import runtime

__all__ = ["HEADER", "KEPT_HEADERS", "WITHHELD_HEADER", "idempotent"]

HEADER = "Idempotency-Key"
#: The response headers kept with the first answer and replayed.
KEPT_HEADERS = ("Content-Type", "Location", "ETag", "Content-Disposition")
#: On a replay whose first answer held a secret: the fields set to ``null`` because the secret was shown once.
WITHHELD_HEADER = "Idempotent-Secret-Withheld"


def idempotent(
    view: Callable[..., Any], *, announce: bool = True, withhold: tuple[str, ...] = ()
) -> Callable[..., Any]:
    """``view`` made safe to repeat with an ``Idempotency-Key`` (called after the caller is authenticated);
    ``withhold``: top-level JSON fields of the answer that hold a secret and are not kept (replayed as ``null``)."""

    def wrapped(**kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if not key:
            return view(**kwargs)
        endpoint = f"{request.method} {request.path}"
        got = idempotency.acquire(
            runtime().uow(),
            _principal(g.actor),
            key,
            idempotency.fingerprint(endpoint, _query(), _body()),
            endpoint,
            ttl=timedelta(hours=runtime().settings.idempotency_ttl_hours),
        )
        if isinstance(got, idempotency.Answer):
            return _replay(got, announce)
        g.idempotency_claim = got
        try:
            response = make_response(view(**kwargs))
        except BaseException:
            g.pop("idempotency_claim", None)
            idempotency.release(runtime().uow(), got)
            raise
        g.pop("idempotency_claim", None)
        if response.status_code >= 500:
            idempotency.release(runtime().uow(), got)
        else:
            answer = _kept(response, withhold)
            idempotency.finish(runtime().uow(), got, answer)
        return response

    return wrapped


def _kept(response: Response, withhold: tuple[str, ...]) -> idempotency.Answer:
    """The answer to keep: the first one, without the secrets it showed."""
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    body = response.get_data()
    if withhold and response.is_json:
        data = json.loads(body)
        withheld = [name for name in withhold if isinstance(data, dict) and name in data]
        if withheld:
            data.update(dict.fromkeys(withheld))
            body = json.dumps(data, separators=(",", ":")).encode() + b"\n"
            headers[WITHHELD_HEADER] = ", ".join(withheld)
    return idempotency.Answer(response.status_code, headers, body)


def _principal(actor: Actor) -> str:
    """Keys are the caller's: per API token (a user's two tokens never share a key)."""
    return actor.token_id or actor.user_id or actor.username


def _query() -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(request.args.items(multi=True)))


def _body() -> bytes:
    """The body as canonical JSON when it is JSON (key order and spacing do not make another request)."""
    raw = request.get_data(cache=True)
    mimetype = request.mimetype or ""
    if mimetype == "application/json" or mimetype.endswith("+json"):
        try:
            return json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
        except (ValueError, UnicodeDecodeError, RecursionError):
            pass
    return mimetype.encode() + b"\n" + raw


def _replay(answer: idempotency.Answer, announce: bool) -> Response:
    response = Response(answer.body, status=answer.status)
    for name, value in answer.headers.items():
        response.headers[name] = value
    if announce:
        response.headers["Idempotent-Replayed"] = "true"
    return response
