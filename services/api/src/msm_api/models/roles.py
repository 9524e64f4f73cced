"""Roles and their permissions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from msm_api.models.auth import RoleName
from msm_api.models.common import FORBID

Permission = Literal[
    "devices:read",
    "devices:command",
    "devices:manage",
    "telemetry:read",
    "config:read",
    "users:manage",
    "roles:manage",
    "audit:read",
]
Permissions = Annotated[list[Permission], Field(max_length=16)]


class RoleCreate(BaseModel):
    model_config = FORBID
    name: RoleName
    permissions: Permissions


class RoleUpdate(BaseModel):
    model_config = FORBID
    permissions: Permissions


class RoleOut(BaseModel):
    name: str
    permissions: list[str]
    builtin: bool


class RoleList(BaseModel):
    items: list[RoleOut]
