"""Fakes of the api's own interfaces for unit tests: accounts in memory, custom roles."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from msm_api.domain.permissions import BUILTIN_ROLES
from msm_common.auth.principal import Account

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
