"""Opaque pagination cursors: base64url JSON with a MAC, so a tampered cursor is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

_MAC_BYTES = 12


class CursorError(ValueError):
    """A cursor this service did not issue (or issued for another query kind)."""


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, kind: str, body: bytes) -> bytes:
        return hmac.new(self._secret, kind.encode() + b"\x00" + body, hashlib.sha256).digest()[
            :_MAC_BYTES
        ]

    def encode(self, kind: str, position: list[Any]) -> str:
        body = json.dumps(position, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(self._mac(kind, body) + body).decode().rstrip("=")

    def decode(self, kind: str, cursor: str) -> list[Any]:
        if len(cursor) > 1024:
            raise CursorError("cursor is too long")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except ValueError:
            raise CursorError("cursor is not valid") from None
        mac, body = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(kind, body)):
            raise CursorError("cursor is not valid")
        position = json.loads(body)
        if not isinstance(position, list):
            raise CursorError("cursor is not valid")
        return position
