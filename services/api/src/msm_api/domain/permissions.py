"""Permissions and the built-in roles: the contract lives in msm_common (every service checks
them); the api re-exports it for its own modules."""

from __future__ import annotations

from msm_common.auth.permissions import (
    ADMIN,
    ALL_PERMISSIONS,
    AUDIT_READ,
    BUILTIN_ROLES,
    CONFIG_READ,
    DEVICES_COMMAND,
    DEVICES_MANAGE,
    DEVICES_READ,
    ROLES_MANAGE,
    TELEMETRY_READ,
    USERS_MANAGE,
    permissions_of,
)

__all__ = [
    "ADMIN",
    "ALL_PERMISSIONS",
    "AUDIT_READ",
    "BUILTIN_ROLES",
    "CONFIG_READ",
    "DEVICES_COMMAND",
    "DEVICES_MANAGE",
    "DEVICES_READ",
    "ROLES_MANAGE",
    "TELEMETRY_READ",
    "USERS_MANAGE",
    "permissions_of",
]
