"""The composition root: settings in, every dependency of the API out. Nothing runs at import."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from msm_common.adapters import mongo
from msm_common.auth.principal import Accounts, Authenticator, MongoAccounts, RoleCache, mongo_roles
from msm_common.secrets import SecretBox, box_for
from pymongo.database import Database

from msm_api import accounts
from msm_api.adapters.accounts import MongoAuditLog, MongoRoleStore, MongoUserStore
from msm_api.adapters.publisher import AmqpCommandPublisher
from msm_api.adapters.roles import seed_builtin_roles
from msm_api.adapters.store import MongoApiStore
from msm_api.adapters.telemetry import MongoTelemetryStore
from msm_api.context import CommandPublisher, Deps
from msm_api.domain.cursor import CursorCodec
from msm_api.metrics import ApiMetrics
from msm_api.ports import (
    ApiStore,
    AuditLog,
    LoginAttempts,
    RateLimits,
    RoleStore,
    TelemetryStore,
    UserStore,
)
from msm_api.security import keys, ratelimit, throttle
from msm_api.security.passwords import PasswordHasher
from msm_api.security.throttle import LoginThrottle, ThrottlePolicy
from msm_api.security.tokens import TokenService
from msm_api.settings import ApiSettings


def utcnow() -> datetime:
    return datetime.now(UTC)


def bootstrap(
    settings: ApiSettings,
    *,
    db: Database[dict[str, Any]] | None = None,
    publisher: CommandPublisher | None = None,
    signing_key: keys.SigningKey | None = None,
    key_ring: keys.KeyRing | None = None,
    passwords: PasswordHasher | None = None,
    clock: Callable[[], datetime] | None = None,
    accounts: Accounts | None = None,
    roles: RoleCache | None = None,
    secrets: SecretBox | None = None,
    store: ApiStore | None = None,
    telemetry: TelemetryStore | None = None,
    rate_limits: RateLimits | None = None,
    login_attempts: LoginAttempts | None = None,
    users: UserStore | None = None,
    role_store: RoleStore | None = None,
    audit_log: AuditLog | None = None,
) -> Deps:
    """Build the API's dependencies; each part given replaces the real one (tests pass fakes).
    `signing_key` is used for the real key ring when `key_ring` is not given."""
    closers: list[Callable[[], None]] = []
    if db is None:
        client = mongo.connect(settings.mongo_uri, app_name=settings.service_name)
        closers.append(client.close)
        db = client[settings.database_name]
    ring = key_ring or keys.ring_for_settings(settings, signing_key or keys.for_settings(settings))
    key = ring.signing
    publisher = publisher or AmqpCommandPublisher(
        settings.amqp_url, timeout_s=settings.publish_timeout_s
    )
    closers.insert(0, publisher.close)
    tokens = TokenService(
        ring,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_ttl=timedelta(seconds=settings.access_token_ttl_s),
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_s),
    )
    roles = roles or RoleCache(mongo_roles(db))
    return Deps(
        settings=settings,
        db=db,
        store=store or MongoApiStore(db),
        telemetry=telemetry or MongoTelemetryStore(db),
        rate_limits=rate_limits or ratelimit.RateLimiter(db),
        users=users or MongoUserStore(db),
        role_store=role_store or MongoRoleStore(db),
        audit_log=audit_log or MongoAuditLog(db),
        publisher=publisher,
        tokens=tokens,
        passwords=passwords or PasswordHasher(settings.bcrypt_rounds),
        cursors=CursorCodec(key.derive_secret("cursor")),
        throttle=login_attempts or LoginThrottle(db, ThrottlePolicy.from_settings(settings)),
        roles=roles,
        auth=Authenticator(tokens.verifier, accounts or MongoAccounts(db), roles),
        metrics=ApiMetrics(),
        clock=clock or utcnow,
        digest_secret=key.derive_secret("idempotency"),
        secrets=secrets or box_for(settings),
        closers=closers,
    )


def prepare(d: Deps) -> None:
    """Idempotent start-up work (every replica may run it): indexes, built-in roles, first admin."""
    mongo.ensure_indexes(d.db, d.settings.telemetry_retention_days)
    d.db[throttle.COLLECTION].create_indexes(throttle.INDEXES)
    d.db[ratelimit.COLLECTION].create_indexes(ratelimit.INDEXES)
    now = d.clock()
    seed_builtin_roles(d.db, now)
    accounts.ensure_first_admin(d, now)
