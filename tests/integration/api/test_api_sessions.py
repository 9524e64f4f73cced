"""Sessions: the signing key rotates without logging anyone out; refresh sessions end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from api_helpers import ADMIN_EMAIL, ADMIN_PASSWORD
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from msm_api.security import keys

pytestmark = pytest.mark.integration


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_signing_key_rotation_keeps_old_tokens_valid(make_app, api_signing_key):
    old_app = make_app()
    pair = old_app.test_client().post(
        "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    old = pair.get_json()
    assert jwt.get_unverified_header(old["access_token"])["kid"] == api_signing_key.kid

    new_key = keys.from_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    rotated = make_app(key_ring=keys.KeyRing(new_key, (api_signing_key,)))
    client = rotated.test_client()
    # The JWKS publishes both keys; the new one signs, the old one still verifies.
    kids = {k["kid"]: k["alg"] for k in client.get("/api/auth/jwks.json").get_json()["keys"]}
    assert kids == {new_key.kid: "RS256", api_signing_key.kid: "EdDSA"}
    assert client.get("/api/auth/me", headers=bearer(old["access_token"])).status_code == 200
    renewed = client.post("/api/auth/refresh", json={"refresh_token": old["refresh_token"]})
    assert renewed.status_code == 200
    fresh = renewed.get_json()
    assert jwt.get_unverified_header(fresh["access_token"])["kid"] == new_key.kid
    assert client.get("/api/auth/me", headers=bearer(fresh["access_token"])).status_code == 200

    # Once the old key is dropped from the ring, its tokens are refused.
    retired = make_app(key_ring=keys.KeyRing(new_key)).test_client()
    assert retired.get("/api/auth/me", headers=bearer(old["access_token"])).status_code == 401
    assert retired.get("/api/auth/me", headers=bearer(fresh["access_token"])).status_code == 200
    stranger = keys.from_private_key(ed25519.Ed25519PrivateKey.generate())
    assert stranger.kid not in kids


def test_a_refresh_session_ends_at_its_absolute_lifetime(make_app):
    real_now = datetime.now(UTC)
    moment = [real_now - timedelta(minutes=30)]  # logged in half an hour ago
    app = make_app({"session_max_lifetime_s": 3600}, clock=lambda: moment[0])
    client = app.test_client()
    pair = client.post(
        "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    ).get_json()
    # Rotating keeps the session going, but never past one hour after the login.
    moment[0] = real_now
    renewed = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert renewed.status_code == 200
    token = renewed.get_json()["refresh_token"]
    ends = real_now + timedelta(minutes=30)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] <= int(ends.timestamp()) + 1  # not now + 14 days
    stored = app.extensions["msm"].db["refresh_tokens"].find_one({"_id": claims["jti"]})
    assert abs((stored["session_ends_at"] - ends).total_seconds()) < 2
    moment[0] = ends + timedelta(seconds=5)
    late = client.post("/api/auth/refresh", json={"refresh_token": token})
    assert late.status_code == 401
