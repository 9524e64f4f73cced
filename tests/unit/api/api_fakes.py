"""Fakes of the api's own interfaces for unit tests: accounts in memory, custom roles, and the
in-memory stores the app runs on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accounts_fake import CountedLogins, InMemoryAuditLog, InMemoryRoleStore, InMemoryUserStore
from api_store_fake import InMemoryApiStore
from bson import ObjectId
from msm_api.domain.permissions import BUILTIN_ROLES
from msm_common.auth.principal import Account
from telemetry_fake import InMemoryTelemetry

# Custom roles next to the built-in ones, as an admin would define them.
CUSTOM_ROLES = {
    "auditor": ("audit:read",),
    "fleet-manager": ("devices:read", "devices:command", "devices:manage"),
    "user-manager": ("users:manage",),
}
ROLE_DOCS = [
    {"name": name, "permissions": list(perms)}
    for name, perms in {**BUILTIN_ROLES, **CUSTOM_ROLES}.items()
]


class FakeAccounts:
    """The accounts the app authenticates against, in memory (the `users` documents' fields)."""

    def __init__(self) -> None:
        self.by_id: dict[str, Account] = {}

    def account(self, user_id: str) -> Account | None:
        return self.by_id.get(user_id)

    def add(self, roles: tuple[str, ...], username: str, **fields: Any) -> Account:
        values = {
            "user_id": str(ObjectId()),
            "username": username,
            "roles": roles,
            "disabled": False,
            "token_version": 0,
            **fields,
        }
        account = Account(**values)
        self.by_id[account.user_id] = account
        return account


@dataclass
class Fakes:
    """The in-memory stores `store_app` runs on (the roles: `api_fakes.ROLE_DOCS`)."""

    devices: InMemoryApiStore = field(default_factory=InMemoryApiStore)
    telemetry: InMemoryTelemetry = field(default_factory=InMemoryTelemetry)
    users: InMemoryUserStore = field(default_factory=InMemoryUserStore)
    roles: InMemoryRoleStore = field(
        default_factory=lambda: InMemoryRoleStore({d["name"]: dict(d) for d in ROLE_DOCS})
    )
    audit: InMemoryAuditLog = field(default_factory=InMemoryAuditLog)
    logins: CountedLogins = field(default_factory=CountedLogins)
