"""Access and refresh tokens: JWTs signed with the service's current key (its `kid` in the
header), verified by msm_common with any key of the ring, algorithm pinned per key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from msm_common.auth.tokens import ACCESS, REFRESH, AccessClaims, TokenError, TokenVerifier

from msm_api.security.keys import KeyRing, SigningKey

__all__ = ["IssuedToken", "RefreshClaims", "TokenError", "TokenService"]


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


@dataclass(frozen=True)
class RefreshClaims:
    jti: str
    family: str
    user_id: str


class TokenService:
    """Sign with the ring's signing key; verify with any of its keys."""

    def __init__(
        self,
        key: SigningKey | KeyRing,
        *,
        issuer: str,
        audience: str,
        access_ttl: timedelta,
        refresh_ttl: timedelta,
    ) -> None:
        self.ring = key if isinstance(key, KeyRing) else KeyRing(key)
        self._issuer = issuer
        self._audience = audience
        self.verifier = TokenVerifier(self.ring, issuer=issuer, audience=audience)
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl

    def jwks(self) -> dict[str, Any]:
        return self.ring.jwks()

    def _sign(
        self, claims: dict[str, Any], typ: str, now: datetime, expires: datetime
    ) -> IssuedToken:
        key = self.ring.signing
        jti = uuid.uuid4().hex
        body = {
            **claims,
            "iss": self._issuer,
            "aud": self._audience,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()) - 5,
            "exp": int(expires.timestamp()),
            "jti": jti,
            "typ": typ,
        }
        headers = {"kid": key.kid, "typ": "JWT"}
        token = jwt.encode(body, key.private, algorithm=key.algorithm, headers=headers)
        return IssuedToken(token, jti, expires)

    def issue_access(
        self, *, user_id: str, username: str, roles: list[str], version: int, now: datetime
    ) -> IssuedToken:
        """`version` is the account's token version now: bumping it revokes this token."""
        claims = {"sub": user_id, "name": username, "roles": roles, "ver": version}
        return self._sign(claims, ACCESS, now, now + self.access_ttl)

    def issue_refresh(
        self, *, user_id: str, family: str, now: datetime, not_after: datetime | None = None
    ) -> IssuedToken:
        """A refresh token; `not_after` caps it at the session's absolute end."""
        expires = now + self.refresh_ttl
        if not_after is not None:
            expires = min(expires, not_after)
        return self._sign({"sub": user_id, "fam": family}, REFRESH, now, expires)

    def verify_access(self, token: str) -> AccessClaims:
        return self.verifier.access(token)

    def verify_refresh(self, token: str) -> RefreshClaims:
        claims = self.verifier.decode(token, REFRESH)
        family = claims.get("fam")
        if not isinstance(family, str):
            raise TokenError("malformed refresh token")
        return RefreshClaims(jti=str(claims["jti"]), family=family, user_id=claims["sub"])
