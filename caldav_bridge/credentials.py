"""Passwords and API tokens: generated here, stored only as hashes.

App passwords use scrypt with a per-password salt (they are typed by people and may be weak);
API tokens carry 256 bits of randomness, so a plain SHA-256 is enough to look them up by hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["TOKEN_PREFIX", "hash_password", "new_api_token", "new_password", "token_digest", "verify_password"]

TOKEN_PREFIX = "ast_"  # noqa: S105 - a public prefix, not a secret
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def new_password() -> str:
    """A random app password, easy to type: four groups of four lowercase letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + "$".join(base64.b64encode(part).decode() for part in (salt, digest))


def verify_password(password: str, stored: str | None) -> bool:
    """True if ``password`` matches ``stored``; constant time in the digest comparison."""
    if not stored or not stored.startswith("scrypt$"):
        return False
    try:
        _, salt_b64, digest_b64 = stored.split("$")
        salt, digest = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    except ValueError:
        return False
    candidate = hashlib.scrypt(password.encode(), salt=salt, dklen=len(digest), **_SCRYPT)
    return hmac.compare_digest(candidate, digest)


def new_api_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
