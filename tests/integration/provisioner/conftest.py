"""The provisioner's app on a fresh database per test; the registry is the local moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from msm_provisioner.adapters.registry import Boto3Registry, iot_client
from msm_provisioner.bootstrap import bootstrap
from msm_provisioner.handlers.allowlist import import_manifest
from msm_provisioner.http.app import app_deps, close_app, create_app
from msm_provisioner.settings import ProvisionerSettings
from provisioner_helpers import (
    HOOK_SECRET,
    HOOK_TOKEN,
    JwksServer,
    RecordingEvents,
    RecordingRotation,
    add_account,
)
from support import app_fixtures
from support.app_fixtures import closing_apps

pytestmark = pytest.mark.integration
app, client = app_fixtures.app, app_fixtures.client  # the shared fixtures over make_app


@pytest.fixture(scope="session")
def jwks() -> Iterator[JwksServer]:
    with JwksServer() as server:
        yield server


@pytest.fixture(scope="session")
def iot(endpoints: Any) -> Any:
    return iot_client(endpoints.aws_endpoint_url, "us-east-1")


@pytest.fixture
def make_app(mongo_db: Any, endpoints: Any, amqp_url: str, jwks: JwksServer, iot: Any) -> Any:
    def make(settings: dict[str, Any] | None = None, **overrides: Any) -> Any:
        base: dict[str, Any] = {
            "env": "test",
            "mongo_uri": endpoints.mongo_uri,
            "amqp_url": amqp_url,
            "aws_endpoint_url": endpoints.aws_endpoint_url,
            "hook_token": HOOK_TOKEN,
            "hook_secret": HOOK_SECRET,
            "api_jwks_url": jwks.url,
            "provisioner_rotation_timeout_s": 600,
        }
        background = overrides.pop("background", False)
        parts: dict[str, Any] = {
            "db": mongo_db,
            "events": RecordingEvents(),
            "rotation": RecordingRotation(),
            "registry": Boto3Registry(iot),
            **overrides,
        }
        config = ProvisionerSettings(**{**base, **(settings or {})})
        app = create_app(config, deps=bootstrap(config, **parts), background=background)
        built.append(app)
        return app

    with closing_apps(close_app) as built:
        yield make


@pytest.fixture
def deps(app: Any) -> Any:
    return app_deps(app)


@pytest.fixture
def token(jwks: JwksServer, mongo_db: Any) -> Any:
    """An access token of a new account holding `roles` (the account is what counts)."""

    def make(roles: list[str], **claims: Any) -> str:
        user_id = add_account(mongo_db, roles)
        return jwks.token(roles, **{"sub": user_id, **claims})

    return make


@pytest.fixture
def allow(deps: Any) -> Any:
    """Put serials on the allowlist (a manifest text)."""

    def add(text: str) -> Any:
        return import_manifest(deps.store, text, now=deps.clock())

    return add
