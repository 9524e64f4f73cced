"""The api rotates its signing key as services/api/README.md says: the provisioner accepts the
tokens of the old and of the new key (both in the JWKS, chosen by kid) throughout."""

from __future__ import annotations

import threading
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from msm_api.app import close_app, create_app
from msm_api.bootstrap import bootstrap
from msm_api.security import keys
from msm_api.security.passwords import PasswordHasher
from msm_api.settings import ApiSettings
from werkzeug.serving import make_server

pytestmark = pytest.mark.integration
ADMIN = ("root@example.com", "a-long-password-1")


class NoPublisher:
    def publish(self, body: bytes, message_id: str) -> bool:
        return False

    def ready(self) -> bool:
        return False

    def close(self) -> None:
        pass


class Rotating:
    """The api's app behind one HTTP server; `use(ring)` swaps in an app with another key ring."""

    def __init__(self, mongo_db: Any, settings: ApiSettings) -> None:
        self.mongo_db, self.settings, self.apps = mongo_db, settings, []
        self.server = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _dispatch(self, environ: Any, start_response: Any) -> Any:
        return self.apps[-1](environ, start_response)

    def use(self, ring: keys.KeyRing) -> Any:
        deps = bootstrap(
            self.settings,
            db=self.mongo_db,
            publisher=NoPublisher(),
            passwords=PasswordHasher(4),
            key_ring=ring,
        )
        app = create_app(self.settings, deps=deps)
        self.apps.append(app)
        return app

    def login(self) -> str:
        client = self.apps[-1].test_client()
        resp = client.post("/api/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
        assert resp.status_code == 200
        return str(resp.get_json()["access_token"])

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/api/auth/jwks.json"

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
        for app in self.apps:
            close_app(app)


def test_the_provisioner_follows_a_signing_key_rotation(
    make_app: Any, mongo_db: Any, endpoints: Any, amqp_url: str
) -> None:
    settings = ApiSettings(
        env="test",
        mongo_uri=endpoints.mongo_uri,
        amqp_url=amqp_url,
        admin_email=ADMIN[0],
        admin_password=ADMIN[1],
        bcrypt_rounds=4,
    )
    api = Rotating(mongo_db, settings)
    try:
        old = keys.from_private_key(ed25519.Ed25519PrivateKey.generate())
        new = keys.from_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        api.use(keys.KeyRing(old))
        old_token = api.login()
        # The provisioner keeps the JWKS a second here (MSM_API_JWKS_CACHE_S, 300 s by default).
        provisioner = make_app({"api_jwks_url": api.jwks_url, "api_jwks_cache_s": 1})
        client = provisioner.test_client()
        url = "/api/provisioning/attempts"

        def status(token: str, via: Any = client) -> int:
            return int(via.get(url, headers={"Authorization": f"Bearer {token}"}).status_code)

        assert status(old_token) == 200
        # Step 2 of the rotation: the new key published, verifying only.
        api.use(keys.KeyRing(old, (new,)))
        time.sleep(1.2)  # the provisioner's JWKS cache runs out
        assert status(old_token) == 200  # and it fetches the JWKS with both keys
        # Step 3: the new key signs, the old one still verifies.
        api.use(keys.KeyRing(new, (old,)))
        new_token = api.login()
        assert jwt.get_unverified_header(new_token)["kid"] == new.kid != old.kid
        assert status(new_token) == 200
        assert status(old_token) == 200
        # Step 4: the old key retired.
        api.use(keys.KeyRing(new))
        fresh = make_app({"api_jwks_url": api.jwks_url}).test_client()
        assert status(new_token, fresh) == 200
        assert status(old_token, fresh) == 401
    finally:
        api.close()
