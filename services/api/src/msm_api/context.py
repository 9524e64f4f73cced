"""What a request handler can reach: the service's dependencies and the caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from flask import current_app, g
from msm_common.auth.principal import Authenticator, Principal, RoleCache
from msm_common.secrets import SecretBox
from pymongo.database import Database

from msm_api import ports
from msm_api.domain.cursor import CursorCodec
from msm_api.security.passwords import PasswordHasher
from msm_api.security.tokens import TokenService
from msm_api.settings import ApiSettings

if TYPE_CHECKING:
    from msm_api.metrics import ApiMetrics

EXTENSION = "msm"
__all__ = ["EXTENSION", "CommandPublisher", "Deps", "Principal", "deps", "now", "principal"]


class CommandPublisher(Protocol):
    """Puts a command request on `msm.commands` and says whether RabbitMQ confirmed it."""

    def publish(self, body: bytes, message_id: str) -> bool: ...

    def ready(self) -> bool: ...

    def close(self) -> None: ...


@dataclass
class Deps:
    settings: ApiSettings
    db: Database[dict[str, Any]]
    store: ports.ApiStore  # what the device, command and config views read and write
    telemetry: ports.TelemetryStore
    rate_limits: ports.RateLimits  # CSV exports per caller
    users: ports.UserStore  # accounts and their refresh tokens
    role_store: ports.RoleStore  # the roles as stored (`roles` is the few-seconds cache of them)
    audit_log: ports.AuditLog
    publisher: CommandPublisher
    tokens: TokenService
    passwords: PasswordHasher
    cursors: CursorCodec
    throttle: ports.LoginAttempts
    roles: RoleCache
    auth: Authenticator
    metrics: ApiMetrics
    clock: Callable[[], datetime]
    digest_secret: bytes
    secrets: SecretBox  # device secrets at rest (msm_common.secrets)
    closers: list[Callable[[], None]] = field(default_factory=list)


def deps() -> Deps:
    found: Deps = current_app.extensions[EXTENSION]
    return found


def principal() -> Principal:
    found: Principal = g.principal
    return found


def now() -> datetime:
    return deps().clock()
