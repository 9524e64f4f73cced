"""Unit fixtures for the api: the real app over fakes (no database, no broker)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from api_fakes import ROLE_DOCS, FakeAccounts, FakePublisher
from cryptography.hazmat.primitives.asymmetric import ed25519
from msm_api.app import create_app
from msm_api.security import keys
from msm_api.security.passwords import PasswordHasher
from msm_api.settings import ApiSettings
from msm_common.auth.principal import RoleCache
from pymongo.errors import ServerSelectionTimeoutError


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


@pytest.fixture
def unit_app(signing_key: keys.SigningKey, fake_accounts: FakeAccounts) -> Any:
    settings = ApiSettings(env="test", max_body_bytes=4096)
    return create_app(
        settings,
        db=UnreachableDb(),
        publisher=FakePublisher(),
        signing_key=signing_key,
        passwords=PasswordHasher(4),
        accounts=fake_accounts,
        roles=RoleCache(lambda: ROLE_DOCS),
        prepare=False,
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
