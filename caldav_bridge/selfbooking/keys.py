"""The service key: signs the pages' form tokens and derives each booking's manage secret.

``secret_key`` from the settings, else a random key kept in ``data_dir``/secret_key (created once,
mode 0600). Several instances must share ``secret_key``. Rotating it ends every manage link sent so far.
The database never holds the key, so a copy of the database alone opens no manage page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from caldav_bridge.store.private_files import private_once
from config import Settings

__all__ = ["link_secret", "manage_secret", "service_key"]


def service_key(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    return private_once(Path(settings.data_dir) / "secret_key", secrets.token_urlsafe(32).encode()).strip()


def manage_secret(key: bytes, booking_id: str) -> str:
    """The manage link's secret of a booking: HMAC-SHA256 of its id under the service key (256 bits)."""
    digest = hmac.new(key, f"manage:{booking_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def link_secret(key: bytes, link_id: str) -> str:
    """A personal booking link's secret (192 bits), derived so the Salesforce step can write its URL later."""
    digest = hmac.new(key, f"booking-link:{link_id}".encode(), hashlib.sha256).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode()
