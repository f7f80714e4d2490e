"""HMAC-SHA256 signatures of webhook bodies, with a timestamp against replays.

Header ``Webhook-Signature: t=<unix seconds>,v1=<hex>`` where ``hex`` is
``HMAC_SHA256(secret, "<t>." + body)``. A receiver recomputes it over the raw body and rejects a
timestamp further than its tolerance from its own clock.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["sign", "signature_header", "verify"]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` at a time within ``tolerance`` seconds of ``now``."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields.get("t", [""])[0])
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", []))
