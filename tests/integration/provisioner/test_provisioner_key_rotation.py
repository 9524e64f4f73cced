"""The api rotates its signing key as services/api/README.md says: the provisioner accepts the
tokens of the old and of the new key (both in the JWKS, chosen by kid) throughout."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from api_service import ApiServer, api_settings
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from msm_api.security import keys

pytestmark = pytest.mark.integration


def test_the_provisioner_follows_a_signing_key_rotation(
    make_app: Any, mongo_db: Any, endpoints: Any, amqp_url: str
) -> None:
    api = ApiServer(mongo_db, api_settings(endpoints, amqp_url))
    try:
        old = keys.from_private_key(ed25519.Ed25519PrivateKey.generate())
        new = keys.from_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        api.use(key_ring=keys.KeyRing(old))
        old_token = api.login()
        # The provisioner keeps the JWKS a second here
        # (MSM_PROVISIONER_API_JWKS_CACHE_S, 300 s by default).
        provisioner = make_app({"api_jwks_url": api.jwks_url, "api_jwks_cache_s": 1})
        client = provisioner.test_client()
        url = "/api/provisioning/attempts"

        def status(token: str, via: Any = client) -> int:
            return int(via.get(url, headers={"Authorization": f"Bearer {token}"}).status_code)

        assert status(old_token) == 200
        # Step 2 of the rotation: the new key published, verifying only.
        api.use(key_ring=keys.KeyRing(old, (new,)))
        time.sleep(1.2)  # the provisioner's JWKS cache runs out
        assert status(old_token) == 200  # and it fetches the JWKS with both keys
        # Step 3: the new key signs, the old one still verifies.
        api.use(key_ring=keys.KeyRing(new, (old,)))
        new_token = api.login()
        assert jwt.get_unverified_header(new_token)["kid"] == new.kid != old.kid
        assert status(new_token) == 200
        assert status(old_token) == 200
        # Step 4: the old key retired.
        api.use(key_ring=keys.KeyRing(new))
        fresh = make_app({"api_jwks_url": api.jwks_url}).test_client()
        assert status(new_token, fresh) == 200
        assert status(old_token, fresh) == 401
    finally:
        api.close()
