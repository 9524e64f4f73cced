"""Handlers for accounts: login, token rotation, logout, users and the first admin."""

from __future__ import annotations

import logging
import os
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from msm_common.auth.principal import normalise_user_id
from msm_common.settings import SettingsError

from msm_api.context import Deps
from msm_api.problems import ApiError
from msm_api.security.throttle import account_key, address_key
from msm_api.security.tokens import TokenError

log = logging.getLogger(__name__)
INVALID_LOGIN = "invalid credentials"
INVALID_REFRESH = "the refresh token is invalid, expired or already used"


def find_user(d: Deps, identity: str) -> dict[str, Any] | None:
    field = "email" if "@" in identity else "username"
    value = identity.strip().lower() if field == "email" else identity.strip()
    return d.users.user_by(field, value)


def user_by_id(d: Deps, user_id: str) -> dict[str, Any] | None:
    canonical = normalise_user_id(user_id)
    if canonical is None:
        return None
    return d.users.user(canonical)


def end_sessions(d: Deps, user_id: str) -> None:
    """Revoke every refresh token of the user and every access token issued to them so far."""
    canonical = normalise_user_id(user_id)
    if canonical is None:
        return
    d.users.revoke_user_refresh(canonical)
    d.users.bump_token_version(canonical)


def public_user(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(doc["_id"]),
        "username": doc["username"],
        "email": doc["email"],
        "roles": list(doc.get("roles") or []),
        "disabled": bool(doc.get("disabled", False)),
        "created_at": doc.get("created_at"),
    }


def issue_pair(
    d: Deps,
    user: dict[str, Any],
    family: str,
    now: datetime,
    session_ends_at: datetime,
    *,
    replaces: str | None = None,
) -> dict[str, Any]:
    """An access token at the account's current version, and a refresh token of `family` that
    never outlives the session's absolute end (and that `replaces` the spent one, if any)."""
    user_id = str(user["_id"])
    access = d.tokens.issue_access(
        user_id=user_id,
        username=user["username"],
        roles=list(user.get("roles") or []),
        version=int(user.get("token_version", 0)),
        now=now,
    )
    refresh = d.tokens.issue_refresh(
        user_id=user_id, family=family, now=now, not_after=session_ends_at
    )
    d.users.insert_refresh(
        {
            "_id": refresh.jti,
            "family": family,
            "user_id": user_id,
            "issued_at": now,
            "expires_at": refresh.expires_at,
            "session_ends_at": session_ends_at,
            "revoked": False,
            "replaced_by": None,
        }
    )
    if replaces is not None:
        d.users.mark_replaced(replaces, refresh.jti)
    return {
        "access_token": access.token,
        "refresh_token": refresh.token,
        "token_type": "Bearer",
        "expires_in": int(d.tokens.access_ttl.total_seconds()),
    }


def login(d: Deps, identity: str, password: str, address: str, now: datetime) -> dict[str, Any]:
    """Tokens for a good password; one generic 401 otherwise, 429 when throttled."""
    user = find_user(d, identity)
    account = account_key(str(user["_id"]) if user else None, identity)
    client = address_key(address)
    wait = d.throttle.begin((client, account), now)  # counted before the password is checked
    if wait:
        d.metrics.login_failures.labels("throttled").inc()
        raise ApiError(
            429, "too many failed logins; try again later", headers={"Retry-After": str(wait)}
        )
    ok = d.passwords.verify(password, user.get("password") if user else None)
    if user is None or not ok or user.get("disabled"):
        d.metrics.login_failures.labels("invalid").inc()
        raise ApiError(401, INVALID_LOGIN)
    d.throttle.succeeded(account, client, now)
    session_ends_at = now + timedelta(seconds=d.settings.session_max_lifetime_s)
    return issue_pair(d, user, uuid.uuid4().hex, now, session_ends_at)


def refresh(d: Deps, token: str, now: datetime) -> dict[str, Any]:
    """Rotate: the old token is spent; a spent token presented again revokes its family."""
    try:
        claims = d.tokens.verify_refresh(token)
    except TokenError:
        raise ApiError(401, INVALID_REFRESH) from None
    new_jti_placeholder = uuid.uuid4().hex
    spent = d.users.spend_refresh(claims.jti, new_jti_placeholder, now)
    if spent is None:
        if d.users.refresh_known(claims.jti):
            revoke_family(d, claims.family)
            log.warning("refresh token reuse; family %s revoked", claims.family)
        raise ApiError(401, INVALID_REFRESH)
    session_ends_at = spent.get("session_ends_at") or spent["issued_at"] + timedelta(
        seconds=d.settings.session_max_lifetime_s
    )
    user = user_by_id(d, claims.user_id)
    if user is None or user.get("disabled") or now >= session_ends_at:
        revoke_family(d, claims.family)
        raise ApiError(401, INVALID_REFRESH)
    return issue_pair(d, user, claims.family, now, session_ends_at, replaces=claims.jti)


def revoke_family(d: Deps, family: str) -> None:
    d.users.revoke_family(family)


def logout(d: Deps, token: str) -> str:
    """End this session, and the powers of every access token issued to the user so far (their
    other sessions get fresh access tokens on their next refresh). Returns the user id."""
    try:
        claims = d.tokens.verify_refresh(token)
    except TokenError:
        raise ApiError(401, INVALID_REFRESH) from None
    revoke_family(d, claims.family)
    canonical = normalise_user_id(claims.user_id)
    if canonical is not None:
        d.users.bump_token_version(canonical)
    return claims.user_id


def check_roles_exist(d: Deps, roles: list[str]) -> None:
    known = {doc["name"] for doc in d.role_store.roles(roles)}
    missing = [r for r in roles if r not in known]
    if missing:
        # Well formed, but not (or no longer) a role here: a conflict with the current state.
        raise ApiError(409, f"roles: unknown role {missing[0]!r}", field="roles")


def user_document(
    username: str, email: str, hashed_password: str, roles: list[str], now: datetime
) -> dict[str, Any]:
    """A new, enabled account as `users` holds it."""
    return {
        "username": username,
        "email": email.strip().lower(),
        "password": hashed_password,
        "roles": sorted(set(roles)),
        "created_at": now,
        "disabled": False,
        "token_version": 0,
    }


def create_user(
    d: Deps, *, username: str, email: str, password: str, roles: list[str], now: datetime
) -> dict[str, Any]:
    check_roles_exist(d, roles)
    doc = user_document(username, email, d.passwords.hash(password), roles, now)
    if not d.users.insert_user(doc):
        raise ApiError(409, "a user with this username or email already exists")
    return doc


def ensure_first_admin(d: Deps, now: datetime) -> bool:
    """Create the admin from MSM_API_ADMIN_EMAIL / MSM_API_ADMIN_PASSWORD when there is no user
    yet."""
    if d.users.any_user():
        return False
    s = d.settings
    email = s.admin_email
    password = s.admin_password.get_secret_value() if s.admin_password else None
    generated = False
    if email is None or password is None:
        if s.is_production:
            raise SettingsError(
                "no user exists: set MSM_API_ADMIN_EMAIL and MSM_API_ADMIN_PASSWORD"
            )
        if s.env != "local":
            log.warning(
                "no user exists and MSM_API_ADMIN_EMAIL / MSM_API_ADMIN_PASSWORD are not set"
            )
            return False
        email, password, generated = email or "admin@localhost", secrets.token_urlsafe(18), True
    try:
        create_user(
            d, username=s.admin_username, email=email, password=password, roles=["admin"], now=now
        )
    except ApiError as exc:  # another worker created it first
        if exc.status != 409:
            raise
        return False
    if generated:  # the local stack only: keep the password where the developer finds it
        path = s.secrets_dir / "admin-password"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(password + "\n")
        log.warning("created admin %s; its password is in %s", email, path)
    log.info("created the first admin %s", s.admin_username)
    return True
