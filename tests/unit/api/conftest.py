"""Unit fixtures for the api: the real app over fakes (no database, no broker)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from api_fakes import ROLE_DOCS, FakeAccounts, Fakes
from api_store_fake import InMemoryApiStore
from cryptography.hazmat.primitives.asymmetric import ed25519
from msm_api.app import create_app
from msm_api.bootstrap import bootstrap
from msm_api.security import keys
from msm_api.security.passwords import PasswordHasher
from msm_api.settings import ApiSettings
from msm_common.auth.principal import RoleCache
from pymongo.errors import ServerSelectionTimeoutError
from support.api_publisher import FakePublisher
from telemetry_fake import InMemoryRateLimits


class UnreachableCollection:
    """Every database call fails as it would with the server down."""

    def __getattr__(self, name: str) -> Any:
        def fail(*_args: Any, **_kwargs: Any) -> Any:
            raise ServerSelectionTimeoutError("database unreachable (unit test)")

        return fail


class UnreachableDb(UnreachableCollection):
    def __getitem__(self, name: str) -> UnreachableCollection:
        return UnreachableCollection()


@pytest.fixture(scope="session")
def signing_key() -> keys.SigningKey:
    return keys.from_private_key(ed25519.Ed25519PrivateKey.generate())


@pytest.fixture
def fake_accounts() -> FakeAccounts:
    return FakeAccounts()


def _app(signing_key: keys.SigningKey, accounts: FakeAccounts, **fakes: Any) -> Any:
    """The app over an unreachable database, with the in-memory `fakes` given (bootstrap's
    keyword arguments) in its place."""
    settings = ApiSettings(env="test", max_body_bytes=4096)
    deps = bootstrap(
        settings,
        db=UnreachableDb(),  # type: ignore[arg-type]
        publisher=FakePublisher(),
        signing_key=signing_key,
        passwords=PasswordHasher(4),
        accounts=accounts,
        **{"roles": RoleCache(lambda: ROLE_DOCS), **fakes},
    )
    return create_app(settings, deps=deps, prepare=False)


@pytest.fixture
def unit_app(signing_key: keys.SigningKey, fake_accounts: FakeAccounts) -> Any:
    """The app over an unreachable database (every read fails as with the server down)."""
    return _app(signing_key, fake_accounts)


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
def api_store(fakes: Fakes) -> InMemoryApiStore:
    return fakes.devices


@pytest.fixture
def store_app(signing_key: keys.SigningKey, fake_accounts: FakeAccounts, fakes: Fakes) -> Any:
    """The app on the in-memory stores: devices, commands, configs, telemetry, users, roles,
    audit."""
    return _app(
        signing_key,
        fake_accounts,
        store=fakes.devices,
        telemetry=fakes.telemetry,
        rate_limits=InMemoryRateLimits(),
        users=fakes.users,
        role_store=fakes.roles,
        roles=RoleCache(fakes.roles.roles),
        audit_log=fakes.audit,
        login_attempts=fakes.logins,
    )


@pytest.fixture
def bearer(unit_app: Any, fake_accounts: FakeAccounts) -> Any:
    """Headers with a valid access token of a new account holding the given roles."""
    tokens = unit_app.extensions["msm"].tokens

    def make(*roles: str, now: datetime | None = None) -> dict[str, str]:
        account = fake_accounts.add(roles, f"{'-'.join(roles) or 'nobody'}-user")
        issued = tokens.issue_access(
            user_id=account.user_id,
            username=account.username,
            roles=list(roles),
            version=account.token_version,
            now=now or datetime.now(UTC),
        )
        return {"Authorization": f"Bearer {issued.token}"}

    return make
