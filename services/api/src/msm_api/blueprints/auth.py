"""/api/auth: login, refresh, logout, me, register, JWKS; /api/users for user management."""

from __future__ import annotations

from flask import Blueprint, Response, request

from msm_api import accounts, audit, paging, user_admin
from msm_api.context import deps, now, principal
from msm_api.domain.permissions import USERS_MANAGE
from msm_api.models.auth import (
    JwksOut,
    LoginRequest,
    MeOut,
    RefreshRequest,
    RegisterRequest,
    TokenResponse,
    UserOut,
    UserPage,
    UserPatch,
)
from msm_api.models.common import PageQuery
from msm_api.problems import ApiError
from msm_api.routing import AUTHENTICATED, PUBLIC, endpoint, json_response

bp = Blueprint("auth", __name__, url_prefix="/api")


@endpoint(
    bp,
    "/auth/login",
    "POST",
    summary="Log in with username or email and password",
    access=PUBLIC,
    tag="auth",
    body=LoginRequest,
    response=TokenResponse,
    action="auth.login",
    errors=(401, 429),
)
def login(body: LoginRequest) -> Response:
    audit.note(target=body.identity)
    pair = accounts.login(deps(), body.identity, body.password, request.remote_addr or "", now())
    audit.note(actor=body.identity)
    return json_response(pair, headers={"Cache-Control": "no-store"})


@endpoint(
    bp,
    "/auth/refresh",
    "POST",
    summary="Exchange a refresh token for a new pair",
    access=PUBLIC,
    tag="auth",
    body=RefreshRequest,
    response=TokenResponse,
    action="auth.refresh",
    errors=(401,),
)
def refresh(body: RefreshRequest) -> Response:
    pair = accounts.refresh(deps(), body.refresh_token, now())
    return json_response(pair, headers={"Cache-Control": "no-store"})


@endpoint(
    bp,
    "/auth/logout",
    "POST",
    summary="Revoke a refresh token and its family",
    access=PUBLIC,
    tag="auth",
    body=RefreshRequest,
    status=204,
    action="auth.logout",
    errors=(401,),
)
def logout(body: RefreshRequest) -> Response:
    audit.note(target=accounts.logout(deps(), body.refresh_token))
    return Response(status=204)


@endpoint(
    bp,
    "/auth/logout-all",
    "POST",
    summary="End every session of the caller and revoke its access tokens",
    access=AUTHENTICATED,
    tag="auth",
    status=204,
    action="auth.logout_all",
)
def logout_all() -> Response:
    accounts.end_sessions(deps(), principal().user_id)
    return Response(status=204)


@endpoint(
    bp,
    "/auth/me",
    "GET",
    summary="The caller's account and permissions",
    access=AUTHENTICATED,
    tag="auth",
    response=MeOut,
)
def me() -> Response:
    who = principal()
    user = accounts.user_by_id(deps(), who.user_id)
    if user is None:
        raise ApiError(401, "the token is invalid or expired")
    return json_response({**accounts.public_user(user), "permissions": sorted(who.permissions)})


@endpoint(
    bp,
    "/auth/jwks.json",
    "GET",
    summary="Public keys that verify access tokens",
    access=PUBLIC,
    tag="auth",
    response=JwksOut,
)
def jwks() -> Response:
    return json_response(deps().tokens.jwks(), headers={"Cache-Control": "public, max-age=300"})


@endpoint(
    bp,
    "/auth/register",
    "POST",
    summary="Create a user (an admin action)",
    access=USERS_MANAGE,
    tag="users",
    body=RegisterRequest,
    response=UserOut,
    status=201,
    action="user.register",
    errors=(409,),
)
def register(body: RegisterRequest) -> Response:
    user_admin.check_grant(deps(), principal(), sorted(set(body.roles)))
    doc = accounts.create_user(
        deps(),
        username=body.username,
        email=body.email,
        password=body.password,
        roles=body.roles,
        now=now(),
    )
    audit.note(target=body.username, roles=doc["roles"])
    return json_response(accounts.public_user(doc), status=201)


@endpoint(
    bp,
    "/users",
    "GET",
    summary="List users",
    access=USERS_MANAGE,
    tag="users",
    query=PageQuery,
    response=UserPage,
)
def list_users(query: PageQuery) -> Response:
    d = deps()
    fetch = d.users.users_page
    docs, cursor = paging.by_key(
        d.cursors, "users", query.cursor, query.limit, fetch, key="username"
    )
    return json_response({"items": [accounts.public_user(u) for u in docs], "next_cursor": cursor})


@endpoint(
    bp,
    "/users/<user_id>",
    "PATCH",
    summary="Change a user's roles, status or password",
    access=USERS_MANAGE,
    tag="users",
    body=UserPatch,
    response=UserOut,
    action="user.update",
    errors=(404, 409),
)
def patch_user(user_id: str, body: UserPatch) -> Response:
    doc, changed = user_admin.update_user(
        deps(),
        principal(),
        user_id,
        roles=body.roles,
        disabled=body.disabled,
        password=body.password,
        now=now(),
    )
    audit.note(fields=changed)
    return json_response(accounts.public_user(doc))
