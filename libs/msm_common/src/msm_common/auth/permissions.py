"""Permissions and the built-in roles (a contract: the api grants them, every service checks)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

DEVICES_READ: Final = "devices:read"
DEVICES_COMMAND: Final = "devices:command"
DEVICES_MANAGE: Final = "devices:manage"
TELEMETRY_READ: Final = "telemetry:read"
CONFIG_READ: Final = "config:read"
USERS_MANAGE: Final = "users:manage"
ROLES_MANAGE: Final = "roles:manage"
AUDIT_READ: Final = "audit:read"

ALL_PERMISSIONS: Final = (
    DEVICES_READ,
    DEVICES_COMMAND,
    DEVICES_MANAGE,
    TELEMETRY_READ,
    CONFIG_READ,
    USERS_MANAGE,
    ROLES_MANAGE,
    AUDIT_READ,
)

ADMIN: Final = "admin"
BUILTIN_ROLES: Final[dict[str, tuple[str, ...]]] = {
    ADMIN: ALL_PERMISSIONS,
    "operator": (DEVICES_READ, DEVICES_COMMAND, TELEMETRY_READ, CONFIG_READ),
    "viewer": (DEVICES_READ, TELEMETRY_READ, CONFIG_READ),
}

RoleMap = dict[str, frozenset[str]]
BUILTIN_TABLE: Final[RoleMap] = {name: frozenset(perms) for name, perms in BUILTIN_ROLES.items()}


def permissions_of(role_names: Iterable[str], table: RoleMap) -> frozenset[str]:
    """The union of the permissions of `role_names`; unknown roles grant nothing."""
    granted: set[str] = set()
    for name in role_names:
        granted |= table.get(name, frozenset())
    return frozenset(granted)
