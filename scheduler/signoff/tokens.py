"""The links a person approves through: an unguessable token, of which the ledger keeps only a hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

DEFAULT_EXPIRY = timedelta(days=14)


def new_token() -> str:
    """A fresh token for one link (256 bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the ledger keeps of a token: a leak of the database gives no working link."""
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    """Whether `value` could be a token at all (before the ledger is asked)."""
    return 20 <= len(value) <= 100 and all(c.isalnum() or c in "-_" for c in value)
