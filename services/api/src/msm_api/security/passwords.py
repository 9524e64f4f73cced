"""bcrypt password hashing (bcrypt reads at most 72 bytes: longer passwords are pre-hashed)."""

from __future__ import annotations

import base64
import hashlib

import bcrypt


def _prepare(password: str) -> bytes:
    raw = password.encode("utf-8")
    if len(raw) <= 72:
        return raw
    return base64.b64encode(hashlib.sha256(raw).digest())


class PasswordHasher:
    def __init__(self, rounds: int = 12) -> None:
        self._rounds = rounds
        # Checked against when an account does not exist, so that both cases cost the same.
        self._dummy = bcrypt.hashpw(b"no such account", bcrypt.gensalt(rounds)).decode()

    def hash(self, password: str) -> str:
        return bcrypt.hashpw(_prepare(password), bcrypt.gensalt(self._rounds)).decode()

    def verify(self, password: str, hashed: str | None) -> bool:
        """True if `password` matches; with no hash, burn the same time and answer False."""
        target = hashed or self._dummy
        try:
            ok = bcrypt.checkpw(_prepare(password), target.encode())
        except ValueError:
            return False
        return ok and hashed is not None
