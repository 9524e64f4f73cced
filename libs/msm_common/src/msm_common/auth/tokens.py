"""Verify the api's JWTs: the key is chosen by the token's `kid`, its algorithm is pinned.

Keys come from a `KeySource`: the api's own key ring, or its JWKS over HTTPS (other services).
Several keys verify at once, so the signing key rotates without logging anyone out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Protocol

import jwt

ALGORITHMS: Final = frozenset({"EdDSA", "RS256"})
ACCESS: Final = "access"
REFRESH: Final = "refresh"
REQUIRED: Final = ["exp", "iat", "iss", "aud", "sub", "jti"]
LEEWAY_S: Final = 5


class TokenError(Exception):
    """A token that is missing, malformed, expired, forged, revoked or of the wrong kind."""


@dataclass(frozen=True)
class VerifyingKey:
    kid: str
    algorithm: str
    key: Any  # a cryptography public key


class KeySource(Protocol):
    def verifying_key(self, kid: str) -> VerifyingKey | None: ...


class JwksKeys:
    """The api's published keys (JWKS), cached; an unknown `kid` refetches the set once."""

    def __init__(self, url: str, *, cache_s: float = 300, timeout_s: float = 5.0) -> None:
        self._client = jwt.PyJWKClient(
            url, cache_keys=False, lifespan=cache_s, timeout=max(1.0, timeout_s)
        )

    def verifying_key(self, kid: str) -> VerifyingKey | None:
        try:
            found = self._client.get_signing_key(kid)
        except jwt.PyJWKClientError:
            return None
        return VerifyingKey(kid=kid, algorithm=str(found.algorithm_name), key=found.key)


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    username: str
    roles: tuple[str, ...]
    version: int
    jti: str


class TokenVerifier:
    """Checks signature (key by kid, pinned algorithm), issuer, audience, lifetime and `typ`."""

    def __init__(self, keys: KeySource, *, issuer: str, audience: str) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience

    def decode(self, token: str, typ: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise TokenError("the token names no key")
            key = self._keys.verifying_key(kid)
            if key is None:
                raise TokenError("unknown signing key")
            if key.algorithm not in ALGORITHMS or header.get("alg") != key.algorithm:
                raise TokenError("unexpected signing algorithm")
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": REQUIRED},
                leeway=LEEWAY_S,
            )
        except (jwt.PyJWTError, ValueError) as exc:
            raise TokenError(str(exc)) from None
        if claims.get("typ") != typ:
            raise TokenError(f"not an {typ} token")
        if not isinstance(claims.get("sub"), str):
            raise TokenError("malformed subject")
        return claims

    def access(self, token: str) -> AccessClaims:
        claims = self.decode(token, ACCESS)
        roles = claims.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise TokenError("malformed roles claim")
        name, version = claims.get("name"), claims.get("ver")
        if not isinstance(name, str):
            raise TokenError("malformed name claim")
        if not isinstance(version, int) or isinstance(version, bool):
            raise TokenError("the token carries no account version")
        return AccessClaims(
            user_id=claims["sub"],
            username=name,
            roles=tuple(roles),
            version=version,
            jti=str(claims["jti"]),
        )
