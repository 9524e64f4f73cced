"""The api service's access tokens, verified with its public keys (JWKS, cached), and the
permissions their roles carry (the shared `roles` collection, cached briefly)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import jwt
from pymongo.database import Database
from pymongo.errors import PyMongoError

ALGORITHMS: Final = frozenset({"EdDSA", "RS256"})
_REQUIRED: Final = ["exp", "iat", "iss", "aud", "sub", "jti"]
DEVICES_MANAGE: Final = "devices:manage"
AUDIT_READ: Final = "audit:read"
# When the roles collection cannot be read: the api's built-in roles, as far as we care.
BUILTIN: Final[dict[str, frozenset[str]]] = {"admin": frozenset({DEVICES_MANAGE, AUDIT_READ})}


class TokenError(Exception):
    """Missing, malformed, expired, forged, or not an access token."""


@dataclass(frozen=True)
class Principal:
    user_id: str
    username: str
    roles: tuple[str, ...]
    permissions: frozenset[str]


class AccessTokens:
    """Verifies access tokens the api issued: its keys, its issuer and audience, typ=access."""

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        cache_s: int = 300,
        timeout_s: float = 5.0,
    ) -> None:
        self._jwks = jwt.PyJWKClient(
            jwks_url, cache_keys=True, lifespan=cache_s, timeout=int(max(1, timeout_s))
        )
        self._issuer = issuer
        self._audience = audience

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            key = self._jwks.get_signing_key_from_jwt(token)
            algorithm = key.algorithm_name
            if algorithm not in ALGORITHMS or header.get("alg") != algorithm:
                raise TokenError("unexpected signing algorithm")
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": _REQUIRED},
                leeway=5,
            )
        except (jwt.PyJWTError, ValueError) as exc:
            raise TokenError(str(exc)) from None
        if claims.get("typ") != "access":
            raise TokenError("not an access token")
        roles = claims.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise TokenError("malformed roles claim")
        if not isinstance(claims.get("name"), str) or not isinstance(claims.get("sub"), str):
            raise TokenError("malformed subject")
        return claims


class RolePermissions:
    """Role name -> permissions, from the api's `roles` collection; admin holds everything."""

    def __init__(
        self,
        db: Database[dict[str, Any]],
        ttl_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._coll = db["roles"]
        self._ttl = ttl_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._table: dict[str, frozenset[str]] | None = None
        self._loaded_at = 0.0

    def of(self, roles: list[str]) -> frozenset[str]:
        table = self._current()
        granted: set[str] = set()
        for name in roles:
            granted |= table.get(name, frozenset())
        return frozenset(granted)

    def _current(self) -> dict[str, frozenset[str]]:
        with self._lock:
            if self._table is None or self._monotonic() - self._loaded_at >= self._ttl:
                try:
                    docs = list(self._coll.find({}, {"name": 1, "permissions": 1}))
                except PyMongoError:
                    return self._table or dict(BUILTIN)
                table = {str(d.get("name")): frozenset(d.get("permissions") or ()) for d in docs}
                table["admin"] = table.get("admin", frozenset()) | BUILTIN["admin"]
                self._table, self._loaded_at = table, self._monotonic()
            return self._table


def principal(claims: dict[str, Any], permissions: RolePermissions) -> Principal:
    roles = list(claims["roles"])
    return Principal(
        user_id=claims["sub"],
        username=claims["name"],
        roles=tuple(roles),
        permissions=permissions.of(roles),
    )
