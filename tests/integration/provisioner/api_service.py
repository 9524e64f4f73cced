"""The real api service (its app, its keys) behind one HTTP server, so that the provisioner
verifies the api's own tokens against the api's own JWKS."""

from __future__ import annotations

import threading
from typing import Any

from msm_api.app import close_app, create_app
from msm_api.bootstrap import bootstrap
from msm_api.security.passwords import PasswordHasher
from msm_api.settings import ApiSettings
from werkzeug.serving import make_server

ADMIN = ("root@example.com", "a-long-password-1")


class NoPublisher:
    def publish(self, body: bytes, message_id: str) -> bool:
        return False

    def ready(self) -> bool:
        return False

    def close(self) -> None:
        pass


def api_settings(endpoints: Any, amqp_url: str) -> ApiSettings:
    return ApiSettings(
        env="test",
        mongo_uri=endpoints.mongo_uri,
        amqp_url=amqp_url,
        admin_email=ADMIN[0],
        admin_password=ADMIN[1],
        bcrypt_rounds=4,
    )


class ApiServer:
    """`use(signing_key=…)` or `use(key_ring=…)` serves a new app with those keys from then on."""

    def __init__(self, mongo_db: Any, settings: ApiSettings) -> None:
        self.mongo_db, self.settings = mongo_db, settings
        self.apps: list[Any] = []
        self.server = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _dispatch(self, environ: Any, start_response: Any) -> Any:
        return self.apps[-1](environ, start_response)

    def use(self, **keys: Any) -> Any:
        deps = bootstrap(
            self.settings,
            db=self.mongo_db,
            publisher=NoPublisher(),
            passwords=PasswordHasher(4),
            **keys,
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
