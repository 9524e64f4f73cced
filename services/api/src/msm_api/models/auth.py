"""Login, tokens, users."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from msm_api.models.common import FORBID, OPEN

Username = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@-]{3,64}$")]
# No `\s`: regex engines disagree on it (JSON Schema's ECMA, pydantic's Rust, Python's re).
_EMAIL_CHAR: Final = (
    r"[^@\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
)
Email = Annotated[
    str, Field(pattern=rf"^{_EMAIL_CHAR}{{1,64}}@{_EMAIL_CHAR}{{1,190}}$", max_length=254)
]
Password = Annotated[str, Field(min_length=1, max_length=1024)]
NewPassword = Annotated[str, Field(min_length=12, max_length=1024)]
RoleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]


Identity = Annotated[str, Field(min_length=1, max_length=254)]
_IDENTITY_SCHEMA: Final = WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 254})


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # absent, never null


class LoginRequest(BaseModel):
    # Exactly one of username and email, neither null: the schema says so too.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["username"]}, {"required": ["email"]}]},
    )
    username: Annotated[Identity | None, _IDENTITY_SCHEMA] = Field(
        None, json_schema_extra=_no_default
    )
    email: Annotated[Identity | None, _IDENTITY_SCHEMA] = Field(None, json_schema_extra=_no_default)
    password: Password

    @field_validator("username", "email", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must be a string (leave it out instead of null)")
        return value

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
