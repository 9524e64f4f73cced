from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from msm_api.security import keys
from msm_api.security.tokens import TokenError, TokenService
from msm_common.settings import SettingsError

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def service(key: keys.SigningKey, **overrides) -> TokenService:
    args = {
        "issuer": "msm-api",
        "audience": "msm",
        "access_ttl": timedelta(minutes=15),
        "refresh_ttl": timedelta(days=14),
    }
    return TokenService(key, **{**args, **overrides})


@pytest.fixture(params=["ed25519", "rsa"])
def key(request) -> keys.SigningKey:
    if request.param == "rsa":
        return keys.from_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return keys.from_private_key(ed25519.Ed25519PrivateKey.generate())


def fresh(svc: TokenService) -> str:
    return svc.issue_access(
        user_id="u1", username="alice", roles=["viewer"], version=3, now=datetime.now(UTC)
    ).token


def test_access_token_round_trip_and_jwks(key):
    svc = service(key)
    claims = svc.verify_access(fresh(svc))
    assert (claims.user_id, claims.roles, claims.version) == ("u1", ("viewer",), 3)
    assert claims.jti
    jwk = svc.jwks()["keys"][0]
    assert jwk["kid"] == key.kid and jwk["alg"] == key.algorithm and "d" not in jwk
    # A gateway verifies with the published key alone.
    public = jwt.PyJWK(jwk).key
    jwt.decode(fresh(svc), public, algorithms=[key.algorithm], audience="msm")


def test_expired_token_is_refused(key):
    svc = service(key)
    old = svc.issue_access(
        user_id="u1", username="a", roles=[], version=0, now=NOW - timedelta(days=1)
    )
    with pytest.raises(TokenError):
        svc.verify_access(old.token)


@pytest.mark.parametrize("field", ["iss", "aud"])
def test_wrong_issuer_or_audience_is_refused(key, field):
    other = service(key, **({"issuer": "evil"} if field == "iss" else {"audience": "evil"}))
    with pytest.raises(TokenError):
        service(key).verify_access(fresh(other))


def test_tampered_payload_is_refused(key):
    header, payload, sig = fresh(service(key)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(TokenError):
        service(key).verify_access(f"{header}.{forged}.{sig}")


def test_alg_none_and_hs256_confusion_are_refused(key):
    svc = service(key)
    claims = jwt.decode(fresh(svc), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(TokenError):
        svc.verify_access(unsigned)
    public_pem = key.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    sig = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    confused = f"{header}.{body}.{base64.urlsafe_b64encode(sig).decode().rstrip('=')}"
    with pytest.raises(TokenError):
        svc.verify_access(confused)


def test_refresh_token_is_not_an_access_token(key):
    svc = service(key)
    refresh = svc.issue_refresh(user_id="u1", family="f1", now=datetime.now(UTC))
    with pytest.raises(TokenError):
        svc.verify_access(refresh.token)
    assert svc.verify_refresh(refresh.token).family == "f1"
    with pytest.raises(TokenError):
        svc.verify_refresh(fresh(svc))


def test_token_from_another_key_is_refused(key):
    other = keys.from_private_key(ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(TokenError):
        service(key).verify_access(fresh(service(other)))


def test_generated_key_is_private_and_reused(tmp_path):
    path = tmp_path / "secrets" / "jwt.pem"
    first = keys.load_or_generate(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert keys.load_or_generate(path).kid == first.kid


def test_small_rsa_key_is_refused():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(SettingsError):
        keys.from_private_key(small)
