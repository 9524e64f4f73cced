"""Login, tokens, users."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from msm_api.models.common import FORBID, OPEN

Username = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@-]{3,64}$")]
Email = Annotated[str, Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}$", max_length=254)]
Password = Annotated[str, Field(min_length=1, max_length=1024)]
NewPassword = Annotated[str, Field(min_length=12, max_length=1024)]
RoleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]


class LoginRequest(BaseModel):
    model_config = FORBID
    username: Annotated[str, Field(min_length=1, max_length=254)] | None = None
    email: Annotated[str, Field(min_length=1, max_length=254)] | None = None
    password: Password

    @model_validator(mode="after")
    def _one_identity(self) -> LoginRequest:
        if (self.username is None) == (self.email is None):
            raise ValueError("give exactly one of username or email")
        return self

    @property
    def identity(self) -> str:
        return self.username if self.username is not None else str(self.email)


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"]
    expires_in: int


class RefreshRequest(BaseModel):
    model_config = FORBID
    refresh_token: Annotated[str, Field(min_length=1, max_length=4096)]


class RegisterRequest(BaseModel):
    model_config = FORBID
    username: Username
    email: Email
    password: NewPassword
    roles: Annotated[list[RoleName], Field(max_length=16)] = ["viewer"]


class UserPatch(BaseModel):
    model_config = FORBID
    roles: Annotated[list[RoleName], Field(max_length=16)] | None = None
    disabled: bool | None = None
    password: NewPassword | None = None


class UserOut(BaseModel):
    model_config = OPEN
    id: str
    username: str
    email: str
    roles: list[str]
    disabled: bool
    created_at: datetime | None = None


class MeOut(UserOut):
    permissions: list[str]


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class JwksOut(BaseModel):
    model_config = OPEN
    keys: list[dict[str, object]]
