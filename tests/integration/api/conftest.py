"""Integration fixtures for the api: the real app on a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_helpers import ADMIN_EMAIL, ADMIN_PASSWORD, AuthActions
from cryptography.hazmat.primitives.asymmetric import ed25519
from msm_api.app import close_app, create_app
from msm_api.bootstrap import bootstrap
from msm_api.security import keys
from msm_api.security.passwords import PasswordHasher
from msm_api.settings import ApiSettings
from support import app_fixtures
from support.api_publisher import FakePublisher
from support.app_fixtures import closing_apps

pytestmark = pytest.mark.integration
app, client = app_fixtures.app, app_fixtures.client  # the shared fixtures over make_app


@pytest.fixture(scope="session")
def api_signing_key() -> keys.SigningKey:
    return keys.from_private_key(ed25519.Ed25519PrivateKey.generate())


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def make_app(mongo_db: Any, endpoints: Any, api_signing_key: Any, publisher: FakePublisher) -> Any:
    """Build the app over the test's database; keyword overrides change settings or deps."""

    def make(settings: dict[str, Any] | None = None, **overrides: Any) -> Any:
        base = {
            "env": "test",
            "mongo_uri": endpoints.mongo_uri,
            "amqp_url": endpoints.amqp_url,
            "bcrypt_rounds": 4,
            "admin_email": ADMIN_EMAIL,
            "admin_password": ADMIN_PASSWORD,
            "login_max_account_failures": 3,
            "login_max_address_failures": 8,
            # Long enough that a throttled key stays throttled however slow the machine is.
            "login_backoff_base_s": 30.0,
        }
        parts = {
            "db": mongo_db,
            "publisher": publisher,
            "signing_key": api_signing_key,
            "passwords": PasswordHasher(4),
            **overrides,
        }
        config = ApiSettings(**{**base, **(settings or {})})
        app = create_app(config, deps=bootstrap(config, **parts))
        built.append(app)
        return app

    with closing_apps(close_app) as built:
        yield make


@pytest.fixture
def auth(app: Any, client: Any) -> Iterator[AuthActions]:
    yield AuthActions(app, client)
