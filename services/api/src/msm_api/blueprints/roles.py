"""/api/role: the roles and their permissions; management needs roles:manage."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response

from msm_api import audit
from msm_api.context import deps, now, principal
from msm_api.domain.permissions import BUILTIN_ROLES, ROLES_MANAGE
from msm_api.models.roles import RoleCreate, RoleList, RoleOut, RoleUpdate
from msm_api.problems import ApiError
from msm_api.routing import AUTHENTICATED, endpoint, json_response

bp = Blueprint("roles", __name__, url_prefix="/api")
ROLE = "/role/<name>"


def _out(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": doc["name"],
        "permissions": sorted(doc.get("permissions") or []),
        "builtin": doc["name"] in BUILTIN_ROLES,
    }


def _mutable(name: str) -> None:
    if name in BUILTIN_ROLES:
        raise ApiError(409, f"{name} is a built-in role and cannot be changed")


def _grantable(permissions: Iterable[str]) -> None:
    """A role may carry only permissions its author holds: no escalation through roles."""
    beyond = set(permissions) - principal().permissions
    if beyond:
        raise ApiError(
            403,
            f"permissions: you cannot grant {min(beyond)}, which you do not hold",
            field="permissions",
        )


@endpoint(
    bp,
    "/role",
    "GET",
    summary="Roles and their permissions",
    access=AUTHENTICATED,
    tag="roles",
    response=RoleList,
)
def list_roles() -> Response:
    docs = deps().role_store.roles()
    return json_response({"items": [_out(d) for d in docs]})


@endpoint(
    bp,
    ROLE,
    "GET",
    summary="One role",
    access=AUTHENTICATED,
    tag="roles",
    response=RoleOut,
    errors=(404,),
)
def get_role(name: str) -> Response:
    doc = deps().role_store.role(name)
    if doc is None:
        raise ApiError(404, "no such role")
    return json_response(_out(doc))


@endpoint(
    bp,
    "/role",
    "POST",
    summary="Create a role",
    access=ROLES_MANAGE,
    tag="roles",
    body=RoleCreate,
    response=RoleOut,
    status=201,
    action="role.create",
    errors=(409,),
)
def create_role(body: RoleCreate) -> Response:
    _grantable(body.permissions)
    doc = {"name": body.name, "permissions": sorted(set(body.permissions)), "created_at": now()}
    if not deps().role_store.insert_role(doc):
        raise ApiError(409, "a role with this name already exists")
    deps().roles.invalidate()
    audit.note(target=body.name, permissions=doc["permissions"])
    return json_response(_out(doc), status=201)


@endpoint(
    bp,
    ROLE,
    "PUT",
    summary="Replace a role's permissions",
    access=ROLES_MANAGE,
    tag="roles",
    body=RoleUpdate,
    response=RoleOut,
    action="role.update",
    errors=(404, 409),
)
def update_role(name: str, body: RoleUpdate) -> Response:
    _mutable(name)
    _grantable(body.permissions)
    perms = sorted(set(body.permissions))
    if not deps().role_store.set_permissions(name, perms, now()):
        raise ApiError(404, "no such role")
    deps().roles.invalidate()
    audit.note(permissions=perms)
    return json_response({"name": name, "permissions": perms, "builtin": False})


@endpoint(
    bp,
    ROLE,
    "DELETE",
    summary="Delete a role no user holds",
    access=ROLES_MANAGE,
    tag="roles",
    status=204,
    action="role.delete",
    errors=(404, 409),
)
def delete_role(name: str) -> Response:
    _mutable(name)
    d = deps()
    if d.users.anyone_holds(name):
        raise ApiError(409, "users still hold this role")
    if not d.role_store.delete_role(name):
        raise ApiError(404, "no such role")
    d.roles.invalidate()
    return Response(status=204)
