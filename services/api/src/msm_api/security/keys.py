"""The JWT signing key: loaded from a PEM file, or generated once for the local stack."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm
from msm_common.auth.tokens import VerifyingKey
from msm_common.settings import SettingsError

from msm_api.settings import ApiSettings

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey


@dataclass(frozen=True)
class SigningKey:
    """A private key, the one algorithm it signs with, and its public JWK."""

    private: PrivateKey
    algorithm: str  # pinned: tokens with any other `alg` are refused
    kid: str
    der: bytes

    @property
    def public(self) -> PublicKey:
        return self.private.public_key()

    def jwk(self) -> dict[str, Any]:
        public = self.public
        text = (
            RSAAlgorithm.to_jwk(public)
            if isinstance(public, rsa.RSAPublicKey)
            else OKPAlgorithm.to_jwk(public)
        )
        jwk: dict[str, Any] = json.loads(text)
        jwk.update({"kid": self.kid, "alg": self.algorithm, "use": "sig"})
        return jwk

    def derive_secret(self, purpose: str) -> bytes:
        """A secret for `purpose` (e.g. cursor MACs) shared by every replica holding this key."""
        return hashlib.sha256(purpose.encode() + b"\x00" + self.der).digest()


def from_private_key(private: PrivateKey) -> SigningKey:
    if isinstance(private, rsa.RSAPrivateKey):
        if private.key_size < 2048:
            raise SettingsError("the JWT RSA key must have at least 2048 bits")
        algorithm = "RS256"
    elif isinstance(private, ed25519.Ed25519PrivateKey):
        algorithm = "EdDSA"
    else:
        raise SettingsError("the JWT key must be RSA (RS256) or Ed25519 (EdDSA)")
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = base64.urlsafe_b64encode(hashlib.sha256(public_der).digest()[:12]).decode().rstrip("=")
    return SigningKey(private=private, algorithm=algorithm, kid=kid, der=der)


def load(path: Path) -> SigningKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"cannot read the JWT private key {path}: {exc}") from exc
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(private, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise SettingsError("the JWT key must be RSA (RS256) or Ed25519 (EdDSA)")
    return from_private_key(private)


@dataclass(frozen=True)
class KeyRing:
    """The key that signs, and keys that only verify (the previous one after a rotation, the
    next one before it): every key of the ring is published in the JWKS and chosen by `kid`."""

    signing: SigningKey
    verify_only: tuple[SigningKey, ...] = ()

    @property
    def keys(self) -> tuple[SigningKey, ...]:
        return (self.signing, *(k for k in self.verify_only if k.kid != self.signing.kid))

    def verifying_key(self, kid: str) -> VerifyingKey | None:
        for key in self.keys:
            if key.kid == kid:
                return VerifyingKey(kid=key.kid, algorithm=key.algorithm, key=key.public)
        return None

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk() for k in self.keys]}


def for_settings(settings: ApiSettings) -> SigningKey:
    """The configured key; outside production one is generated under .local/secrets."""
    if settings.jwt_private_key_file is not None:
        return load(settings.jwt_private_key_file)
    return load_or_generate(settings.secrets_dir / "jwt.pem")


def ring_for_settings(settings: ApiSettings, signing: SigningKey) -> KeyRing:
    """`signing` plus the verify-only keys of MSM_API_JWT_VERIFY_KEY_FILES."""
    return KeyRing(signing, tuple(load(path) for path in settings.jwt_verify_key_paths))


def load_or_generate(path: Path) -> SigningKey:
    """Load `path`, or create an Ed25519 key there (mode 0600) if it does not exist yet."""
    if path.exists():
        return load(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker or replica won the race: use its key
        return load(path)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return from_private_key(private)
