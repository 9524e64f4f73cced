"""Changing accounts without privilege escalation or lock-out.

- A caller grants only permissions it holds, and only an admin grants the admin role.
- A caller changes only accounts whose permissions it holds itself (a users:manage holder
  cannot disable or demote an admin), and never its own roles or enabled flag.
- The last enabled admin cannot be disabled or demoted (409): someone must be able to
  administer the system. `msm-api create-admin` is the way back in if that ever fails.
Every change of roles, status or password bumps the account's token version and revokes its
refresh tokens: the access tokens it holds stop working at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msm_common.auth.principal import Principal, normalise_user_id

from msm_api.accounts import check_roles_exist
from msm_api.context import Deps
from msm_api.domain.permissions import ADMIN, ALL_PERMISSIONS, permissions_of
from msm_api.problems import ApiError

LAST_ADMIN = "the last enabled admin cannot be disabled or demoted"


def permissions_now(d: Deps, roles: list[str]) -> frozenset[str]:
    """What `roles` carry as stored now (not the few-seconds role cache: a grant decided on a
    stale table could hand out a permission an admin has just added to a role)."""
    docs = d.role_store.roles(roles)
    table = {str(doc["name"]): frozenset(doc.get("permissions") or ()) for doc in docs}
    table[ADMIN] = frozenset(ALL_PERMISSIONS)
    return permissions_of(roles, table)


def check_grant(d: Deps, who: Principal, roles: list[str]) -> None:
    """403 unless `who` holds every permission `roles` carry (and is an admin, for admin)."""
    if ADMIN in roles and not who.is_admin:
        raise ApiError(403, "roles: only an admin can grant the admin role", field="roles")
    beyond = permissions_now(d, roles) - who.permissions
    if beyond:
        raise ApiError(
            403, f"roles: you cannot grant {min(beyond)}, which you do not hold", field="roles"
        )


def _enabled_admin(roles: list[str], disabled: bool) -> bool:
    return ADMIN in roles and not disabled


def update_user(
    d: Deps,
    who: Principal,
    user_id: str,
    *,
    roles: list[str] | None,
    disabled: bool | None,
    password: str | None,
    now: datetime,
) -> tuple[dict[str, Any], list[str]]:
    """Apply the changes the caller may make; returns the account after and the changed fields."""
    canonical = normalise_user_id(user_id)
    doc = d.users.user(canonical) if canonical else None
    if doc is None:
        raise ApiError(404, "no such user")
    old_roles = sorted(set(doc.get("roles") or []))
    old_disabled = bool(doc.get("disabled", False))
    new_roles = sorted(set(roles)) if roles is not None else old_roles
    new_disabled = disabled if disabled is not None else old_disabled
    if not who.is_admin and (ADMIN in old_roles or permissions_now(d, old_roles) - who.permissions):
        raise ApiError(403, "you cannot change an account with permissions you do not hold")
    oid = str(doc["_id"])
    was_admin = _enabled_admin(old_roles, old_disabled)
    demotes = was_admin and not _enabled_admin(new_roles, new_disabled)
    if demotes and not d.users.has_enabled_admin(ADMIN, besides=oid):
        raise ApiError(409, LAST_ADMIN)
    if canonical == who.user_id and (new_roles != old_roles or new_disabled != old_disabled):
        raise ApiError(403, "you cannot change your own roles or disable yourself")
    changes: dict[str, Any] = {}
    if new_roles != old_roles:
        check_roles_exist(d, new_roles)
        check_grant(d, who, new_roles)
        changes["roles"] = new_roles
    if new_disabled != old_disabled:
        changes["disabled"] = new_disabled
    if password is not None:
        changes["password"] = d.passwords.hash(password)
    if not changes:
        return doc, []
    after = d.users.update_user(oid, {**changes, "updated_at": now})
    if after is None:
        raise ApiError(404, "no such user")
    if demotes and not d.users.has_enabled_admin(ADMIN):  # a concurrent change removed the other
        d.users.restore_user(oid, {"roles": old_roles, "disabled": old_disabled})
        raise ApiError(409, LAST_ADMIN)
    d.users.revoke_user_refresh(oid)
    return after, sorted(changes)
