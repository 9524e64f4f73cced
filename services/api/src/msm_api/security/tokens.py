"""Access and refresh tokens: JWTs signed with the service's asymmetric key, algorithm pinned."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from msm_api.security.keys import SigningKey

ACCESS = "access"
REFRESH = "refresh"
_REQUIRED = ["exp", "iat", "iss", "aud", "sub", "jti"]


class TokenError(Exception):
    """A token that is missing, malformed, expired, tampered with or of the wrong kind."""


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
    """Sign and verify this service's tokens; nothing but the pinned algorithm is accepted."""

    def __init__(
        self,
        key: SigningKey,
        *,
        issuer: str,
        audience: str,
        access_ttl: timedelta,
        refresh_ttl: timedelta,
    ) -> None:
        self._key = key
        self._public = key.public
        self._issuer = issuer
        self._audience = audience
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._key.jwk()]}

    def _sign(self, claims: dict[str, Any], typ: str, now: datetime, ttl: timedelta) -> IssuedToken:
        jti = uuid.uuid4().hex
        expires = now + ttl
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
        headers = {"kid": self._key.kid, "typ": "JWT"}
        token = jwt.encode(body, self._key.private, algorithm=self._key.algorithm, headers=headers)
        return IssuedToken(token, jti, expires)

    def issue_access(
        self, *, user_id: str, username: str, roles: list[str], now: datetime
    ) -> IssuedToken:
        claims = {"sub": user_id, "name": username, "roles": roles}
        return self._sign(claims, ACCESS, now, self.access_ttl)

    def issue_refresh(self, *, user_id: str, family: str, now: datetime) -> IssuedToken:
        return self._sign({"sub": user_id, "fam": family}, REFRESH, now, self.refresh_ttl)

    def _verify(self, token: str, typ: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != self._key.algorithm:
                raise TokenError("unexpected signing algorithm")
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public,
                algorithms=[self._key.algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": _REQUIRED},
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from None
        if claims.get("typ") != typ:
            raise TokenError(f"not an {typ} token")
        return claims

    def verify_access(self, token: str) -> dict[str, Any]:
        claims = self._verify(token, ACCESS)
        roles = claims.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise TokenError("malformed roles claim")
        if not isinstance(claims.get("name"), str):
            raise TokenError("malformed name claim")
        return claims

    def verify_refresh(self, token: str) -> RefreshClaims:
        claims = self._verify(token, REFRESH)
        family = claims.get("fam")
        if not isinstance(family, str) or not isinstance(claims["sub"], str):
            raise TokenError("malformed refresh token")
        return RefreshClaims(jti=str(claims["jti"]), family=family, user_id=claims["sub"])
